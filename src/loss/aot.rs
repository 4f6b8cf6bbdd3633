//! AOT (alignment via optimal transport): the batch's two samples of log-ratios are each sorted,
//! matched rank by rank, and cDPO is applied to the matched differences.
//!
//! - `aot` sorts $a_i = \log\pi(y_w^i) - \log\pi(y_l^i)$ (policy) and
//!   $b_i = \log\pi_{\text{ref}}(y_w^i) - \log\pi_{\text{ref}}(y_l^i)$ (reference) separately;
//! - `aot_unpaired` sorts $a_i = \ell_w^i$ and $b_i = \ell_l^i$ separately;
//!
//! then $\ell_k = \operatorname{cDPO}\big(\beta(a_{(k)} - b_{(k)}), \varepsilon\big)$ with $a_{(k)}$ the $k$-th
//! smallest. **Not permutation-equivariant**: the $k$-th loss belongs to the $k$-th rank, not to
//! pair $k$, and the loss of a pair depends on the other pairs of its batch. Permuting the pairs
//! leaves the sorted losses (and the mean) unchanged. The gradient flows through the sorting
//! permutation: $\partial \bar\ell/\partial a_{\pi_a(k)} = \beta\\,\ell\'(\beta d_k)/B$. Ties are
//! ordered by index (a stable sort); where values tie the loss is not differentiable but both
//! one-sided orders give the same sorted values.

use super::logistic::{cdpo, cdpo_dz};
use crate::scalar::Real;

/// The indices of `xs` in ascending order of value (stable; `total_cmp` order for NaN).
fn ascending_order<R: Real>(xs: &[R]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&i, &j| xs[i].value().total_cmp(&xs[j].value()));
    order
}

/// The per-rank losses $\operatorname{cDPO}(\beta(a_{(k)} - b_{(k)}), \varepsilon)$; `a` and `b` have
/// the same length.
pub fn aot_losses<R: Real>(beta: f64, eps: f64, a: &[R], b: &[R]) -> Vec<R> {
    let (oa, ob) = (ascending_order(a), ascending_order(b));
    oa.iter()
        .zip(&ob)
        .map(|(&i, &j)| cdpo((a[i] - b[j]) * beta, eps))
        .collect()
}

/// The closed-form gradient of the mean of [`aot_losses`] with respect to `a` and `b`:
/// $\partial\bar\ell/\partial a_{\pi_a(k)} = \beta\\,\ell\'(\beta d_k)/B
/// = -\partial\bar\ell/\partial b_{\pi_b(k)}$.
pub fn aot_grad(beta: f64, eps: f64, a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (oa, ob) = (ascending_order(a), ascending_order(b));
    let n = a.len() as f64;
    let mut ga = vec![0.0; a.len()];
    let mut gb = vec![0.0; b.len()];
    for (&i, &j) in oa.iter().zip(&ob) {
        let g = beta * cdpo_dz(beta * (a[i] - b[j]), eps) / n;
        ga[i] = g;
        gb[j] = -g;
    }
    (ga, gb)
}
