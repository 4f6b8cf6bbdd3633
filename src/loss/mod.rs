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
pub mod squared;

use std::fmt;

pub use error::LossError;

use crate::scalar::Real;

/// The default $\tau$ of DiscoPOP's modulation $\sigma(z/\tau)$.
pub const DEFAULT_DISCOPOP_TAU: f64 = 0.05;

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
type AllowedRange = (&'static str, fn(f64) -> bool);

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
    fn label_smoothing_range(self) -> Option<AllowedRange> {
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

/// A loss and its parameters. Build with [`LossSpec::new`] and the `with_…` methods; check with
/// [`LossSpec::validate`] (every entry point validates).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossSpec {
    loss_type: LossType,
    beta: f64,
    label_smoothing: f64,
    tau: f64,
    reference_free: bool,
    bco_delta: Option<f64>,
    propagate_non_finite: bool,
}

impl LossSpec {
    /// A loss of the given type with temperature $\beta$; $\varepsilon = 0$,
    /// $\tau = 0.05$ ([`DEFAULT_DISCOPOP_TAU`]), with a reference model, no BCO shift, and
    /// non-finite inputs rejected.
    pub fn new(loss_type: LossType, beta: f64) -> LossSpec {
        LossSpec {
            loss_type,
            beta,
            label_smoothing: 0.0,
            tau: DEFAULT_DISCOPOP_TAU,
            reference_free: false,
            bco_delta: None,
            propagate_non_finite: false,
        }
    }

    /// The same specification with another $\beta$.
    pub fn with_beta(self, beta: f64) -> LossSpec {
        LossSpec { beta, ..self }
    }

    /// Label smoothing $\varepsilon$ (cDPO, robust, exo_pair, aot).
    pub fn with_label_smoothing(self, eps: f64) -> LossSpec {
        LossSpec {
            label_smoothing: eps,
            ..self
        }
    }

    /// Reference-free: the reference log-probabilities are taken as $0$ in the loss (they still
    /// define the reported rewards, as in the authors' code).
    pub fn with_reference_free(self, on: bool) -> LossSpec {
        LossSpec {
            reference_free: on,
            ..self
        }
    }

    /// DiscoPOP's temperature $\tau > 0$.
    pub fn with_tau(self, tau: f64) -> LossSpec {
        LossSpec { tau, ..self }
    }

    /// BCO's running-mean shift $\delta$ (a constant: no gradient flows into it).
    pub fn with_bco_delta(self, delta: f64) -> LossSpec {
        LossSpec {
            bco_delta: Some(delta),
            ..self
        }
    }

    /// Let NaN and infinite log-probabilities through (IEEE propagation) instead of rejecting
    /// them with [`LossError::NonFinite`].
    pub fn with_propagate_non_finite(self, on: bool) -> LossSpec {
        LossSpec {
            propagate_non_finite: on,
            ..self
        }
    }

    /// The loss family.
    pub fn loss_type(&self) -> LossType {
        self.loss_type
    }
    /// $\beta$.
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// $\varepsilon$.
    pub fn label_smoothing(&self) -> f64 {
        self.label_smoothing
    }
    /// DiscoPOP's $\tau$.
    pub fn tau(&self) -> f64 {
        self.tau
    }
    /// Whether the reference is taken as $0$ in the loss.
    pub fn reference_free(&self) -> bool {
        self.reference_free
    }
    /// BCO's shift $\delta$, if set.
    pub fn bco_delta(&self) -> Option<f64> {
        self.bco_delta
    }
    /// Whether non-finite inputs propagate instead of being rejected.
    pub fn propagate_non_finite(&self) -> bool {
        self.propagate_non_finite
    }

    /// Checks every parameter against its allowed range: $\beta$ finite and $> 0$; $\varepsilon$ in
    /// $[0, 1]$ (sigmoid, cDPO, aot), $[0, \frac12)$ (robust), $(0, 1)$ (exo_pair), and exactly $0$
    /// for losses that do not use it; $\tau$ finite and $> 0$; $\delta$ finite and only for
    /// bco_pair.
    pub fn validate(&self) -> Result<(), LossError> {
        let invalid = |name, value, allowed| {
            Err(LossError::InvalidParameter {
                name,
                value,
                allowed,
            })
        };
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return invalid("beta", self.beta, "finite and > 0");
        }
        let eps = self.label_smoothing;
        match self.loss_type.label_smoothing_range() {
            Some((allowed, ok)) if !ok(eps) => return invalid("label_smoothing", eps, allowed),
            None if eps != 0.0 => {
                return invalid(
                    "label_smoothing",
                    eps,
                    "0 (this loss does not use label smoothing)",
                )
            }
            _ => {}
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return invalid("tau", self.tau, "finite and > 0");
        }
        if let Some(delta) = self.bco_delta {
            if self.loss_type != LossType::BcoPair {
                return invalid("bco_delta", delta, "unset (only bco_pair uses it)");
            }
            if !delta.is_finite() {
                return invalid("bco_delta", delta, "finite");
            }
        }
        Ok(())
    }
}

