//! The squared (regression) family: IPO and SPPO-hard. They regress log-ratios onto the
//! targets $\pm\frac{1}{2\beta}$ instead of maximising a likelihood, so they are bounded below by
//! zero and stay finite for every finite input.

use crate::scalar::Real;

/// IPO: $\ell = \big(h - \frac{1}{2\beta}\big)^2$ with $h = \ell_w - \ell_l$; here $\beta$ plays the
/// role of IPO's $\tau$. Whether $\ell_w, \ell_l$ are summed or token-averaged log-ratios is a
/// convention (see [`crate::convention`]); this formula takes them as given.
///
/// Closed form: $\partial\ell/\partial\ell_w = 2(h - \frac1{2\beta}) = -\partial\ell/\partial\ell_l$.
pub fn ipo<R: Real>(beta: f64, lw: R, ll: R) -> R {
    (lw - ll - 0.5 / beta).powi(2)
}

/// The closed-form gradient of [`ipo`] with respect to $(\ell_w, \ell_l)$.
pub fn ipo_grad(beta: f64, lw: f64, ll: f64) -> [f64; 2] {
    let g = 2.0 * (lw - ll - 0.5 / beta);
    [g, -g]
}

/// SPPO-hard: $\ell = \big(\ell_w - \frac1{2\beta}\big)^2 + \big(\ell_l + \frac1{2\beta}\big)^2$.
///
/// Closed form: $\partial\ell/\partial\ell_w = 2(\ell_w - \frac1{2\beta})$,
/// $\partial\ell/\partial\ell_l = 2(\ell_l + \frac1{2\beta})$.
pub fn sppo_hard<R: Real>(beta: f64, lw: R, ll: R) -> R {
    (lw - 0.5 / beta).powi(2) + (ll + 0.5 / beta).powi(2)
}

/// The closed-form gradient of [`sppo_hard`].
pub fn sppo_hard_grad(beta: f64, lw: f64, ll: f64) -> [f64; 2] {
    [2.0 * (lw - 0.5 / beta), 2.0 * (ll + 0.5 / beta)]
}
