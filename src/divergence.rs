//! Divergences between distributions over a prompt's responses, from log-probabilities.

use crate::scalar::Real;

/// $\mathrm{KL}(p\\,\\|\\,q) = \sum_y p(y)\\,(\log p(y) - \log q(y))$; a term with $p(y) = 0$
/// ($\log p(y) = -\infty$) contributes 0.
///
/// # Panics
/// If the slices are empty or of different lengths.
pub fn kl<R: Real>(log_p: &[R], log_q: &[f64]) -> R {
    assert_eq!(log_p.len(), log_q.len(), "one log-probability per response");
    let terms: Vec<R> = log_p
        .iter()
        .zip(log_q)
        .map(|(&lp, &lq)| {
            if lp.value() == f64::NEG_INFINITY {
                lp.constant(0.0)
            } else {
                lp.exp() * (lp - lq)
            }
        })
        .collect();
    R::sum(&terms).expect("at least one response")
}

/// Total variation $\tfrac12\sum_y |p(y) - q(y)|$.
pub fn total_variation(log_p: &[f64], log_q: &[f64]) -> f64 {
    0.5 * log_p
        .iter()
        .zip(log_q)
        .map(|(a, b)| (a.exp() - b.exp()).abs())
        .sum::<f64>()
}