/// Per-response token counts (scored tokens), for token-averaged log-ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenCounts<'a> {
    /// Scored tokens of each chosen response.
    pub chosen: &'a [usize],
    /// Scored tokens of each rejected response.
    pub rejected: &'a [usize],
}

/// A batch of pairs: summed log-probabilities of each response under the policy and the
/// reference, and optionally the scored-token counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairLogps<'a> {
    /// $\log\pi_\theta(y_w|x)$ per pair.
    pub policy_chosen: &'a [f64],
    /// $\log\pi_\theta(y_l|x)$ per pair.
    pub policy_rejected: &'a [f64],
    /// $\log\pi_{\text{ref}}(y_w|x)$ per pair.
    pub reference_chosen: &'a [f64],
    /// $\log\pi_{\text{ref}}(y_l|x)$ per pair.
    pub reference_rejected: &'a [f64],
    /// Scored-token counts, if given.
    pub token_counts: Option<TokenCounts<'a>>,
}

impl<'a> PairLogps<'a> {
    /// The four arrays of a batch (same length, one entry per pair).
    pub fn new(
        policy_chosen: &'a [f64],
        policy_rejected: &'a [f64],
        reference_chosen: &'a [f64],
        reference_rejected: &'a [f64],
    ) -> PairLogps<'a> {
        PairLogps {
            policy_chosen,
            policy_rejected,
            reference_chosen,
            reference_rejected,
            token_counts: None,
        }
    }

    /// Adds the scored-token counts of each chosen and rejected response.
    pub fn with_token_counts(self, chosen: &'a [usize], rejected: &'a [usize]) -> PairLogps<'a> {
        PairLogps {
            token_counts: Some(TokenCounts { chosen, rejected }),
            ..self
        }
    }

    /// The number of pairs (the length of `policy_chosen`).
    pub fn len(&self) -> usize {
        self.policy_chosen.len()
    }

    /// Whether the batch has no pairs.
    pub fn is_empty(&self) -> bool {
        self.policy_chosen.is_empty()
    }

    /// The four arrays with their names, in the order of [`PairLogps::new`].
    pub fn fields(&self) -> [(&'static str, &'a [f64]); 4] {
        [
            ("policy_chosen", self.policy_chosen),
            ("policy_rejected", self.policy_rejected),
            ("reference_chosen", self.reference_chosen),
            ("reference_rejected", self.reference_rejected),
        ]
    }

    /// Checks the lengths (the four arrays and the token counts agree), that the batch is not
    /// empty, and (unless `propagate`) that every log-probability is finite.
    pub fn check(&self, propagate: bool) -> Result<(), LossError> {
        let expected = self.len();
        let mut lengths: Vec<(&'static str, usize)> =
            self.fields().iter().map(|(n, a)| (*n, a.len())).collect();
        if let Some(tc) = self.token_counts {
            lengths.push(("token_counts.chosen", tc.chosen.len()));
            lengths.push(("token_counts.rejected", tc.rejected.len()));
        }
        if let Some(&(field, len)) = lengths.iter().find(|(_, len)| *len != expected) {
            return Err(LossError::LengthMismatch {
                field,
                len,
                expected,
            });
        }
        if expected == 0 {
            return Err(LossError::EmptyBatch);
        }
        if !propagate {
            first_non_finite(&self.fields())?;
        }
        Ok(())
    }
}

