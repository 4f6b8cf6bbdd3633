//! DiscoPOP (the log-ratio modulated loss found by LLM-driven objective discovery): a blend of
//! the logistic and exponential losses, gated by $m = \sigma(z/\tau)$:
//! $$\ell(z) = -\log\sigma(z)\\,(1 - m) + e^{-z} m, \qquad z = \beta h,\ \tau > 0
//! \ (\text{default } 0.05).$$

use crate::scalar::Real;

/// The DiscoPOP loss. The exponential term is evaluated as $e^{-z + \log\sigma(z/\tau)}$: the
/// literal $e^{-z}\cdot m$ is $\infty \cdot 0 = \mathrm{NaN}$ once $e^{-z}$ overflows
/// ($z < -709.8$) while $m$ underflows; the exponent form is the exact product and stays finite
/// (it tends to $0$ for $\tau < 1$).
///
/// Closed-form derivative: [`discopop_dz`].
pub fn discopop<R: Real>(z: R, tau: f64) -> R {
    let m = (z / tau).sigmoid();
    let exponential = (-z + (z / tau).log_sigmoid()).exp();
    -(z.log_sigmoid()) * (-m + 1.0) + exponential
}

/// With $m\' = m(1-m)/\tau$ and $E = e^{-z}m$:
/// $$\ell\'(z) = -\sigma(-z)(1-m) + \log\sigma(z)\\,\frac{m(1-m)}{\tau} +
/// E\Big(\frac{1-m}{\tau} - 1\Big).$$
pub fn discopop_dz(z: f64, tau: f64) -> f64 {
    let m = (z / tau).sigmoid();
    let one_minus_m = (-z / tau).sigmoid();
    let exponential = (-z + (z / tau).log_sigmoid()).exp();
    -(-z).sigmoid() * one_minus_m
        + z.log_sigmoid() * m * one_minus_m / tau
        + exponential * (one_minus_m / tau - 1.0)
}
