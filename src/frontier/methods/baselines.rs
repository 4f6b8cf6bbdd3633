//! The paper's baselines.
//!
//! - **Preferred-FT**: maximum likelihood on the chosen responses,
//!   $\mathcal L = -\sum_i w_i\log\pi_\theta(y_{w,i}|x_i)$.
//! - **Unlikelihood**: $\mathcal L = -\sum_i w_i\big(\log\pi_\theta(y_{w,i}|x_i) + \alpha\log(1 - \pi_\theta(y_{l,i}|x_i))\big)$
//!   (sequence-level), with $\nabla\log(1-\pi) = -\frac{\pi}{1-\pi}\nabla\log\pi$.
//! - **Best-of-$N$** against $r_\phi$: draw $N$ responses from $\pi_{\text{ref}}$ and keep the one
//!   $r_\phi$ scores highest. Its distribution is exact: with responses sorted by $r_\phi$ into
//!   groups of equal score and $F_g$ the reference mass of groups up to $g$,
//!   $P(\text{group } g) = F_g^N - F_{g-1}^N$, split within the group in proportion to
//!   $\pi_{\text{ref}}$ (ties broken uniformly among the draws).

use ndarray::Array2;

use super::super::data::Dataset;
use super::super::family::Family;

/// The gradient of the Preferred-FT loss (`alpha = None`) or of the Unlikelihood loss with
/// weight $\alpha$.
pub fn gradient<F: Family>(
    family: &F,
    theta: &[f64],
    data: &Dataset,
    alpha: Option<f64>,
) -> Vec<f64> {
    let mut grad = vec![0.0; theta.len()];
    for (x, (ys, pairs)) in data.responses.iter().zip(&data.local).enumerate() {
        if ys.is_empty() {
            continue;
        }
        let lp = family.log_probs_of(theta, x, ys);
        let mut weights = Vec::with_capacity(2 * pairs.len());
        for &(w, l, weight) in pairs {
            weights.push((ys[w], -weight));
            if let Some(alpha) = alpha {
                // π/(1-π) = e^{lp} / (-expm1(lp)), finite while π < 1.
                let odds = lp[l].exp() / (-lp[l].exp_m1()).max(f64::MIN_POSITIVE);
                weights.push((ys[l], weight * alpha * odds));
            }
        }
        family.add_score(theta, x, &weights, &mut grad);
    }
    grad
}

/// $\log\pi_{\text{BoN}}(y|x)$ of Best-of-$N$ against `score`, prompts × responses.
pub fn best_of_n(log_ref: &Array2<f64>, score: &Array2<f64>, n: usize) -> Array2<f64> {
    let mut out = Array2::from_elem(log_ref.dim(), f64::NEG_INFINITY);
    let n = n as f64;
    for x in 0..log_ref.nrows() {
        let mut order: Vec<usize> = (0..log_ref.ncols()).collect();
        order.sort_by(|&a, &b| score[[x, a]].total_cmp(&score[[x, b]]));
        let mut below = 0.0_f64;
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len() && score[[x, order[end]]] == score[[x, order[start]]] {
                end += 1;
            }
            let mass: f64 = order[start..end]
                .iter()
                .map(|&y| log_ref[[x, y]].exp())
                .sum();
            let upto = (below + mass).min(1.0);
            // P(max in group) = F_g^N - F_{g-1}^N, in logs: N ln F_g + ln(1 - e^{N ln(F_{g-1}/F_g)}).
            let log_group = if below <= 0.0 {
                n * upto.ln()
            } else {
                n * upto.ln() + (-(n * (below / upto).ln()).exp_m1()).ln()
            };
            for &y in &order[start..end] {
                out[[x, y]] = log_group + log_ref[[x, y]] - mass.ln();
            }
            below = upto;
            start = end;
        }
    }
    out
}
