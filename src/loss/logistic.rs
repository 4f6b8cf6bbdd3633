//! The logistic family: DPO's sigmoid loss (Eq. 7), its label-smoothed form cDPO, and the
//! unbiased "robust" form. Each is a function of the margin $z = \beta h$ alone.
//!
//! Every loss is written through $\log\sigma$, evaluated as
//! $-\operatorname{softplus}(-x) = -(\max(-x, 0) + \ln(1 + e^{-|x|}))$, so it is finite for every
//! finite margin (the naive $\ln(1/(1+e^{-x}))$ is $-\infty$ in `f32` once $x < -88.7$; see
//! [`sigmoid_loss_f32`] and [`sigmoid_loss_f32_naive`]).

use crate::scalar::Real;

/// cDPO (conservative DPO), and DPO itself at $\varepsilon = 0$:
/// $$\ell(z) = -(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z).$$
///
/// Closed-form derivative: [`cdpo_dz`].
pub fn cdpo<R: Real>(z: R, eps: f64) -> R {
    -(z.log_sigmoid() * (1.0 - eps)) - (-z).log_sigmoid() * eps
}

/// $\ell\'(z) = -(1-\varepsilon)\\,\sigma(-z) + \varepsilon\\,\sigma(z)$ (from
/// $\frac{d}{dz}\log\sigma(z) = \sigma(-z)$).
pub fn cdpo_dz(z: f64, eps: f64) -> f64 {
    -(1.0 - eps) * (-z).sigmoid() + eps * z.sigmoid()
}

/// The robust (unbiased under label noise of rate $\varepsilon$) loss:
/// $$\ell(z) = \frac{-(1-\varepsilon)\log\sigma(z) + \varepsilon\log\sigma(-z)}{1 - 2\varepsilon},
/// \qquad 0 \le \varepsilon < \tfrac12.$$
/// It is negative for $z$ below $\ln\frac{\varepsilon}{1-\varepsilon}$ when $\varepsilon > 0$
/// (that is not a bug: the estimator is unbiased, not non-negative).
///
/// Closed-form derivative: [`robust_dz`].
pub fn robust<R: Real>(z: R, eps: f64) -> R {
    (-(z.log_sigmoid() * (1.0 - eps)) + (-z).log_sigmoid() * eps) / (1.0 - 2.0 * eps)
}

/// $\ell\'(z) = \dfrac{-(1-\varepsilon)\\,\sigma(-z) - \varepsilon\\,\sigma(z)}{1-2\varepsilon}$.
pub fn robust_dz(z: f64, eps: f64) -> f64 {
    (-(1.0 - eps) * (-z).sigmoid() - eps * z.sigmoid()) / (1.0 - 2.0 * eps)
}

/// The sigmoid loss $-\log\sigma(z) = \operatorname{softplus}(-z)$ evaluated in `f32`
/// arithmetic in the stable form $\max(-z, 0) + \ln(1 + e^{-|z|})$: what a correct `f32`
/// trainer computes. Finite for every finite `z`.
pub fn sigmoid_loss_f32(z: f32) -> f32 {
    (-z).max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The naive $\ln(1 + e^{-z})$ in `f32`: overflows to $+\infty$ once $e^{-z}$ does, at
/// $z < -88.72$. Kept to demonstrate that failure (a reported bug class), never used.
pub fn sigmoid_loss_f32_naive(z: f32) -> f32 {
    (1.0 + (-z).exp()).ln()
}
