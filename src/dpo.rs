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
    bradley_terry_log_prob(
        implicit_reward(log_pi.0, log_ref.0, beta),
        implicit_reward(log_pi.1, log_ref.1, beta),
    )
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

fn all_log_probs<P: Policy, R: Real>(policy: &P, theta: &[R]) -> Vec<Vec<R>> {
    (0..policy.prompts())
        .map(|x| policy.log_probs(theta, x))
        .collect()
}

/// $\mathcal L_{\text{DPO}} = -\sum_i w_i\log\sigma(\beta h_i)$ at parameters `theta`
/// (`theta.len()` must equal the policy's parameter count).
///
/// # Errors
/// Any problem [`check_pairs`] finds.
pub fn dpo_loss<P: Policy, R: Real>(
    policy: &P,
    theta: &[R],
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> Result<R, DpoError> {
    check_pairs(policy, log_ref, pairs, beta)?;
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
    R::sum(&terms).map_err(|_| DpoError::NoPairs)
}

/// The paper's closed form (§4):
/// $$\nabla_\theta\mathcal L = -\beta\sum_i w_i\\,\sigma(\hat r_\theta(x,y_l) - \hat r_\theta(x,y_w))
/// \big(\nabla_\theta\log\pi(y_w|x) - \nabla_\theta\log\pi(y_l|x)\big),$$
/// with the scores from [`Policy::score`].
///
/// # Errors
/// Any problem [`check_pairs`] finds.
pub fn dpo_gradient_closed_form<P: Policy>(
    policy: &P,
    theta: &[f64],
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> Result<Vec<f64>, DpoError> {
    check_pairs(policy, log_ref, pairs, beta)?;
    let lp = all_log_probs(policy, theta);
    let mut grad = vec![0.0; theta.len()];
    for p in pairs {
        let x = p.prompt;
        let r_w = implicit_reward(lp[x][p.chosen], log_ref[[x, p.chosen]], beta);
        let r_l = implicit_reward(lp[x][p.rejected], log_ref[[x, p.rejected]], beta);
        let weight = -beta * p.weight * (r_l - r_w).sigmoid();
        let s_w = policy.score(theta, x, p.chosen);
        let s_l = policy.score(theta, x, p.rejected);
        for ((g, a), b) in grad.iter_mut().zip(s_w).zip(s_l) {
            *g += weight * (a - b);
        }
    }
    Ok(grad)
}
