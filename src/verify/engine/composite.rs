//! Composite functions the engine is checked on, each written once over [`Real`]: a tabular
//! softmax policy's log-probability and the DPO loss of one pair (Eq. 7) and of a batch.

use super::function::{Domain, Function, Tolerance};
use super::ops::{log_softmax_gradient, logistic};
use crate::autodiff::AutodiffError;
use crate::numdiff::EVALUATION_REL_ERROR;
use crate::prec::{composite_rel, softmax_rel, UNIT_ROUNDOFF};
use crate::scalar::{log_softmax, mean, Real};

/// A tabular softmax policy's log-probability of response `y`:
/// $\log\pi_\theta(y) = \theta_y - \log\sum_{y\'} e^{\theta_{y\'}}$.
pub fn tabular_log_prob<R: Real>(theta: &[R], y: usize) -> Result<R, AutodiffError> {
    let index_error = AutodiffError::IndexOutOfRange {
        op: "tabular_log_prob",
        index: y,
        len: theta.len(),
    };
    let theta_y = *theta.get(y).ok_or(index_error)?;
    Ok(theta_y - R::logsumexp(theta)?)
}

/// One pair's DPO loss (Eq. 7) from the policy margin
/// $m_\theta = \log\pi_\theta(y_w) - \log\pi_\theta(y_l)$ and the reference margin $m_{\text{ref}}$:
/// $-\log\sigma(\beta(m_\theta - m_{\text{ref}})) = \operatorname{softplus}(-\beta m_\theta + \beta m_{\text{ref}})$.
///
/// The reference margin is a constant (a fixed reference); to differentiate with respect to the
/// reference as well, pass $m_\theta - m_{\text{ref}}$ as the policy margin and 0.
pub fn dpo_loss<R: Real>(beta: f64, policy_margin: R, reference_margin: f64) -> R {
    policy_margin
        .affine(-beta, beta * reference_margin)
        .softplus()
}

/// The mean DPO loss of `pairs` $(y_w, y_l)$ under the tabular softmax policy $\theta$ against a
/// fixed reference given by its log-probabilities. All log-probabilities come from one
/// log-softmax (one log-sum-exp), shared by every pair.
pub fn mean_tabular_dpo_loss<R: Real>(
    theta: &[R],
    reference_log_probs: &[f64],
    pairs: &[(usize, usize)],
    beta: f64,
) -> Result<R, AutodiffError> {
    if theta.len() != reference_log_probs.len() {
        return Err(AutodiffError::ShapeMismatch {
            op: "mean_tabular_dpo_loss",
            left: vec![theta.len()],
            right: vec![reference_log_probs.len()],
        });
    }
    let policy = log_softmax(theta)?;
    let losses = pairs
        .iter()
        .map(|&(w, l)| {
            let out_of_range = w.max(l);
            if out_of_range >= theta.len() {
                return Err(AutodiffError::IndexOutOfRange {
                    op: "mean_tabular_dpo_loss",
                    index: out_of_range,
                    len: theta.len(),
                });
            }
            let reference_margin = reference_log_probs[w] - reference_log_probs[l];
            Ok(dpo_loss(beta, policy[w] - policy[l], reference_margin))
        })
        .collect::<Result<Vec<R>, _>>()?;
    mean(&losses)
}

/// Built-in logit vectors: ordinary, tied, extreme ($\pm 10^4$), near the overflow of `exp`.
const LOGITS: [&[f64]; 6] = [
    &[0.5, -1.0, 2.0],
    &[0.0, 0.0, 0.0],
    &[-1e4, 3.0, 1e4],
    &[709.78, 700.0, -1e4],
    &[30.0, -30.0, 29.0, 31.0],
    &[1e4, 1e4 - 1.0, -1e4, 1e-3],
];

