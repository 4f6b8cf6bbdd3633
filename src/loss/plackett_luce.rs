//! DPO under the Plackett–Luce model (Appendix A.3): a ranking $\tau$ of $K$ responses, each
//! with implicit reward $u_k = \beta(\log\pi_\theta(y_k|x) - \log\pi_{\text{ref}}(y_k|x))$, has loss
//! $$\mathcal L = -\log p(\tau) = \sum_{k=1}^{K}\Big(\log\sum_{j\ge k} e^{u_{\tau(j)}} - u_{\tau(k)}\Big).$$
//! At $K = 2$ it is the sigmoid loss $-\log\sigma(\beta h)$.

use super::LossError;
use crate::preference::plackett_luce_log_prob;
use crate::scalar::Real;

/// Checks that the two arrays have one entry per response and (unless `propagate`) are finite.
fn check(policy: &[f64], reference: &[f64], propagate: bool) -> Result<(), LossError> {
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
    if propagate {
        return Ok(());
    }
    let fields = [("policy", policy), ("reference", reference)];
    for pair in 0..policy.len() {
        for (field, values) in fields {
            if !values[pair].is_finite() {
                return Err(LossError::NonFinite {
                    pair,
                    field,
                    value: values[pair],
                });
            }
        }
    }
    Ok(())
}

/// The Plackett–Luce DPO loss of one ranking, generic over [`Real`]. `ranking[k]` is the index
/// of the response ranked $k$-th (best first). `policy` and `reference` must have equal length.
pub fn plackett_luce_loss<R: Real>(
    beta: f64,
    policy: &[R],
    reference: &[R],
    ranking: &[usize],
) -> Result<R, LossError> {
    let rewards: Vec<R> = policy
        .iter()
        .zip(reference)
        .map(|(&p, &r)| (p - r) * beta)
        .collect();
    Ok(-plackett_luce_log_prob(&rewards, ranking)?)
}

/// The loss of [`plackett_luce_loss`] in `f64` after checking the inputs (lengths, finiteness,
/// $\beta$ finite and $> 0$), with its closed-form gradient with respect to `policy` (the gradient
/// with respect to `reference` is its negative):
/// $$\frac{\partial\mathcal L}{\partial u_{\tau(m)}} = -1 + \sum_{k\le m}
/// \frac{e^{u_{\tau(m)}}}{\sum_{j\ge k} e^{u_{\tau(j)}}}.$$
pub fn plackett_luce_loss_and_grad(
    beta: f64,
    policy: &[f64],
    reference: &[f64],
    ranking: &[usize],
) -> Result<(f64, Vec<f64>), LossError> {
    if !(beta.is_finite() && beta > 0.0) {
        return Err(LossError::InvalidParameter {
            name: "beta",
            value: beta,
            allowed: "finite and > 0",
        });
    }
    check(policy, reference, false)?;
    let loss = plackett_luce_loss(beta, policy, reference, ranking)?;
    let ordered: Vec<f64> = ranking
        .iter()
        .map(|&i| beta * (policy[i] - reference[i]))
        .collect();
    let k = ordered.len();
    // suffix_lse[k] = log Σ_{j ≥ k} exp(ordered[j]), built from the back (max-shifted).
    let mut suffix_lse = vec![0.0; k];
    for start in (0..k).rev() {
        suffix_lse[start] = f64::logsumexp(&ordered[start..])
            .map_err(|_| LossError::Ranking(crate::preference::PreferenceError::EmptyRanking))?;
    }
    let mut grad = vec![0.0; k];
    for (m, &i) in ranking.iter().enumerate() {
        let mass: f64 = (0..=m).map(|s| (ordered[m] - suffix_lse[s]).exp()).sum();
        grad[i] = beta * (mass - 1.0);
    }
    Ok((loss, grad))
}