/// [`LossError::NonFinite`] for the first NaN or infinite entry, scanning pair by pair (all
/// arrays of pair 0, then of pair 1, …); the arrays have equal lengths.
pub(crate) fn first_non_finite(fields: &[(&'static str, &[f64])]) -> Result<(), LossError> {
    let n = fields.first().map_or(0, |(_, a)| a.len());
    for pair in 0..n {
        for &(field, values) in fields {
            if !values[pair].is_finite() {
                return Err(LossError::NonFinite { pair, field });
            }
        }
    }
    Ok(())
}

/// Per-pair losses, rewards, the batch loss and its closed-form gradient.
///
/// The per-pair values are of type `T`: `f64` on the CPU, and the kernel's precision (`f32` or
/// `f64`) from the GPU path; the batch mean is always summed and reported in `f64`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LossOutput<T = f64> {
    /// The loss of each pair (for aot and aot_unpaired: of each rank of the sorted batch).
    pub losses: Vec<T>,
    /// $\beta(\log\pi_\theta(y_w|x) - \log\pi_{\text{ref}}(y_w|x))$ per pair.
    pub chosen_rewards: Vec<T>,
    /// $\beta(\log\pi_\theta(y_l|x) - \log\pi_{\text{ref}}(y_l|x))$ per pair.
    pub rejected_rewards: Vec<T>,
    /// The batch mean of `losses`.
    pub loss: f64,
    /// $\partial\,\text{loss}/\partial\,\text{policy\_chosen}_i$ (closed form).
    pub grad_policy_chosen: Vec<T>,
    /// $\partial\,\text{loss}/\partial\,\text{policy\_rejected}_i$.
    pub grad_policy_rejected: Vec<T>,
    /// $\partial\,\text{loss}/\partial\,\text{reference\_chosen}_i$.
    pub grad_reference_chosen: Vec<T>,
    /// $\partial\,\text{loss}/\partial\,\text{reference\_rejected}_i$.
    pub grad_reference_rejected: Vec<T>,
}

/// What a zero token count does to a token-averaged log-ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZeroCount {
    /// Reject it ([`LossError::ZeroTokenCount`]).
    Reject,
    /// Divide by $\max(n, 1)$ (TRL).
    ClampToOne,
}

/// A validated loss on a batch of a given size: the specification plus the factor each
/// log-ratio is multiplied by ($1$ for summed log-ratios, $1/n$ for token means).
///
/// [`PreparedLoss::losses`] is the per-pair formula generic over [`Real`] (evaluated with `f64`
/// by [`compute`], and on the tape by the tests); [`PreparedLoss::mean_gradient`] is its
/// closed-form gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedLoss {
    spec: LossSpec,
    chosen_scale: Vec<f64>,
    rejected_scale: Vec<f64>,
}

impl PreparedLoss {
    /// Validates `spec` and `batch` and fixes the log-ratio scales: token means for
    /// `sigmoid_norm` always and for `ipo` when `ipo_token_mean`.
    pub(crate) fn new(
        spec: &LossSpec,
        batch: &PairLogps,
        ipo_token_mean: bool,
        zero_count: ZeroCount,
    ) -> Result<PreparedLoss, LossError> {
        spec.validate()?;
        batch.check(spec.propagate_non_finite)?;
        let n = batch.len();
        let token_mean = match spec.loss_type {
            LossType::SigmoidNorm => true,
            LossType::Ipo => ipo_token_mean,
            _ => false,
        };
        let (chosen_scale, rejected_scale) = if token_mean {
            let tc = batch.token_counts.ok_or(LossError::MissingTokenCounts {
                needed_by: if spec.loss_type == LossType::Ipo {
                    "ipo on token-averaged log-ratios"
                } else {
                    "sigmoid_norm"
                },
            })?;
            let scale = |counts: &[usize], field| -> Result<Vec<f64>, LossError> {
                counts
                    .iter()
                    .enumerate()
                    .map(|(pair, &c)| match (c, zero_count) {
                        (0, ZeroCount::Reject) => Err(LossError::ZeroTokenCount { pair, field }),
                        (c, _) => Ok(1.0 / c.max(1) as f64),
                    })
                    .collect()
            };
            (scale(tc.chosen, "chosen")?, scale(tc.rejected, "rejected")?)
        } else {
            (vec![1.0; n], vec![1.0; n])
        };
        Ok(PreparedLoss {
            spec: *spec,
            chosen_scale,
            rejected_scale,
        })
    }

    /// The specification.
    pub fn spec(&self) -> &LossSpec {
        &self.spec
    }

    /// The factor multiplying each pair's chosen and rejected log-ratio.
    pub fn scales(&self) -> (&[f64], &[f64]) {
        (&self.chosen_scale, &self.rejected_scale)
    }

    /// The log-ratio of one response: $(\log\pi_\theta - \log\pi_{\text{ref}})\cdot s$, or
    /// $\log\pi_\theta \cdot s$ when reference-free.
    fn log_ratio<R: Real>(&self, policy: R, reference: R, scale: f64) -> R {
        if self.spec.reference_free {
            policy * scale
        } else {
            (policy - reference) * scale
        }
    }

