//! RLHF-exact: maximise the KL-regularised objective (Eq. 3) of a reward $r$,
//! $$J(\theta) = \frac1X\sum_x\Big(\mathbb E_{\pi_\theta}[r(x,y)] - \beta\\,\mathrm{KL}(\pi_\theta(\cdot|x)\\|\pi_{\text{ref}}(\cdot|x))\Big),$$
//! with its exact (enumerated) policy gradient
//! $$\nabla J = \frac1X\sum_x\sum_y\pi_\theta(y|x)\\,\big(a(x,y) - \mathbb E_{\pi_\theta} a\big)\\,\nabla\log\pi_\theta(y|x),\qquad a = r - \beta\log\frac{\pi_\theta}{\pi_{\text{ref}}}$$
//! (the $-\beta\\,\mathbb E[\nabla\log\pi]$ term vanishes; subtracting the mean is the exact
//! baseline). Fed a learnt $r_\phi$ it separates PPO's sampling noise from the reward model's
//! error; fed $r^\*$ it is the exact optimiser PPO-GT approximates.

use ndarray::Array2;

use super::super::family::Family;

/// $-\nabla J$ (the gradient of the loss $-J$) at `theta`.
pub fn gradient<F: Family>(
    family: &F,
    theta: &[f64],
    log_ref: &Array2<f64>,
    reward: &Array2<f64>,
    beta: f64,
) -> Vec<f64> {
    let xs = family.prompts();
    let mut grad = vec![0.0; theta.len()];
    for x in 0..xs {
        let lp = family.log_probs(theta, x);
        let a: Vec<f64> = lp
            .iter()
            .enumerate()
            .map(|(y, l)| reward[[x, y]] - beta * (l - log_ref[[x, y]]))
            .collect();
        let mean: f64 = lp.iter().zip(&a).map(|(l, a)| l.exp() * a).sum();
        let weights: Vec<(usize, f64)> = lp
            .iter()
            .zip(&a)
            .enumerate()
            .map(|(y, (l, a))| (y, -l.exp() * (a - mean) / xs as f64))
            .collect();
        family.add_score(theta, x, &weights, &mut grad);
    }
    grad
}

/// $J(\theta)$ (for tests and line searches).
pub fn objective<F: Family>(
    family: &F,
    theta: &[f64],
    log_ref: &Array2<f64>,
    reward: &Array2<f64>,
    beta: f64,
) -> f64 {
    let xs = family.prompts();
    (0..xs)
        .map(|x| {
            family
                .log_probs(theta, x)
                .iter()
                .enumerate()
                .map(|(y, l)| l.exp() * (reward[[x, y]] - beta * (l - log_ref[[x, y]])))
                .sum::<f64>()
        })
        .sum::<f64>()
        / xs as f64
}
