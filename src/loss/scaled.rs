//! Overflow-safe forms of the two reductions every loss uses: the scaled difference
//! $\beta(a - b)$ and the batch mean $\frac1n\sum_i x_i$. Each takes the plain form when it is
//! finite (so ordinary values are bit-for-bit unchanged) and otherwise rescales, so that an
//! intermediate overflow never turns a representable result into $\pm\infty$ or NaN.

use crate::scalar::Real;

/// $\beta(a - b)$, the difference taken first (as the formula reads). When $a - b$ overflows
/// `f64` although $a$ and $b$ are finite, it is evaluated as $2\\,\beta\\,(a/2 - b/2)$ (the halves
/// cannot overflow, and the scalings by 2 are exact), which is finite whenever
/// $|\beta(a - b)| \le$ `f64::MAX`.
pub fn scaled_difference<R: Real>(beta: f64, a: R, b: R) -> R {
    let plain = (a - b) * beta;
    if plain.value().is_finite() || !(a.value().is_finite() && b.value().is_finite()) {
        plain
    } else {
        (a * 0.5 - b * 0.5) * beta * 2.0
    }
}

/// $\frac1n\sum_i x_i$: the sum divided once by $n$, or, when the sum overflows while every
/// term is finite, $\sum_i (x_i / n)$, finite whenever the mean is. `xs` must not be empty (the
/// mean of nothing is NaN here).
pub fn mean(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let plain = xs.iter().sum::<f64>() / n;
    if plain.is_finite() || !xs.iter().all(|x| x.is_finite()) {
        plain
    } else {
        xs.iter().map(|x| x / n).sum()
    }
}
