//! Every per-pair DPO loss that trainers implement, with its closed-form gradient.
//!
//! Notation: $\ell_w = \log\pi_\theta(y_w|x) - \log\pi_{\text{ref}}(y_w|x)$ and
//! $\ell_l = \log\pi_\theta(y_l|x) - \log\pi_{\text{ref}}(y_l|x)$ are the chosen and rejected
//! log-ratios, $h = \ell_w - \ell_l$, $z = \beta h$, $\varepsilon$ the label smoothing. Each
//! per-pair formula is written once, generic over [`Real`], in the module of its family
//! ([`logistic`], [`squared`], [`hinge`], [`exo`], [`anchored`], [`discopop`], [`aot`]), with its
//! closed-form derivative next to it. The batch loss is the mean over pairs.
//!
//! [`compute`] evaluates a [`LossSpec`] on a batch of [`PairLogps`] with the authors' (the
//! paper's code's) semantics: summed log-probabilities, label smoothing honoured. The other
//! implementations' choices are in [`crate::convention`]. [`PreparedLoss`] is the validated
//! formula itself, so that the same code can be evaluated on the reverse tape.
//!
//! ```
//! use dpo_oracle::convention::{compute_as, Convention};
//! use dpo_oracle::loss::{compute, LossSpec, LossType, PairLogps};
//!
//! // At π = π_ref every loss of h is at its starting value: the sigmoid loss is ln 2.
//! let (chosen, rejected) = ([-12.0, -30.5], [-14.0, -29.0]);
//! let batch = PairLogps::new(&chosen, &rejected, &chosen, &rejected);
//! let out = compute(&LossSpec::new(LossType::Sigmoid, 0.1), &batch).unwrap();
//! assert!((out.loss - std::f64::consts::LN_2).abs() < 1e-15);
//! // ∂L/∂π(y_w) = -β σ(-βh) / B = -0.1 · 0.5 / 2.
//! assert!((out.grad_policy_chosen[0] + 0.025).abs() < 1e-15);
//!
//! // TRL from 0.29 has no cDPO: an error naming the convention, never a silent substitute.
//! let cdpo = LossSpec::new(LossType::Cdpo, 0.1).with_label_smoothing(0.1);
//! assert!(compute_as(Convention::Trl029, &cdpo, &batch).is_err());
//! ```

pub mod anchored;
pub mod aot;
pub mod discopop;
mod error;
pub mod exo;
pub mod hinge;
pub mod logistic;
pub mod plackett_luce;
pub mod scaled;
pub mod squared;

mod batch;
mod loss_type;
mod output;
mod prepared;
mod spec;

pub(crate) use batch::first_non_finite;
pub use batch::{PairLogps, TokenCounts};
pub use error::LossError;
pub use loss_type::LossType;
pub use output::LossOutput;
pub(crate) use prepared::ZeroCount;
pub use prepared::{PreparedLoss, RewardRule};
pub use spec::LossSpec;

#[cfg(doc)]
use crate::scalar::Real;

/// The default $\tau$ of DiscoPOP's modulation $\sigma(z/\tau)$.
pub const DEFAULT_DISCOPOP_TAU: f64 = 0.05;

/// The loss with the authors' semantics (the paper's code): log-ratios of summed
/// log-probabilities (IPO included), label smoothing honoured by sigmoid/cDPO and robust.
/// Losses the authors' code lacks are computed from their §2 definitions with the same choices;
/// [`crate::convention::compute_as`] restricts to what one implementation has.
pub fn compute(spec: &LossSpec, batch: &PairLogps) -> Result<LossOutput, LossError> {
    prepare(spec, batch)?.evaluate(batch)
}

/// The validated formula [`compute`] evaluates (authors' semantics), for evaluation with any
/// [`Real`]; token-averaged log-ratios only for `sigmoid_norm`, where a zero count is
/// [`LossError::ZeroTokenCount`].
pub fn prepare(spec: &LossSpec, batch: &PairLogps) -> Result<PreparedLoss, LossError> {
    PreparedLoss::new(spec, batch, false, ZeroCount::Reject)
}
