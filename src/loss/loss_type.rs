//! The per-pair loss families, by TRL's `loss_type` names, and each one's allowed parameters.

use std::fmt;

/// The per-pair loss families (§2 of the conventions sheet). Names follow TRL's `loss_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// DPO, Eq. 7: $-\log\sigma(z)$ (with $\varepsilon > 0$, the same as [`LossType::Cdpo`]).
    Sigmoid,
    /// Conservative DPO: $-(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z)$.
    Cdpo,
    /// Robust DPO: $(-(1-\varepsilon)\log\sigma(z) + \varepsilon\log\sigma(-z))/(1-2\varepsilon)$.
    Robust,
    /// IPO: $(h - 1/(2\beta))^2$.
    Ipo,
    /// SLiC / RSO hinge: $\max(0, 1 - z)$.
    Hinge,
    /// EXO, pairwise: reverse KL to the smoothed labels.
    ExoPair,
    /// NCA, pairwise.
    NcaPair,
    /// BCO, pairwise (optionally shifted by a running mean $\delta$ of rewards).
    BcoPair,
    /// SPPO with hard labels.
    SppoHard,
    /// APO-zero.
    ApoZero,
    /// APO-down.
    ApoDown,
    /// DiscoPOP (log-ratio modulated loss), with temperature $\tau$.
    Discopop,
    /// AOT, paired: sorted policy and reference log-ratio differences.
    Aot,
    /// AOT, unpaired: sorted chosen and rejected log-ratios.
    AotUnpaired,
    /// Sigmoid on token-averaged log-ratios: $-\log\sigma(\beta(\ell_w/n_w - \ell_l/n_l))$.
    SigmoidNorm,
}

/// An allowed range: its description and its membership test.
pub(super) type AllowedRange = (&'static str, fn(f64) -> bool);

impl LossType {
    /// Every loss type, in the order of the conventions sheet.
    pub const ALL: [LossType; 15] = [
        Self::Sigmoid,
        Self::Cdpo,
        Self::Robust,
        Self::Ipo,
        Self::Hinge,
        Self::ExoPair,
        Self::NcaPair,
        Self::BcoPair,
        Self::SppoHard,
        Self::ApoZero,
        Self::ApoDown,
        Self::Discopop,
        Self::Aot,
        Self::AotUnpaired,
        Self::SigmoidNorm,
    ];

    /// TRL's name (`cdpo` for the label-smoothed sigmoid, which TRL spells `sigmoid`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Cdpo => "cdpo",
            Self::Robust => "robust",
            Self::Ipo => "ipo",
            Self::Hinge => "hinge",
            Self::ExoPair => "exo_pair",
            Self::NcaPair => "nca_pair",
            Self::BcoPair => "bco_pair",
            Self::SppoHard => "sppo_hard",
            Self::ApoZero => "apo_zero",
            Self::ApoDown => "apo_down",
            Self::Discopop => "discopop",
            Self::Aot => "aot",
            Self::AotUnpaired => "aot_unpaired",
            Self::SigmoidNorm => "sigmoid_norm",
        }
    }

    /// The range of label smoothing $\varepsilon$ this loss accepts, or `None` if it does not use
    /// $\varepsilon$ (then only $0$ is accepted: a smoothing that would be ignored is an error).
    pub(super) fn label_smoothing_range(self) -> Option<AllowedRange> {
        match self {
            Self::Sigmoid | Self::Cdpo | Self::Aot | Self::AotUnpaired => {
                Some(("[0, 1]", |e| (0.0..=1.0).contains(&e)))
            }
            Self::Robust => Some(("[0, 0.5)", |e| (0.0..0.5).contains(&e))),
            Self::ExoPair => Some(("(0, 1)", |e| e > 0.0 && e < 1.0)),
            _ => None,
        }
    }

    /// Whether the loss couples the pairs of a batch (sorting), so that it is not a sum of
    /// per-pair terms.
    pub fn is_batch_coupled(self) -> bool {
        matches!(self, Self::Aot | Self::AotUnpaired)
    }
}

impl fmt::Display for LossType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