    /// The per-pair (per-rank for aot) losses from the four arrays, written once for every
    /// [`Real`].
    ///
    /// # Panics
    /// If an array is shorter than the prepared batch (a programming error; [`compute`] and
    /// [`PreparedLoss::evaluate`] check lengths and return an error instead).
    pub fn losses<R: Real>(&self, pc: &[R], pr: &[R], rc: &[R], rr: &[R]) -> Vec<R> {
        let s = &self.spec;
        let (beta, eps) = (s.beta, s.label_smoothing);
        let lw: Vec<R> = (0..pc.len())
            .map(|i| self.log_ratio(pc[i], rc[i], self.chosen_scale[i]))
            .collect();
        let ll: Vec<R> = (0..pr.len())
            .map(|i| self.log_ratio(pr[i], rr[i], self.rejected_scale[i]))
            .collect();
        match s.loss_type {
            LossType::Aot => {
                let policy: Vec<R> = pc.iter().zip(pr).map(|(&w, &l)| w - l).collect();
                let reference: Vec<R> = if s.reference_free {
                    pc.iter().map(|x| x.constant(0.0)).collect()
                } else {
                    rc.iter().zip(rr).map(|(&w, &l)| w - l).collect()
                };
                aot::aot_losses(beta, eps, &policy, &reference)
            }
            LossType::AotUnpaired => aot::aot_losses(beta, eps, &lw, &ll),
            _ => lw
                .iter()
                .zip(&ll)
                .map(|(&w, &l)| pair_loss(s, w, l))
                .collect(),
        }
    }