/// A composite under test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Composite {
    /// [`tabular_log_prob`] of response `y`, as a function of $\theta$.
    PolicyLogProb {
        /// The response.
        y: usize,
    },
    /// [`dpo_loss`] as a function of $(a, b, c, d)$:
    /// $-\log\sigma(\beta[(a - b) - (c - d)])$.
    PairLoss {
        /// The KL weight $\beta$.
        beta: f64,
    },
    /// [`dpo_loss`] of the pair $(y_w, y_l)$ under two tabular policies, as a function of
    /// $(\theta, \theta_{\text{ref}})$ (the first and second half of the arguments).
    TabularPairLoss {
        /// The KL weight $\beta$.
        beta: f64,
        /// The chosen response $y_w$.
        chosen: usize,
        /// The rejected response $y_l$.
        rejected: usize,
    },
}

impl Composite {
    /// The composites of the built-in checks: $\beta$ from $10^{-3}$ to 10.
    pub const ALL: [Composite; 7] = [
        Composite::PolicyLogProb { y: 0 },
        Composite::PolicyLogProb { y: 2 },
        Composite::PairLoss { beta: 1e-3 },
        Composite::PairLoss { beta: 0.1 },
        Composite::PairLoss { beta: 10.0 },
        Composite::TabularPairLoss {
            beta: 0.1,
            chosen: 0,
            rejected: 1,
        },
        Composite::TabularPairLoss {
            beta: 5.0,
            chosen: 2,
            rejected: 0,
        },
    ];

    /// $\beta$ (1 for a log-probability).
    fn beta(&self) -> f64 {
        match *self {
            Composite::PolicyLogProb { .. } => 1.0,
            Composite::PairLoss { beta } | Composite::TabularPairLoss { beta, .. } => beta,
        }
    }

    /// $\beta\\,\sigma(-z)$ at `xs`: the magnitude of every non-zero partial of a pair's loss,
    /// with $z$ from the margins as derived by hand (the log-sum-exps cancel in a tabular
    /// margin, $\log\pi(y_w) - \log\pi(y_l) = \theta_w - \theta_l$).
    fn loss_slope(&self, xs: &[f64]) -> f64 {
        let beta = self.beta();
        let h = match *self {
            Composite::PairLoss { .. } => (xs[0] - xs[1]) - (xs[2] - xs[3]),
            Composite::TabularPairLoss {
                chosen, rejected, ..
            } => {
                let n = xs.len() / 2;
                (xs[chosen] - xs[rejected]) - (xs[n + chosen] - xs[n + rejected])
            }
            Composite::PolicyLogProb { .. } => unreachable!("not a loss"),
        };
        beta * logistic(-beta * h)
    }

    /// $\max_i |x_i|$.
    fn max_abs(xs: &[f64]) -> f64 {
        xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()))
    }
}

impl Function for Composite {
    fn name(&self) -> String {
        format!("{self:?}")
    }

    fn accepts(&self, n: usize) -> bool {
        match *self {
            Composite::PolicyLogProb { y } => n > y,
            Composite::PairLoss { .. } => n == 4,
            Composite::TabularPairLoss {
                chosen, rejected, ..
            } => n % 2 == 0 && n / 2 > chosen.max(rejected),
        }
    }

    fn domain(&self, _i: usize) -> Domain {
        Domain::REAL
    }

    fn sample_inputs(&self) -> Vec<Vec<f64>> {
        match *self {
            Composite::PolicyLogProb { .. } => LOGITS.iter().map(|v| v.to_vec()).collect(),
            Composite::PairLoss { .. } => {
                // Every combination of log-probabilities from the extremes to ties.
                const VALUES: [f64; 5] = [-1e4, -3.0, 0.0, 0.5, 1e4];
                let mut inputs = Vec::new();
                for a in VALUES {
                    for b in VALUES {
                        for c in VALUES {
                            for d in VALUES {
                                inputs.push(vec![a, b, c, d]);
                            }
                        }
                    }
                }
                inputs
            }
            Composite::TabularPairLoss { .. } => {
                let mut inputs = Vec::new();
                for policy in LOGITS {
                    for reference in LOGITS.iter().filter(|r| r.len() == policy.len()) {
                        inputs.push([policy, *reference].concat());
                    }
                }
                inputs.retain(|xs| self.accepts(xs.len()));
                inputs
            }
        }
    }

