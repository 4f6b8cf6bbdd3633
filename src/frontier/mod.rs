//! RLHF against DPO, end to end, on exact toy problems: the reward–KL frontier of the paper's
//! Figure 2 with every point evaluated exactly.
//!
//! A seeded controlled-sentiment problem ([`problem`]) whose responses (token sequences of a
//! bigram policy, $10^3$–$10^4$ per prompt) are all enumerated; one preference data set
//! ([`data`]) sampled from $\pi_{\text{ref}}$ and labelled by Bradley–Terry under $r^\*$; the
//! methods ([`methods`]): the optimal frontier $\pi_{r^\*,\beta}$, DPO, a reward model with
//! RLHF-exact, PPO and PPO-GT, Preferred-FT, Unlikelihood and Best-of-$N$; each yields points
//! $(\overline{\mathrm{KL}}(\pi\\|\pi_{\text{ref}}), \mathbb E_\pi[r^\*])$ averaged over prompts, exact
//! sums ([`evaluation`]). [`report`] writes the CSV, the SVG and the summary.
//!
//! ```no_run
//! use dpo_oracle::frontier::{self, FrontierOptions};
//! let report = frontier::run(&FrontierOptions::quick(7))?;
//! assert!(report.check_frontier() <= dpo_oracle::prec::FRONTIER_ROUNDING);
//! println!("{}", report.summary_text());
//! let svg = report.to_svg();
//! # Ok::<(), frontier::FrontierError>(())
//! ```

pub mod cli;
pub mod data;
pub mod evaluation;
pub mod experiment;
pub mod family;
pub mod methods;
pub mod optim;
pub mod options;
pub mod problem;
pub mod progress;
pub mod report;

use std::fmt;

pub use experiment::{run, run_with_progress};
pub use methods::Method;
pub use options::FrontierOptions;
pub use report::{FrontierReport, Point};

/// Why the experiment could not run or write its output.
#[derive(Debug, Clone, PartialEq)]
pub enum FrontierError {
    /// An option is out of range (NaN, zero, empty, …).
    InvalidOption {
        /// The option's name.
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The response set is too large to enumerate.
    TooLarge {
        /// Vocabulary size.
        vocab: usize,
        /// Length bound.
        max_len: usize,
        /// $\sum_{k\le L}V^k$ (`None`: it overflows).
        responses: Option<usize>,
        /// The limit.
        limit: usize,
    },
    /// The reference policy could not be built.
    Policy(crate::policy::PolicyError),
    /// The problem (reference, reward, β) is invalid.
    Problem(crate::problem::ProblemError),
    /// The output folder cannot take the files.
    Output(report::output::OutputError),
}

impl fmt::Display for FrontierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidOption {
                name,
                value,
                expected,
            } => write!(f, "option {name} = {value}: expected {expected}"),
            Self::TooLarge {
                vocab,
                max_len,
                responses,
                limit,
            } => match responses {
                Some(n) => write!(
                    f,
                    "vocab {vocab} and max_len {max_len} give {n} responses per prompt, over the enumeration limit of {limit}"
                ),
                None => write!(
                    f,
                    "vocab {vocab} and max_len {max_len} give more responses per prompt than fit in a usize, over the enumeration limit of {limit}"
                ),
            },
            Self::Policy(e) => write!(f, "reference policy: {e}"),
            Self::Problem(e) => write!(f, "problem: {e}"),
            Self::Output(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrontierError {}