    /// The closed-form gradient of the batch mean of [`PreparedLoss::losses`] with respect to
    /// `[policy_chosen, policy_rejected, reference_chosen, reference_rejected]`.
    ///
    /// # Panics
    /// As [`PreparedLoss::losses`], if an array is shorter than the prepared batch.
    pub fn mean_gradient(&self, pc: &[f64], pr: &[f64], rc: &[f64], rr: &[f64]) -> [Vec<f64>; 4] {
        let s = &self.spec;
        let n = pc.len();
        let (beta, eps) = (s.beta, s.label_smoothing);
        let keep_reference = if s.reference_free { 0.0 } else { 1.0 };
        let neg = |g: &[f64], k: f64| g.iter().map(|x| -x * k).collect::<Vec<f64>>();
        match s.loss_type {
            LossType::Aot => {
                let policy: Vec<f64> = (0..n).map(|i| pc[i] - pr[i]).collect();
                let reference: Vec<f64> =
                    (0..n).map(|i| keep_reference * (rc[i] - rr[i])).collect();
                let (ga, gb) = aot::aot_grad(beta, eps, &policy, &reference);
                let gb_kept: Vec<f64> = gb.iter().map(|g| g * keep_reference).collect();
                let gpr = neg(&ga, 1.0);
                let grr = neg(&gb, keep_reference);
                [ga, gpr, gb_kept, grr]
            }
            LossType::AotUnpaired => {
                let lw: Vec<f64> = (0..n).map(|i| self.log_ratio(pc[i], rc[i], 1.0)).collect();
                let ll: Vec<f64> = (0..n).map(|i| self.log_ratio(pr[i], rr[i], 1.0)).collect();
                let (gw, gl) = aot::aot_grad(beta, eps, &lw, &ll);
                let grc = neg(&gw, keep_reference);
                let grr = neg(&gl, keep_reference);
                [gw, gl, grc, grr]
            }
            _ => {
                let mut out = [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
                for i in 0..n {
                    let (sw, sl) = (self.chosen_scale[i], self.rejected_scale[i]);
                    let lw = self.log_ratio(pc[i], rc[i], sw);
                    let ll = self.log_ratio(pr[i], rr[i], sl);
                    let [gw, gl] = pair_gradient(s, lw, ll);
                    out[0][i] = gw * sw / n as f64;
                    out[1][i] = gl * sl / n as f64;
                    out[2][i] = -keep_reference * out[0][i];
                    out[3][i] = -keep_reference * out[1][i];
                }
                out
            }
        }
    }

    /// Evaluates the losses, the rewards and the closed-form gradient on `batch`, the batch this
    /// loss was prepared for (or one of the same length: [`LossError::LengthMismatch`]
    /// otherwise; its lengths and finiteness are checked again).
    pub fn evaluate(&self, batch: &PairLogps) -> Result<LossOutput, LossError> {
        batch.check(self.spec.propagate_non_finite)?;
        if batch.len() != self.chosen_scale.len() {
            return Err(LossError::LengthMismatch {
                field: "policy_chosen (against the prepared batch)",
                len: batch.len(),
                expected: self.chosen_scale.len(),
            });
        }
        let (pc, pr, rc, rr) = (
            batch.policy_chosen,
            batch.policy_rejected,
            batch.reference_chosen,
            batch.reference_rejected,
        );
        let losses = self.losses(pc, pr, rc, rr);
        let loss = losses.iter().sum::<f64>() / losses.len() as f64;
        let reward = |p: &[f64], r: &[f64]| -> Vec<f64> {
            p.iter()
                .zip(r)
                .map(|(p, r)| self.spec.beta * (p - r))
                .collect()
        };
        let [grad_policy_chosen, grad_policy_rejected, grad_reference_chosen, grad_reference_rejected] =
            self.mean_gradient(pc, pr, rc, rr);
        Ok(LossOutput {
            losses,
            chosen_rewards: reward(pc, rc),
            rejected_rewards: reward(pr, rr),
            loss,
            grad_policy_chosen,
            grad_policy_rejected,
            grad_reference_chosen,
            grad_reference_rejected,
        })
    }
}

/// The loss of one pair from its two log-ratios, for every loss that is a sum of per-pair terms
/// (the batch-coupled aot losses are computed in [`aot`] and never reach here).
fn pair_loss<R: Real>(s: &LossSpec, lw: R, ll: R) -> R {
    let (beta, eps) = (s.beta, s.label_smoothing);
    let z = (lw - ll) * beta;
    match s.loss_type {
        LossType::Robust => logistic::robust(z, eps),
        LossType::Ipo => squared::ipo(beta, lw, ll),
        LossType::Hinge => hinge::hinge(z),
        LossType::ExoPair => exo::exo_pair(z, eps),
        LossType::NcaPair => anchored::nca_pair(beta, lw, ll),
        LossType::BcoPair => anchored::bco_pair(beta, s.bco_delta.unwrap_or(0.0), lw, ll),
        LossType::SppoHard => squared::sppo_hard(beta, lw, ll),
        LossType::ApoZero => anchored::apo_zero(beta, lw, ll),
        LossType::ApoDown => anchored::apo_down(beta, lw, ll),
        LossType::Discopop => discopop::discopop(z, s.tau),
        // Sigmoid, cDPO and sigmoid_norm share the logistic formula (the aot losses apply it
        // to sorted differences in `aot`).
        LossType::Sigmoid
        | LossType::Cdpo
        | LossType::SigmoidNorm
        | LossType::Aot
        | LossType::AotUnpaired => logistic::cdpo(z, eps),
    }
}

/// The closed-form gradient of [`pair_loss`] with respect to $(\ell_w, \ell_l)$. For the losses of
/// the margin $z = \beta(\ell_w - \ell_l)$ it is $\beta\,\ell'(z)\,(1, -1)$.
fn pair_gradient(s: &LossSpec, lw: f64, ll: f64) -> [f64; 2] {
    let (beta, eps) = (s.beta, s.label_smoothing);
    let z = (lw - ll) * beta;
    let of_margin = |dz: f64| [beta * dz, -beta * dz];
    match s.loss_type {
        LossType::Robust => of_margin(logistic::robust_dz(z, eps)),
        LossType::Ipo => squared::ipo_grad(beta, lw, ll),
        LossType::Hinge => of_margin(hinge::hinge_dz(z)),
        LossType::ExoPair => of_margin(exo::exo_pair_dz(z, eps)),
        LossType::NcaPair => anchored::nca_pair_grad(beta, lw, ll),
        LossType::BcoPair => anchored::bco_pair_grad(beta, s.bco_delta.unwrap_or(0.0), lw, ll),
        LossType::SppoHard => squared::sppo_hard_grad(beta, lw, ll),
        LossType::ApoZero => anchored::apo_zero_grad(beta, lw, ll),
        LossType::ApoDown => anchored::apo_down_grad(beta, lw, ll),
        LossType::Discopop => of_margin(discopop::discopop_dz(z, s.tau)),
        LossType::Sigmoid
        | LossType::Cdpo
        | LossType::SigmoidNorm
        | LossType::Aot
        | LossType::AotUnpaired => of_margin(logistic::cdpo_dz(z, eps)),
    }
}

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
