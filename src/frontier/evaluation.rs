//! Exact evaluation: every point is $\big(\overline{\mathrm{KL}}, \bar R\big)$ with
//! $$\overline{\mathrm{KL}} = \frac1X\sum_x\sum_y\pi(y|x)\log\frac{\pi(y|x)}{\pi_{\text{ref}}(y|x)},\qquad
//! \bar R = \frac1X\sum_x\sum_y\pi(y|x)\\,r^\*(x,y),$$
//! sums over every enumerated response (no sampling, so no evaluation noise).

use ndarray::Array2;

use super::family::Family;
use crate::divergence::kl;

/// Mean exact KL to the reference and mean exact reward of a table of $\log\pi(y|x)$.
pub fn kl_and_reward(
    log_pi: &Array2<f64>,
    log_ref: &Array2<f64>,
    reward: &Array2<f64>,
) -> (f64, f64) {
    let xs = log_pi.nrows() as f64;
    let mut total_kl = 0.0;
    let mut total_reward = 0.0;
    for ((p, q), r) in log_pi
        .rows()
        .into_iter()
        .zip(log_ref.rows())
        .zip(reward.rows())
    {
        let p = p.to_vec();
        total_kl += kl(&p, q.as_slice().expect("contiguous")).max(0.0);
        total_reward += p.iter().zip(r).map(|(lp, r)| lp.exp() * r).sum::<f64>();
    }
    (total_kl / xs, total_reward / xs)
}

/// $\log\pi_\theta(y|x)$ of a family at `theta`, prompts × responses.
pub fn log_prob_table<F: Family>(family: &F, theta: &[f64]) -> Array2<f64> {
    let (xs, ys) = (family.prompts(), family.responses());
    let flat: Vec<f64> = (0..xs).flat_map(|x| family.log_probs(theta, x)).collect();
    Array2::from_shape_vec((xs, ys), flat).expect("one row per prompt")
}

/// KL and reward of a family's policy at `theta`.
pub fn evaluate<F: Family>(
    family: &F,
    theta: &[f64],
    log_ref: &Array2<f64>,
    reward: &Array2<f64>,
) -> (f64, f64) {
    kl_and_reward(&log_prob_table(family, theta), log_ref, reward)
}
