//! The DPO objective on a policy (Eq. 7), Bradley–Terry in policy form (Eq. 6) and the paper's
//! closed-form gradient (§4).
//!
//! A data set is a list of weighted [`Pair`]s $(x, y_w, y_l, w)$; the loss is
//! $$\mathcal L_{\text{DPO}}(\pi_\theta;\pi_{\text{ref}}) = -\sum_i w_i\\,\log\sigma(\beta h_i),\qquad
//! h = \log\frac{\pi_\theta(y_w|x)}{\pi_{\text{ref}}(y_w|x)} - \log\frac{\pi_\theta(y_l|x)}{\pi_{\text{ref}}(y_l|x)}.$$
//! Weights $1/N$ give the empirical mean over $N$ samples; the exact population loss uses the
//! probabilities of every (draw, label) outcome (see [`crate::population`]).

use std::fmt;

use ndarray::Array2;

use crate::loss::scaled::scaled_difference;
use crate::policy::Policy;
use crate::preference::bradley_terry_log_prob;
use crate::problem::{check_beta, ProblemError};
use crate::reward::implicit_reward;
use crate::scalar::Real;

/// One preference $y_w \succ y_l$ for prompt $x$, with its weight in the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// Prompt $x$.
    pub prompt: usize,
    /// Preferred response $y_w$.
    pub chosen: usize,
    /// Dispreferred response $y_l$.
    pub rejected: usize,
    /// Weight $w$ of the pair in the loss.
    pub weight: f64,
}

/// Eq. 6, Bradley–Terry in policy form: $\log p(y_1\succ y_2) = \log\sigma(\hat r_1 - \hat r_2)$
/// with $\hat r = \beta\log\pi/\pi_{\text{ref}}$ (the $\beta\log Z(x)$ of Eq. 5 cancels).
pub fn policy_form_log_prob<R: Real>(log_pi: (R, R), log_ref: (f64, f64), beta: f64) -> R {
    let (r1, r2) = (
        implicit_reward(log_pi.0, log_ref.0, beta),
        implicit_reward(log_pi.1, log_ref.1, beta),
    );
    let finite_inputs = log_pi.0.value().is_finite()
        && log_pi.1.value().is_finite()
        && log_ref.0.is_finite()
        && log_ref.1.is_finite();
    if (r1 - r2).value().is_finite() || !finite_inputs {
        bradley_terry_log_prob(r1, r2)
    } else {
        // A reward overflowed (β large): β h with the difference of log-ratios taken first.
        scaled_difference(beta, log_pi.0 - log_ref.0, log_pi.1 - log_ref.1).log_sigmoid()
    }
}

/// One pair's DPO loss $-\log\sigma(\beta h)$ (stable: $\operatorname{softplus}(-\beta h)$).
pub fn pair_loss<R: Real>(log_pi: (R, R), log_ref: (f64, f64), beta: f64) -> R {
    -policy_form_log_prob(log_pi, log_ref, beta)
}

/// Why a DPO loss could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum DpoError {
    /// A loss over no pairs.
    NoPairs,
    /// A pair names a prompt or response outside the policy.
    PairOutOfRange {
        /// Position of the pair in the list.
        index: usize,
        /// The pair.
        pair: Pair,
    },
    /// A pair's weight is negative or not finite.
    InvalidWeight {
        /// Position of the pair in the list.
        index: usize,
        /// The weight.
        weight: f64,
    },
    /// The reference table's shape differs from the policy's (prompts, responses).
    ReferenceShape {
        /// (prompts, responses) of the policy.
        policy: (usize, usize),
        /// Shape of the reference table.
        reference: (usize, usize),
    },
    /// A reference log-probability is NaN or $+\infty$.
    InvalidReference {
        /// Prompt index.
        prompt: usize,
        /// Response index.
        response: usize,
    },
    /// An invalid β.
    Beta(ProblemError),
    /// The parameter vector's length is not the policy's parameter count.
    ParameterCount {
        /// The policy's parameter count.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The loss or its gradient exceeds `f64::MAX` although every parameter and reference
    /// log-probability is finite (never returned as $\pm\infty$ or NaN).
    Overflow {
        /// `loss` or `gradient`.
        quantity: &'static str,
    },
}

impl fmt::Display for DpoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPairs => write!(f, "a DPO loss needs at least one preference pair"),
            Self::PairOutOfRange { index, pair } => {
                write!(
                    f,
                    "pair {index} ({pair:?}) names a prompt or response outside the policy"
                )
            }
            Self::InvalidWeight { index, weight } => {
                write!(
                    f,
                    "pair {index} has weight {weight}; weights must be finite and >= 0"
                )
            }
            Self::ReferenceShape { policy, reference } => write!(
                f,
                "reference log-probabilities have shape {reference:?}, the policy {policy:?}"
            ),
            Self::InvalidReference { prompt, response } => {
                write!(f, "log pi_ref(y={response}|x={prompt}) is NaN or +inf")
            }
            Self::Beta(e) => write!(f, "{e}"),
            Self::ParameterCount { expected, got } => write!(
                f,
                "the policy has {expected} parameters but theta has {got}"
            ),
            Self::Overflow { quantity } => write!(
                f,
                "the DPO {quantity} overflows f64 (magnitude above 1.8e308) from finite inputs"
            ),
        }
    }
}

impl std::error::Error for DpoError {}

