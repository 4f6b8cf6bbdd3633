//! [`PreparedLoss`]: a validated loss on a batch, its per-pair formula generic over [`Real`]
//! and its closed-form gradient.

use super::scaled::{mean, scaled_difference};
use super::{
    anchored, aot, discopop, exo, hinge, logistic, squared, LossError, LossOutput, LossSpec,
    LossType, PairLogps,
};
use crate::metrics::Metrics;
use crate::scalar::Real;

/// What a zero token count does to a token-averaged log-ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZeroCount {
    /// Reject it ([`LossError::ZeroTokenCount`]).
    Reject,
    /// Divide by $\max(n, 1)$ (TRL).
    ClampToOne,
}

/// What a convention reports as the rewards $\beta(\log\pi_\theta - \log\pi_{ref})$ (and the
/// `logps/*` metrics $\log\pi_\theta$).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RewardRule {
    /// Both log-probabilities divided by the token count before they are reported (TRL ≤ 0.28's
    /// IPO): $\beta(\log\pi_\theta/n - \log\pi_{ref}/n)$ and $\log\pi_\theta/n$.
    pub token_mean: bool,
    /// No reference in the rewards: $\beta\log\pi_\theta$ (Liger without a reference model).
    pub policy_only: bool,
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
    rewards: RewardRule,
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
            rewards: RewardRule::default(),
        })
    }

    /// The same loss reporting its rewards by `rule` (the default reports
    /// $\beta(\log\pi_\theta - \log\pi_{ref})$ on the summed log-probabilities).
    pub fn with_reward_rule(self, rule: RewardRule) -> PreparedLoss {
        PreparedLoss {
            rewards: rule,
            ..self
        }
    }

    /// The reported log-probabilities of one side: $\log\pi_\theta\cdot s$ and
    /// $\log\pi_{ref}\cdot s$ with $s$ the token scale under [`RewardRule::token_mean`], else
    /// $1$; the reference is $0$ under [`RewardRule::policy_only`].
    fn reported(&self, policy: &[f64], reference: &[f64], scale: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let s = |i: usize| {
            if self.rewards.token_mean {
                scale[i]
            } else {
                1.0
            }
        };
        let keep = if self.rewards.policy_only { 0.0 } else { 1.0 };
        (0..policy.len())
            .map(|i| (policy[i] * s(i), keep * reference[i] * s(i)))
            .unzip()
    }

    /// The rewards of one side: $\beta(p - r)$ on the reported log-probabilities.
    fn side_rewards(&self, policy: &[f64], reference: &[f64], scale: &[f64]) -> Vec<f64> {
        let (p, r) = self.reported(policy, reference, scale);
        p.iter()
            .zip(&r)
            .map(|(&p, &r)| scaled_difference(self.spec.beta, p, r))
            .collect()
    }

    /// The batch metrics as this loss's convention reports them (rewards by its
    /// [`RewardRule`], `logps/*` on the reported policy log-probabilities).
    pub fn metrics(&self, batch: &PairLogps) -> Result<Metrics, LossError> {
        batch.check(self.spec.propagate_non_finite)?;
        self.check_len(batch)?;
        let (cs, rs) = (&self.chosen_scale, &self.rejected_scale);
        let (pc, _) = self.reported(batch.policy_chosen, batch.reference_chosen, cs);
        let (pr, _) = self.reported(batch.policy_rejected, batch.reference_rejected, rs);
        let rw = self.side_rewards(batch.policy_chosen, batch.reference_chosen, cs);
        let rl = self.side_rewards(batch.policy_rejected, batch.reference_rejected, rs);
        Ok(Metrics::from_rewards(&rw, &rl, &pc, &pr))
    }

    fn check_len(&self, batch: &PairLogps) -> Result<(), LossError> {
        if batch.len() != self.chosen_scale.len() {
            return Err(LossError::LengthMismatch {
                field: "policy_chosen (against the prepared batch)",
                len: batch.len(),
                expected: self.chosen_scale.len(),
            });
        }
        Ok(())
    }

    /// The specification.
    pub fn spec(&self) -> &LossSpec {
        &self.spec
    }

    /// The factor multiplying each pair's chosen and rejected log-ratio.
    pub fn scales(&self) -> (&[f64], &[f64]) {
        (&self.chosen_scale, &self.rejected_scale)
    }

    /// The log-ratio of one response: $(\log\pi_\theta - \log\pi_{\text{ref}})\cdot s$ (the
    /// difference taken first, overflow-safe: [`scaled_difference`]), or
    /// $\log\pi_\theta \cdot s$ when reference-free.
    fn log_ratio<R: Real>(&self, policy: R, reference: R, scale: f64) -> R {
        if self.spec.reference_free {
            policy * scale
        } else {
            scaled_difference(scale, policy, reference)
        }
    }

    /// [`LossError::LengthMismatch`] unless each of the four arrays has one entry per pair of
    /// the prepared batch.
    fn check_lengths(&self, lengths: [usize; 4]) -> Result<(), LossError> {
        let expected = self.chosen_scale.len();
        let names = [
            "policy_chosen",
            "policy_rejected",
            "reference_chosen",
            "reference_rejected",
        ];
        match names.iter().zip(lengths).find(|(_, len)| *len != expected) {
            Some((&field, len)) => Err(LossError::LengthMismatch {
                field,
                len,
                expected,
            }),
            None => Ok(()),
        }
    }

    /// The per-pair (per-rank for aot) losses from the four arrays, written once for every
    /// [`Real`]. Values are not checked here (IEEE propagation; [`PreparedLoss::evaluate`]
    /// checks them and every result).
    ///
    /// # Errors
    /// [`LossError::LengthMismatch`] unless every array has one entry per pair of the prepared
    /// batch.
    pub fn losses<R: Real>(
        &self,
        pc: &[R],
        pr: &[R],
        rc: &[R],
        rr: &[R],
    ) -> Result<Vec<R>, LossError> {
        self.check_lengths([pc.len(), pr.len(), rc.len(), rr.len()])?;
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
                let policy: Vec<R> = pc
                    .iter()
                    .zip(pr)
                    .map(|(&w, &l)| scaled_difference(1.0, w, l))
                    .collect();
                let reference: Vec<R> = if s.reference_free {
                    pc.iter().map(|x| x.constant(0.0)).collect()
                } else {
                    rc.iter()
                        .zip(rr)
                        .map(|(&w, &l)| scaled_difference(1.0, w, l))
                        .collect()
                };
                Ok(aot::aot_losses(beta, eps, &policy, &reference))
            }
            LossType::AotUnpaired => Ok(aot::aot_losses(beta, eps, &lw, &ll)),
            _ => Ok(lw
                .iter()
                .zip(&ll)
                .map(|(&w, &l)| pair_loss(s, w, l))
                .collect()),
        }
    }

    /// The closed-form gradient of the batch mean of [`PreparedLoss::losses`] with respect to
    /// `[policy_chosen, policy_rejected, reference_chosen, reference_rejected]`.
    ///
    /// # Errors
    /// As [`PreparedLoss::losses`]: [`LossError::LengthMismatch`] unless every array has one
    /// entry per pair of the prepared batch.
    pub fn mean_gradient(
        &self,
        pc: &[f64],
        pr: &[f64],
        rc: &[f64],
        rr: &[f64],
    ) -> Result<[Vec<f64>; 4], LossError> {
        self.check_lengths([pc.len(), pr.len(), rc.len(), rr.len()])?;
        let s = &self.spec;
        let n = pc.len();
        let (beta, eps) = (s.beta, s.label_smoothing);
        let keep_reference = if s.reference_free { 0.0 } else { 1.0 };
        let neg = |g: &[f64], k: f64| g.iter().map(|x| -x * k).collect::<Vec<f64>>();
        match s.loss_type {
            LossType::Aot => {
                let policy: Vec<f64> = (0..n)
                    .map(|i| scaled_difference(1.0, pc[i], pr[i]))
                    .collect();
                let reference: Vec<f64> = (0..n)
                    .map(|i| scaled_difference(keep_reference, rc[i], rr[i]))
                    .collect();
                let (ga, gb) = aot::aot_grad(beta, eps, &policy, &reference);
                let gb_kept: Vec<f64> = gb.iter().map(|g| g * keep_reference).collect();
                let gpr = neg(&ga, 1.0);
                let grr = neg(&gb, keep_reference);
                Ok([ga, gpr, gb_kept, grr])
            }
            LossType::AotUnpaired => {
                let lw: Vec<f64> = (0..n).map(|i| self.log_ratio(pc[i], rc[i], 1.0)).collect();
                let ll: Vec<f64> = (0..n).map(|i| self.log_ratio(pr[i], rr[i], 1.0)).collect();
                let (gw, gl) = aot::aot_grad(beta, eps, &lw, &ll);
                let grc = neg(&gw, keep_reference);
                let grr = neg(&gl, keep_reference);
                Ok([gw, gl, grc, grr])
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
                Ok(out)
            }
        }
    }

    /// Evaluates the losses, the rewards and the closed-form gradient on `batch`, the batch this
    /// loss was prepared for (or one of the same length: [`LossError::LengthMismatch`]
    /// otherwise; its lengths and finiteness are checked again).
    ///
    /// Every difference is taken before it is scaled and the mean is overflow-safe
    /// ([`super::scaled`]), so a result is finite whenever its exact value is representable; when
    /// it is not (a loss, reward or gradient beyond `f64::MAX` from finite inputs) the error is
    /// [`LossError::Overflow`] naming it, never an `Ok` holding $\pm\infty$ or NaN. With
    /// [`LossSpec::with_propagate_non_finite`] and a non-finite input, values propagate.
    pub fn evaluate(&self, batch: &PairLogps) -> Result<LossOutput, LossError> {
        batch.check(self.spec.propagate_non_finite)?;
        self.check_len(batch)?;
        let (pc, pr, rc, rr) = (
            batch.policy_chosen,
            batch.policy_rejected,
            batch.reference_chosen,
            batch.reference_rejected,
        );
        let losses = self.losses(pc, pr, rc, rr)?;
        let loss = mean(&losses);
        let [grad_policy_chosen, grad_policy_rejected, grad_reference_chosen, grad_reference_rejected] =
            self.mean_gradient(pc, pr, rc, rr)?;
        let out = LossOutput {
            losses,
            chosen_rewards: self.side_rewards(pc, rc, &self.chosen_scale),
            rejected_rewards: self.side_rewards(pr, rr, &self.rejected_scale),
            loss,
            grad_policy_chosen,
            grad_policy_rejected,
            grad_reference_chosen,
            grad_reference_rejected,
        };
        if batch
            .fields()
            .iter()
            .all(|(_, a)| a.iter().all(|x| x.is_finite()))
        {
            if let Err(LossError::Overflow { quantity, pair }) = first_overflow(&out) {
                return Err(LossError::Overflow {
                    quantity: self
                        .overflowed_intermediate(batch, pair)
                        .unwrap_or(quantity),
                    pair,
                });
            }
        }
        Ok(out)
    }

    /// The first intermediate of pair `pair` whose value overflows: its chosen or rejected
    /// log-ratio, or the margin $\beta(\ell_w - \ell_l)$; `None` for the batch-coupled aot losses
    /// (their index is a rank, not a pair) or when every intermediate is finite.
    fn overflowed_intermediate(&self, batch: &PairLogps, pair: usize) -> Option<&'static str> {
        if matches!(self.spec.loss_type, LossType::Aot | LossType::AotUnpaired) {
            return None;
        }
        let i = pair;
        let lw = self.log_ratio(
            batch.policy_chosen[i],
            batch.reference_chosen[i],
            self.chosen_scale[i],
        );
        let ll = self.log_ratio(
            batch.policy_rejected[i],
            batch.reference_rejected[i],
            self.rejected_scale[i],
        );
        if !lw.is_finite() {
            Some("chosen log-ratio")
        } else if !ll.is_finite() {
            Some("rejected log-ratio")
        } else if !scaled_difference(self.spec.beta, lw, ll).is_finite() {
            Some("margin beta*(chosen - rejected log-ratio)")
        } else {
            None
        }
    }
}

