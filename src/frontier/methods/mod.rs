//! The methods compared on the frontier, each a small module with one job.

pub mod baselines;
pub mod dpo;
pub mod optimal;
pub mod ppo;
pub mod reward_model;
pub mod rlhf_exact;

use std::fmt;

/// A method of the comparison (the CSV's `method` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// $\pi_{r^\*,\beta}$ (Eq. 4, exact).
    Optimal,
    /// DPO on the data set.
    Dpo,
    /// Exact policy gradient on the learnt reward $r_\phi$.
    RlhfExact,
    /// PPO on the learnt reward $r_\phi$.
    Ppo,
    /// PPO on the true reward $r^\*$.
    PpoGt,
    /// Maximum likelihood on the chosen responses.
    PreferredFt,
    /// Preferred-FT plus an unlikelihood term on the rejected responses.
    Unlikelihood,
    /// Best-of-$N$ from $\pi_{\text{ref}}$ against $r_\phi$.
    BestOfN,
}

impl Method {
    /// Every method, in the order of the report.
    pub const ALL: [Method; 8] = [
        Method::Optimal,
        Method::Dpo,
        Method::RlhfExact,
        Method::Ppo,
        Method::PpoGt,
        Method::PreferredFt,
        Method::Unlikelihood,
        Method::BestOfN,
    ];

    /// The name in the CSV and the plot.
    pub fn name(self) -> &'static str {
        match self {
            Method::Optimal => "optimal",
            Method::Dpo => "dpo",
            Method::RlhfExact => "rlhf-exact",
            Method::Ppo => "ppo",
            Method::PpoGt => "ppo-gt",
            Method::PreferredFt => "preferred-ft",
            Method::Unlikelihood => "unlikelihood",
            Method::BestOfN => "best-of-n",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