/// Checks a data set against a policy and reference before a loss is evaluated.
pub fn check_pairs<P: Policy>(
    policy: &P,
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> Result<(), DpoError> {
    check_beta(beta).map_err(DpoError::Beta)?;
    let shape = (policy.prompts(), policy.responses());
    if log_ref.dim() != shape {
        return Err(DpoError::ReferenceShape {
            policy: shape,
            reference: log_ref.dim(),
        });
    }
    if let Some(((prompt, response), _)) = log_ref
        .indexed_iter()
        .find(|(_, v)| v.is_nan() || **v == f64::INFINITY)
    {
        return Err(DpoError::InvalidReference { prompt, response });
    }
    if pairs.is_empty() {
        return Err(DpoError::NoPairs);
    }
    for (index, pair) in pairs.iter().enumerate() {
        if pair.prompt >= shape.0 || pair.chosen >= shape.1 || pair.rejected >= shape.1 {
            return Err(DpoError::PairOutOfRange { index, pair: *pair });
        }
        if !(pair.weight.is_finite() && pair.weight >= 0.0) {
            return Err(DpoError::InvalidWeight {
                index,
                weight: pair.weight,
            });
        }
    }
    Ok(())
}

/// [`DpoError::ParameterCount`] unless `got` is the policy's parameter count.
fn check_theta<P: Policy>(policy: &P, got: usize) -> Result<(), DpoError> {
    let expected = policy.params().len();
    if got == expected {
        Ok(())
    } else {
        Err(DpoError::ParameterCount { expected, got })
    }
}

/// Whether every parameter and reference log-probability is finite (then a non-finite result is
/// an overflow, not a propagated NaN or infinity).
fn finite_inputs(theta: impl IntoIterator<Item = f64>, log_ref: &Array2<f64>) -> bool {
    theta.into_iter().all(f64::is_finite) && log_ref.iter().all(|v| v.is_finite())
}

fn all_log_probs<P: Policy, R: Real>(policy: &P, theta: &[R]) -> Vec<Vec<R>> {
    (0..policy.prompts())
        .map(|x| policy.log_probs(theta, x))
        .collect()
}

/// $\mathcal L_{\text{DPO}} = -\sum_i w_i\log\sigma(\beta h_i)$ at parameters `theta`
/// (`theta.len()` must equal the policy's parameter count).
///
/// # Errors
/// Any problem [`check_pairs`] finds; [`DpoError::ParameterCount`] for a `theta` of the wrong
/// length; [`DpoError::Overflow`] for a loss beyond `f64::MAX` from finite inputs.
pub fn dpo_loss<P: Policy, R: Real>(
    policy: &P,
    theta: &[R],
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> Result<R, DpoError> {
    check_pairs(policy, log_ref, pairs, beta)?;
    check_theta(policy, theta.len())?;
    let lp = all_log_probs(policy, theta);
    let terms: Vec<R> = pairs
        .iter()
        .map(|p| {
            let x = p.prompt;
            pair_loss(
                (lp[x][p.chosen], lp[x][p.rejected]),
                (log_ref[[x, p.chosen]], log_ref[[x, p.rejected]]),
                beta,
            ) * p.weight
        })
        .collect();
    let loss = R::sum(&terms).map_err(|_| DpoError::NoPairs)?;
    if !loss.value().is_finite() && finite_inputs(theta.iter().map(|t| t.value()), log_ref) {
        return Err(DpoError::Overflow { quantity: "loss" });
    }
    Ok(loss)
}

/// The paper's closed form (§4):
/// $$\nabla_\theta\mathcal L = -\beta\sum_i w_i\\,\sigma(\hat r_\theta(x,y_l) - \hat r_\theta(x,y_w))
/// \big(\nabla_\theta\log\pi(y_w|x) - \nabla_\theta\log\pi(y_l|x)\big),$$
/// with the scores from [`Policy::score`].
///
/// # Errors
/// As [`dpo_loss`] (with `gradient` as the overflowing quantity).
pub fn dpo_gradient_closed_form<P: Policy>(
    policy: &P,
    theta: &[f64],
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> Result<Vec<f64>, DpoError> {
    check_pairs(policy, log_ref, pairs, beta)?;
    check_theta(policy, theta.len())?;
    let lp = all_log_probs(policy, theta);
    let mut grad = vec![0.0; theta.len()];
    for p in pairs {
        let x = p.prompt;
        // σ(r̂_l − r̂_w); when a reward overflows (β large), σ(−βh) with h taken first.
        let r_w = implicit_reward(lp[x][p.chosen], log_ref[[x, p.chosen]], beta);
        let r_l = implicit_reward(lp[x][p.rejected], log_ref[[x, p.rejected]], beta);
        let against = if (r_l - r_w).is_finite() {
            (r_l - r_w).sigmoid()
        } else {
            let h = scaled_difference(
                beta,
                lp[x][p.chosen] - log_ref[[x, p.chosen]],
                lp[x][p.rejected] - log_ref[[x, p.rejected]],
            );
            (-h).sigmoid()
        };
        let weight = -beta * p.weight * against;
        let s_w = policy.score(theta, x, p.chosen);
        let s_l = policy.score(theta, x, p.rejected);
        for ((g, a), b) in grad.iter_mut().zip(s_w).zip(s_l) {
            *g += weight * (a - b);
        }
    }
    if grad.iter().any(|g| !g.is_finite()) && finite_inputs(theta.iter().copied(), log_ref) {
        return Err(DpoError::Overflow {
            quantity: "gradient",
        });
    }
    Ok(grad)
}
