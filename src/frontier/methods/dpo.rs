//! DPO on the data set: minimise
//! $$\mathcal L_{\text{DPO}}(\theta) = -\sum_i w_i\log\sigma\Big(\beta\log\frac{\pi_\theta(y_w|x)}{\pi_{\text{ref}}(y_w|x)} - \beta\log\frac{\pi_\theta(y_l|x)}{\pi_{\text{ref}}(y_l|x)}\Big)$$
//! over the policy class, from $\theta_{\text{ref}}$, with the gradient from the reverse tape.

use ndarray::Array2;

use super::super::data::Dataset;
use super::super::family::Family;
use crate::autodiff::with_tape;
use crate::dpo::pair_loss;
use crate::scalar::Real;

/// $\mathcal L_{\text{DPO}}$ at `theta` on any [`Real`].
pub fn loss<F: Family, R: Real>(
    family: &F,
    theta: &[R],
    log_ref: &Array2<f64>,
    data: &Dataset,
    beta: f64,
) -> R {
    let mut terms = Vec::with_capacity(data.pairs.len());
    for (x, (ys, pairs)) in data.responses.iter().zip(&data.local).enumerate() {
        if ys.is_empty() {
            continue;
        }
        let lp = family.log_probs_of(theta, x, ys);
        for &(w, l, weight) in pairs {
            let log_ref = (log_ref[[x, ys[w]]], log_ref[[x, ys[l]]]);
            terms.push(pair_loss((lp[w], lp[l]), log_ref, beta) * weight);
        }
    }
    R::sum(&terms).unwrap_or_else(|_| theta[0].constant(0.0))
}

/// $\nabla_\theta\mathcal L_{\text{DPO}}$ from the reverse tape.
pub fn gradient<F: Family>(
    family: &F,
    theta: &[f64],
    log_ref: &Array2<f64>,
    data: &Dataset,
    beta: f64,
) -> Vec<f64> {
    with_tape(|tape| {
        let vars: Vec<_> = theta.iter().map(|&t| tape.var(t)).collect();
        loss(family, &vars, log_ref, data, beta)
            .backward()
            .wrt_slice(&vars)
    })
}

/// The paper's closed form (§4), the tape's independent check:
/// $\nabla\mathcal L = -\beta\sum_i w_i\\,\sigma(-\beta h_i)\\,(\nabla\log\pi(y_w|x) - \nabla\log\pi(y_l|x))$.
pub fn gradient_closed_form<F: Family>(
    family: &F,
    theta: &[f64],
    log_ref: &Array2<f64>,
    data: &Dataset,
    beta: f64,
) -> Vec<f64> {
    let mut grad = vec![0.0; theta.len()];
    for (x, (ys, pairs)) in data.responses.iter().zip(&data.local).enumerate() {
        if ys.is_empty() {
            continue;
        }
        let lp = family.log_probs_of(theta, x, ys);
        let mut weights = Vec::with_capacity(2 * pairs.len());
        for &(w, l, weight) in pairs {
            let h = (lp[w] - log_ref[[x, ys[w]]]) - (lp[l] - log_ref[[x, ys[l]]]);
            let c = -beta * weight * (-beta * h).sigmoid();
            weights.push((ys[w], c));
            weights.push((ys[l], -c));
        }
        family.add_score(theta, x, &weights, &mut grad);
    }
    grad
}
