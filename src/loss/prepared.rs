//! [`PreparedLoss`]: a validated loss on a batch, its per-pair formula generic over [`Real`]
//! and its closed-form gradient.

use super::{
    anchored, aot, discopop, exo, hinge, logistic, squared, LossError, LossOutput, LossSpec,
    LossType, PairLogps,
};
use crate::scalar::Real;

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
/// by [`compute`](super::compute), and on the tape by the tests); [`PreparedLoss::mean_gradient`] is its
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
    /// If an array is shorter than the prepared batch (a programming error; [`compute`](super::compute) and
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
/// the margin $z = \beta(\ell_w - \ell_l)$ it is $\beta\\,\ell\'(z)\\,(1, -1)$.
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