    fn apply<R: Real>(&self, xs: &[R]) -> Result<R, AutodiffError> {
        let op = "Composite::apply";
        match *self {
            Composite::PolicyLogProb { y } => tabular_log_prob(xs, y),
            Composite::PairLoss { beta } => match xs {
                &[a, b, c, d] => Ok(dpo_loss(beta, (a - b) - (c - d), 0.0)),
                _ => Err(AutodiffError::ShapeMismatch {
                    op,
                    left: vec![xs.len()],
                    right: vec![4],
                }),
            },
            Composite::TabularPairLoss {
                beta,
                chosen,
                rejected,
            } => {
                let (policy, reference) = xs.split_at(xs.len().div_ceil(2));
                if policy.len() != reference.len() {
                    return Err(AutodiffError::ShapeMismatch {
                        op,
                        left: vec![policy.len()],
                        right: vec![reference.len()],
                    });
                }
                let margin = |theta: &[R]| -> Result<R, AutodiffError> {
                    Ok(tabular_log_prob(theta, chosen)? - tabular_log_prob(theta, rejected)?)
                };
                Ok(dpo_loss(beta, margin(policy)? - margin(reference)?, 0.0))
            }
        }
    }

    fn closed_form_gradient(&self, xs: &[f64]) -> Vec<f64> {
        match *self {
            // ∂/∂θ_j (θ_y − lse θ) = δ_jy − softmax_j.
            Composite::PolicyLogProb { y } => log_softmax_gradient(xs, y),
            // ∂/∂(a, b, c, d) of softplus(−βh) = −βσ(−βh) (1, −1, −1, 1).
            Composite::PairLoss { .. } => {
                let s = self.loss_slope(xs);
                vec![-s, s, s, -s]
            }
            // −βσ(−z)(δ_jw − δ_jl) for θ, the opposite for θ_ref.
            Composite::TabularPairLoss {
                chosen, rejected, ..
            } => {
                let s = self.loss_slope(xs);
                let n = xs.len() / 2;
                let mut g = vec![0.0; xs.len()];
                // Accumulated, so that a tie y_w = y_l gives 0.
                g[chosen] -= s;
                g[rejected] += s;
                g[n + chosen] += s;
                g[n + rejected] -= s;
                g
            }
        }
    }

    fn tolerance(&self, xs: &[f64]) -> Tolerance {
        let max_abs = Self::max_abs(xs);
        match *self {
            // As for log-softmax: entries O(1), error absolute at scale 1.
            Composite::PolicyLogProb { .. } => Tolerance {
                rel: softmax_rel(max_abs),
                floor: 1.0,
            },
            // Partials are ±βσ(−z) or 0; z = βh and h is a difference of log-probabilities
            // of magnitude up to max|x| + ln n. A zero partial is a cancellation of terms of
            // size βσ(−z) in the backward sweep (softmax weights, a tie y_w = y_l), so the
            // error is absolute at that scale.
            _ => Tolerance {
                rel: composite_rel(self.beta() * (max_abs + (xs.len() as f64).ln() + 1.0)),
                floor: self.loss_slope(xs).max(f64::MIN_POSITIVE),
            },
        }
    }

    fn length_scale(&self, _xs: &[f64], _i: usize) -> f64 {
        // The loss varies on the scale 1/β in each log-probability, which itself varies on
        // the scale 1 in each logit.
        1.0 / self.beta().max(1.0)
    }

    fn evaluation_noise(&self, xs: &[f64], value: f64) -> f64 {
        // Rounding is absolute at the scale of the log-probabilities, s = max|x| + n: a
        // log-probability θ_y − lse carries at most 5us (3us for the log-sum-exp, as for
        // `Op::Logsumexp`, and the subtraction); a tabular margin difference combines four of
        // them with three subtractions (< 32us), the plain one four inputs (< 8us); softplus
        // has slope at most 1, so β times that reaches the loss.
        let s = Self::max_abs(xs) + xs.len() as f64;
        let units = match self {
            Composite::PolicyLogProb { .. } => 5.0,
            Composite::PairLoss { .. } => 8.0,
            Composite::TabularPairLoss { .. } => 32.0,
        };
        EVALUATION_REL_ERROR * value.abs() + units * UNIT_ROUNDOFF * self.beta() * s
    }
}
