//! Elementary functions, each written once as a pair *(value, derivative)*.
//!
//! The reverse tape ([`super::Var`]) records the derivative as the local weight of a node; plain
//! `f64` evaluation keeps only the value. Writing both side by side keeps the rule next to the
//! function it differentiates (the spirit of num-dual). The forward-mode check in
//! [`crate::scalar`] deliberately does **not** use this table: it composes the dual numbers of the
//! `autodiff` crate, so that it is an independent derivation.
//!
//! Every function here is total on `f64`: a NaN argument gives a NaN value, an infinite argument
//! gives the mathematical limit, and for every finite argument where the function is finite the
//! derivative is finite too.

/// $f(x) = e^x$, $f\'(x) = e^x$.
#[inline]
pub fn exp(x: f64) -> (f64, f64) {
    let v = x.exp();
    (v, v)
}

/// $f(x) = \ln x$, $f\'(x) = 1/x$.
#[inline]
pub fn ln(x: f64) -> (f64, f64) {
    (x.ln(), 1.0 / x)
}

/// $f(x) = \ln(1 + x)$, $f\'(x) = 1/(1 + x)$, accurate for small $|x|$.
#[inline]
pub fn ln_1p(x: f64) -> (f64, f64) {
    (x.ln_1p(), 1.0 / (1.0 + x))
}

/// $f(x) = e^x - 1$, $f\'(x) = e^x$, accurate for small $|x|$.
#[inline]
pub fn exp_m1(x: f64) -> (f64, f64) {
    (x.exp_m1(), x.exp())
}

/// $f(x) = \sqrt{x}$, $f\'(x) = 1/(2\sqrt{x})$.
#[inline]
pub fn sqrt(x: f64) -> (f64, f64) {
    let s = x.sqrt();
    (s, 0.5 / s)
}

/// $f(x) = x^n$, $f\'(x) = n x^{n-1}$ (and $f\' = 0$ for $n = 0$).
#[inline]
pub fn powi(x: f64, n: i32) -> (f64, f64) {
    let d = if n == 0 {
        0.0
    } else {
        f64::from(n) * x.powi(n - 1)
    };
    (x.powi(n), d)
}

/// $f(x) = \max(x, 0)$; $f\'(x) = 1$ for $x > 0$ and $0$ for $x \le 0$.
///
/// At the kink $x = 0$ the derivative is defined as $0$ (the left derivative, one element of
/// the subdifferential $[0, 1]$). A NaN argument gives NaN (unlike `f64::max`, which would
/// silently return 0).
#[inline]
pub fn relu(x: f64) -> (f64, f64) {
    if x.is_nan() {
        (x, x)
    } else if x > 0.0 {
        (x, 1.0)
    } else {
        (0.0, 0.0)
    }
}

/// $f(x) = |x|$; $f\'(x) = \operatorname{sign}(x)$, with $f\'(0) = 0$.
#[inline]
pub fn abs(x: f64) -> (f64, f64) {
    let d = if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x.is_nan() {
        x
    } else {
        0.0
    };
    (x.abs(), d)
}

/// The logistic function $\sigma(x) = 1/(1 + e^{-x})$, $\sigma\'(x) = \sigma(x)\\,\sigma(-x)$.
///
/// Evaluated as $1/(1+e^{-x})$ for $x \ge 0$ and $e^{x}/(1+e^{x})$ for $x < 0$, so that no
/// exponential overflows; the derivative is the product of the two stable halves, which keeps
/// its relative accuracy in both tails.
#[inline]
pub fn sigmoid(x: f64) -> (f64, f64) {
    let (s, c) = logistic_pair(x);
    (s, s * c)
}

/// $f(x) = \operatorname{softplus}(x) = \ln(1 + e^x) = \max(x, 0) + \ln(1 + e^{-|x|})$,
/// $f\'(x) = \sigma(x)$.
#[inline]
pub fn softplus(x: f64) -> (f64, f64) {
    let (value, (s, _)) = softplus_with_logistic(x);
    (value, s)
}

/// $f(x) = \ln \sigma(x) = -\operatorname{softplus}(-x)
/// = -(\max(-x, 0) + \ln(1 + e^{-|x|}))$, $f\'(x) = \sigma(-x)$.
///
/// Finite with a finite derivative for every finite $x$; the naive $\ln(1/(1+e^{-x}))$ is
/// $-\infty$ in `f64` once $x < -709.8$.
#[inline]
pub fn log_sigmoid(x: f64) -> (f64, f64) {
    // softplus(−x) and (σ(−x), σ(x)); the derivative is σ(−x).
    let (value, (s, _)) = softplus_with_logistic(-x);
    (-value, s)
}

/// $(\sigma(x), \sigma(-x))$, each computed without cancellation.
#[inline]
fn logistic_pair(x: f64) -> (f64, f64) {
    logistic_from(x, (-x.abs()).exp())
}

/// $(\sigma(x), \sigma(-x))$ given $e = e^{-|x|} \in [0, 1]$: $1/(1+e)$ and $e/(1+e)$, the
/// larger and the smaller of the two, each within 2 ulps (one division, one product).
/// NaN-propagating.
#[inline]
fn logistic_from(x: f64, e: f64) -> (f64, f64) {
    if x.is_nan() {
        return (x, x);
    }
    let big = 1.0 / (1.0 + e);
    let small = e * big;
    if x >= 0.0 {
        (big, small)
    } else {
        (small, big)
    }
}

/// $\operatorname{softplus}(x) = \max(x, 0) + \ln(1 + e^{-|x|})$ (NaN-propagating) and
/// $(\sigma(x), \sigma(-x))$, sharing the one exponential $e^{-|x|}$.
#[inline]
fn softplus_with_logistic(x: f64) -> (f64, (f64, f64)) {
    let e = (-x.abs()).exp();
    (relu(x).0 + e.ln_1p(), logistic_from(x, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_propagates_through_every_function() {
        let n = f64::NAN;
        let fs: [fn(f64) -> (f64, f64); 10] = [
            exp,
            ln,
            ln_1p,
            exp_m1,
            sqrt,
            relu,
            abs,
            sigmoid,
            softplus,
            log_sigmoid,
        ];
        for f in fs {
            assert!(f(n).0.is_nan());
        }
        assert!(powi(n, 3).0.is_nan());
    }

    #[test]
    fn logistic_family_limits_at_infinity() {
        assert_eq!(sigmoid(f64::INFINITY), (1.0, 0.0));
        assert_eq!(sigmoid(f64::NEG_INFINITY), (0.0, 0.0));
        assert_eq!(softplus(f64::NEG_INFINITY), (0.0, 0.0));
        assert_eq!(softplus(f64::INFINITY), (f64::INFINITY, 1.0));
        assert_eq!(log_sigmoid(f64::INFINITY), (0.0, 0.0));
        assert_eq!(log_sigmoid(f64::NEG_INFINITY), (f64::NEG_INFINITY, 1.0));
    }
}