/// [`LossError::Overflow`] for the first non-finite value of `out` (losses, then rewards, then
/// gradients, pair by pair within each).
fn first_overflow(out: &LossOutput) -> Result<(), LossError> {
    let fields: [(&'static str, &[f64]); 7] = [
        ("losses", &out.losses),
        ("chosen_rewards", &out.chosen_rewards),
        ("rejected_rewards", &out.rejected_rewards),
        ("grad_policy_chosen", &out.grad_policy_chosen),
        ("grad_policy_rejected", &out.grad_policy_rejected),
        ("grad_reference_chosen", &out.grad_reference_chosen),
        ("grad_reference_rejected", &out.grad_reference_rejected),
    ];
    for (quantity, values) in fields {
        if let Some(pair) = values.iter().position(|v| !v.is_finite()) {
            return Err(LossError::Overflow { quantity, pair });
        }
    }
    Ok(())
}

/// The loss of one pair from its two log-ratios, for every loss that is a sum of per-pair terms
/// (the batch-coupled aot losses are computed in [`aot`] and never reach here).
fn pair_loss<R: Real>(s: &LossSpec, lw: R, ll: R) -> R {
    let (beta, eps) = (s.beta, s.label_smoothing);
    let z = scaled_difference(beta, lw, ll);
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
    let z = scaled_difference(beta, lw, ll);
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
