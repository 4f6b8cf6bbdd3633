//! Rewards and their equivalence classes: the reparameterisation (Eq. 5), Definition 1,
//! Theorem 1's projection and Proposition 1's unique representative.

use ndarray::{Array1, Array2, Axis};

use crate::partition::log_partition;
use crate::scalar::Real;

/// The implicit reward $\hat r(x,y) = \beta\log\frac{\pi(y|x)}{\pi_{\text{ref}}(y|x)}$.
pub fn implicit_reward<R: Real>(log_pi: R, log_ref: f64, beta: f64) -> R {
    (log_pi - log_ref) * beta
}

/// Eq. 5: $r(x,y) = \beta\log\frac{\pi_r(y|x)}{\pi_{\text{ref}}(y|x)} + \beta\log Z(x)$.
pub fn reparameterised_reward(
    log_pi: &Array2<f64>,
    log_ref: &Array2<f64>,
    log_z: &Array1<f64>,
    beta: f64,
) -> Array2<f64> {
    let mut r = (log_pi - log_ref) * beta;
    for (mut row, z) in r.axis_iter_mut(Axis(0)).zip(log_z) {
        row += beta * z;
    }
    r
}

/// $r(x,y) + f(x)$: a member of the class of $r$ (Definition 1).
pub fn shift(reward: &Array2<f64>, f: &Array1<f64>) -> Array2<f64> {
    reward + &f.view().insert_axis(Axis(1))
}

/// Distance to the equivalence class of Definition 1: with $\delta = a - b$,
/// $\max_x\big(\max_y \delta(x,y) - \min_y \delta(x,y)\big)$, which is 0 exactly when
/// $a(x,y) - b(x,y) = f(x)$ for some $f$.
pub fn class_distance(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b)
        .rows()
        .into_iter()
        .map(|d| {
            let hi = d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lo = d.iter().copied().fold(f64::INFINITY, f64::min);
            hi - lo
        })
        .fold(0.0, f64::max)
}

/// Definition 1: $a \sim b$ iff $a(x,y) - b(x,y) = f(x)$, decided up to `tol`.
pub fn equivalent(a: &Array2<f64>, b: &Array2<f64>, tol: f64) -> bool {
    class_distance(a, b) <= tol
}

/// Theorem 1's projection
/// $h(r)(x,y) = r(x,y) - \beta\log\sum_{y\'}\pi_{\text{ref}}(y\'|x)\\,e^{r(x,y\')/\beta}$
/// $= \beta\log\frac{\pi_r(y|x)}{\pi_{\text{ref}}(y|x)}$: the class representative of $r$
/// (Proposition 1: the only one with $\sum_y \pi_{\text{ref}}(y|x)\\,e^{h(x,y)/\beta} = 1$).
pub fn projection(reward: &Array2<f64>, log_ref: &Array2<f64>, beta: f64) -> Array2<f64> {
    let mut h = reward.clone();
    for ((mut row, l), r) in h
        .axis_iter_mut(Axis(0))
        .zip(log_ref.rows())
        .zip(reward.rows())
    {
        row -= beta * log_partition(&l.to_vec(), &r.to_vec(), beta);
    }
    h
}
