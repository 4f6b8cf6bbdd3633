//! EXO (pairwise): the reverse KL between the model's preference distribution
//! $q_w = \sigma(z)$, $q_l = \sigma(-z)$ and the smoothed label distribution
//! $(1-\varepsilon, \varepsilon)$:
//! $$\ell(z) = q_w\big(\log q_w - \log(1-\varepsilon)\big) + q_l\big(\log q_l - \log\varepsilon\big),
//! \qquad 0 < \varepsilon < 1.$$

use crate::scalar::Real;

/// The EXO pair loss at margin $z = \beta h$ with smoothing $\varepsilon \in (0, 1)$.
///
/// Closed-form derivative: [`exo_pair_dz`].
pub fn exo_pair<R: Real>(z: R, eps: f64) -> R {
    let qw = z.sigmoid();
    let ql = (-z).sigmoid();
    qw * (z.log_sigmoid() - (1.0 - eps).ln()) + ql * ((-z).log_sigmoid() - eps.ln())
}

/// With $q_w\' = q_w q_l = -q_l\'$ and $\log q_w - \log q_l = z$, the two product rules collapse to
/// $$\ell\'(z) = q_w q_l\\,\big(z - \log(1-\varepsilon) + \log\varepsilon\big).$$
pub fn exo_pair_dz(z: f64, eps: f64) -> f64 {
    z.sigmoid() * (-z).sigmoid() * (z - (1.0 - eps).ln() + eps.ln())
}
