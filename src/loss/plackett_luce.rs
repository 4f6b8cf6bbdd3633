//! DPO under the Plackett–Luce model (Appendix A.3): a ranking $\tau$ of $K$ responses, each
//! with implicit reward $u_k = \beta(\log\pi_\theta(y_k|x) - \log\pi_{\text{ref}}(y_k|x))$, has loss
//! $$\mathcal L = -\log p(\tau) = \sum_{k=1}^{K}\Big(\log\sum_{j\ge k} e^{u_{\tau(j)}} - u_{\tau(k)}\Big).$$
//! At $K = 2$ it is the sigmoid loss $-\log\sigma(\beta h)$.

use super::scaled::scaled_difference;
use super::{first_non_finite, LossError};
use crate::preference::plackett_luce_log_prob;
use crate::scalar::Real;

/// Checks that the two arrays have one entry per response and are finite.
fn check(policy: &[f64], reference: &[f64]) -> Result<(), LossError> {
    if reference.len() != policy.len() {
        return Err(LossError::LengthMismatch {
            field: "reference",
            len: reference.len(),
            expected: policy.len(),
        });
    }
    if policy.is_empty() {
        return Err(LossError::EmptyBatch);
    }
    first_non_finite(&[("policy", policy), ("reference", reference)])
}

/// [`LossError::InvalidParameter`] unless $\beta$ is finite and $> 0$.
fn check_beta(beta: f64) -> Result<(), LossError> {
    if beta.is_finite() && beta > 0.0 {
        Ok(())
    } else {
        Err(LossError::InvalidParameter {
            name: "beta",
            value: beta,
            allowed: "finite and > 0",
        })
    }
}

/// The Plackett–Luce DPO loss of one ranking, generic over [`Real`]. `ranking[k]` is the index
/// of the response ranked $k$-th (best first). `policy` and `reference` must have equal length.
/// NaN and infinite log-probabilities propagate (IEEE); [`plackett_luce_loss_and_grad`]
/// rejects them.
///
/// # Errors
/// [`LossError::InvalidParameter`] unless $\beta$ is finite and $> 0$;
/// [`LossError::LengthMismatch`]; [`LossError::Ranking`] for a ranking that is not a
/// permutation; [`LossError::Overflow`] when, from finite inputs, a reward
/// $u_k = \beta(\log\pi_\theta - \log\pi_{\text{ref}})$ or the loss exceeds `f64::MAX`.
pub fn plackett_luce_loss<R: Real>(
    beta: f64,
    policy: &[R],
    reference: &[R],
    ranking: &[usize],
) -> Result<R, LossError> {
    check_beta(beta)?;
    if reference.len() != policy.len() {
        return Err(LossError::LengthMismatch {
            field: "reference",
            len: reference.len(),
            expected: policy.len(),
        });
    }
    let rewards: Vec<R> = policy
        .iter()
        .zip(reference)
        .map(|(&p, &r)| scaled_difference(beta, p, r))
        .collect();
    let loss = -plackett_luce_log_prob(&rewards, ranking)?;
    let finite_inputs = policy
        .iter()
        .chain(reference)
        .all(|x| x.value().is_finite());
    if finite_inputs {
        if let Some(pair) = rewards.iter().position(|u| !u.value().is_finite()) {
            return Err(LossError::Overflow {
                quantity: "reward beta*(policy - reference)",
                pair,
            });
        }
        if !loss.value().is_finite() {
            return Err(LossError::Overflow {
                quantity: "loss",
                pair: 0,
            });
        }
    }
    Ok(loss)
}

/// The loss of [`plackett_luce_loss`] in `f64` after checking the inputs (lengths, finiteness,
/// $\beta$ finite and $> 0$), with its closed-form gradient with respect to `policy` (the gradient
/// with respect to `reference` is its negative). With $o_k = u_{\tau(k)}$ and
/// $S_k = \log\sum_{j\ge k} e^{o_j}$ ($S_{K} = -\infty$):
/// $$\frac{\partial\mathcal L}{\partial o_m} = -1 + \sum_{k\le m} e^{o_m - S_k}
/// = -\sigma(S_{m+1} - o_m) + \sum_{k < m} e^{o_m - S_k},$$
/// the second form (from $1 - e^{o_m - S_m} = \sigma(S_{m+1} - o_m)$) avoiding the cancellation
/// of $-1 + e^{o_m - S_m}$ when $o_m$ dominates its suffix.
pub fn plackett_luce_loss_and_grad(
    beta: f64,
    policy: &[f64],
    reference: &[f64],
    ranking: &[usize],
) -> Result<(f64, Vec<f64>), LossError> {
    check_beta(beta)?;
    check(policy, reference)?;
    let loss = plackett_luce_loss(beta, policy, reference, ranking)?;
    let ordered: Vec<f64> = ranking
        .iter()
        .map(|&i| scaled_difference(beta, policy[i], reference[i]))
        .collect();
    let k = ordered.len();
    // suffix[s] = S_s = log Σ_{j ≥ s} exp(o_j) (max-shifted); suffix[k] = -inf.
    let mut suffix = vec![f64::NEG_INFINITY; k + 1];
    for start in (0..k).rev() {
        let (hi, lo) = if ordered[start] >= suffix[start + 1] {
            (ordered[start], suffix[start + 1])
        } else {
            (suffix[start + 1], ordered[start])
        };
        suffix[start] = hi + (lo - hi).exp().ln_1p();
    }
    let mut grad = vec![0.0; k];
    for (m, &i) in ranking.iter().enumerate() {
        let earlier: f64 = (0..m).map(|s| (ordered[m] - suffix[s]).exp()).sum();
        grad[i] = beta * (earlier - (suffix[m + 1] - ordered[m]).sigmoid());
    }
    Ok((loss, grad))
}
