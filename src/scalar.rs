//! The scalar abstraction every formula of the chain is written against.
//!
//! A formula written once as `fn f<R: Real>(…) -> R` can be
//! - **evaluated** with `R = f64`,
//! - **differentiated in reverse mode** with `R = `[`Var`] (one backward sweep gives the whole
//!   gradient),
//! - **differentiated in forward mode** with `R = `[`Dual`], the dual numbers of the `autodiff`
//!   crate: an independent implementation of every derivative rule, used to check ours.
//!
//! `Real` also carries the two reductions whose stable form matters, [`Real::sum`] and
//! [`Real::logsumexp`] (max-shifted); the tape overrides both with a single n-ary node.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

use autodiff::Float;

use crate::autodiff::{elementary, AutodiffError, Var};

/// First-order forward-mode dual number of the `autodiff` crate (value and one directional
/// derivative).
pub type Dual = autodiff::F1;

/// A real scalar: `f64`, a tape variable, or a dual number.
pub trait Real:
    Copy
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// The `f64` value (for a variable or dual, the primal value).
    fn value(self) -> f64;
    /// The constant `c` in the same context as `self` (same tape, zero derivative).
    fn constant(self, c: f64) -> Self;
    /// $e^x$.
    fn exp(self) -> Self;
    /// $\ln x$.
    fn ln(self) -> Self;
    /// $\ln(1 + x)$.
    fn ln_1p(self) -> Self;
    /// $e^x - 1$.
    fn exp_m1(self) -> Self;
    /// $\sqrt{x}$.
    fn sqrt(self) -> Self;
    /// $x^n$.
    fn powi(self, n: i32) -> Self;
    /// $\max(x, 0)$ (derivative 0 at the kink).
    fn relu(self) -> Self;
    /// $|x|$ (derivative 0 at 0).
    fn abs(self) -> Self;
    /// $\sigma(x) = 1/(1 + e^{-x})$.
    fn sigmoid(self) -> Self;
    /// $\ln(1 + e^x)$ in stable form.
    fn softplus(self) -> Self;
    /// $\ln \sigma(x) = -\operatorname{softplus}(-x)$ in stable form.
    fn log_sigmoid(self) -> Self;

    /// $a x + b$ for constants $a$ = `scale`, $b$ = `shift`: one node on the tape instead of two.
    fn affine(self, scale: f64, shift: f64) -> Self {
        self * scale + shift
    }

    /// $\sum_i x_i$. Empty input is an error: there is no context to make the zero in.
    fn sum(xs: &[Self]) -> Result<Self, AutodiffError> {
        let (&first, rest) = xs
            .split_first()
            .ok_or(AutodiffError::EmptyInput { op: "sum" })?;
        Ok(rest.iter().fold(first, |acc, &x| acc + x))
    }

    /// $\log \sum_i e^{x_i} = m + \log\sum_i e^{x_i - m}$ with $m = \max_i x_i$.
    ///
    /// Any NaN gives NaN. If the maximum $m$ is infinite ($+\infty$, or $-\infty$ when every
    /// entry is), the result is $m$, as the mean of the $k$ entries equal to $m$: the limit of the
    /// softmax weights $\partial\\,\mathrm{lse}/\partial x_i$ when those entries move together is
    /// $1/k$ on each of them and $0$ elsewhere, so no derivative becomes NaN (the shift would
    /// give $\infty - \infty$).
    fn logsumexp(xs: &[Self]) -> Result<Self, AutodiffError> {
        let first = *xs
            .first()
            .ok_or(AutodiffError::EmptyInput { op: "logsumexp" })?;
        let m = max_value(xs.iter().map(|x| x.value()));
        if m.is_nan() {
            return Ok(xs
                .iter()
                .copied()
                .find(|x| x.value().is_nan())
                .unwrap_or(first));
        }
        if m.is_infinite() {
            let top: Vec<Self> = xs.iter().copied().filter(|x| x.value() == m).collect();
            return Ok(Self::sum(&top)? / top.len() as f64);
        }
        let shifted: Vec<Self> = xs.iter().map(|&x| (x - m).exp()).collect();
        Ok(Self::sum(&shifted)?.ln() + m)
    }
}

/// The NaN-propagating maximum of a sequence (`f64::max` would skip NaN).
pub(crate) fn max_value(xs: impl Iterator<Item = f64>) -> f64 {
    xs.fold(f64::NEG_INFINITY, |m, x| {
        if m.is_nan() || !(x.is_nan() || x > m) {
            m
        } else {
            x
        }
    })
}

/// $\frac1n\sum_i x_i$; empty input is an error.
pub fn mean<R: Real>(xs: &[R]) -> Result<R, AutodiffError> {
    let n = xs.len() as f64;
    Ok(R::sum(xs).map_err(|_| AutodiffError::EmptyInput { op: "mean" })? / n)
}

/// $\log \operatorname{softmax}(x)\_i = x_i - \operatorname{logsumexp}(x)$.
///
/// If the maximum $m$ is infinite, the result is the limit when the $k$ entries equal to $m$
/// move together: $-\ln k$ for each of them (a constant) and $-\infty$ for the others, where
/// $x_i - \mathrm{lse}$ would be $\infty - \infty$.
pub fn log_softmax<R: Real>(xs: &[R]) -> Result<Vec<R>, AutodiffError> {
    let lse = R::logsumexp(xs).map_err(|_| AutodiffError::EmptyInput { op: "log_softmax" })?;
    let m = lse.value();
    if m.is_infinite() {
        let k = xs.iter().filter(|x| x.value() == m).count() as f64;
        return Ok(xs
            .iter()
            .map(|&x| {
                if x.value() == m {
                    x.constant(-k.ln())
                } else {
                    x - lse
                }
            })
            .collect());
    }
    Ok(xs.iter().map(|&x| x - lse).collect())
}

/// $\sum_i a_i b_i$; the two slices must have the same length.
pub fn dot<R: Real>(a: &[R], b: &[R]) -> Result<R, AutodiffError> {
    if a.len() != b.len() {
        return Err(AutodiffError::ShapeMismatch {
            op: "dot",
            left: vec![a.len()],
            right: vec![b.len()],
        });
    }
    let products: Vec<R> = a.iter().zip(b).map(|(&x, &y)| x * y).collect();
    R::sum(&products).map_err(|_| AutodiffError::EmptyInput { op: "dot" })
}

/// Plain evaluation: each elementary function's value from the shared table.
macro_rules! real_from_table {
    ($($f:ident),*) => { $( fn $f(self) -> Self { elementary::$f(self).0 } )* };
}

impl Real for f64 {
    fn value(self) -> f64 {
        self
    }
    fn constant(self, c: f64) -> Self {
        c
    }
    real_from_table!(
        exp,
        ln,
        ln_1p,
        exp_m1,
        sqrt,
        relu,
        abs,
        sigmoid,
        softplus,
        log_sigmoid
    );
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
}

impl<'id> Real for Var<'id> {
    fn value(self) -> f64 {
        Var::value(self)
    }
    fn constant(self, c: f64) -> Self {
        self.tape().push(c, [])
    }
    fn exp(self) -> Self {
        Var::exp(self)
    }
    fn ln(self) -> Self {
        Var::ln(self)
    }
    fn ln_1p(self) -> Self {
        Var::ln_1p(self)
    }
    fn exp_m1(self) -> Self {
        Var::exp_m1(self)
    }
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    fn relu(self) -> Self {
        Var::relu(self)
    }
    fn abs(self) -> Self {
        Var::abs(self)
    }
    fn sigmoid(self) -> Self {
        Var::sigmoid(self)
    }
    fn softplus(self) -> Self {
        Var::softplus(self)
    }
    fn log_sigmoid(self) -> Self {
        Var::log_sigmoid(self)
    }
    #[inline]
    fn affine(self, scale: f64, shift: f64) -> Self {
        self.unary((self.value() * scale + shift, scale))
    }

    /// One node with every input as a parent, each with partial 1.
    fn sum(xs: &[Self]) -> Result<Self, AutodiffError> {
        let first = xs.first().ok_or(AutodiffError::EmptyInput { op: "sum" })?;
        let v = xs.iter().map(|x| x.value()).sum();
        Ok(first.tape().push_nary(v, xs, |_| 1.0))
    }

    /// One node with partials $\partial/\partial x_i = e^{x_i - \mathrm{lse}} = \operatorname{softmax}(x)\_i$,
    /// and the limits of the provided method where some $x_i$ is infinite.
    fn logsumexp(xs: &[Self]) -> Result<Self, AutodiffError> {
        let first = xs
            .first()
            .ok_or(AutodiffError::EmptyInput { op: "logsumexp" })?;
        let values: Vec<f64> = xs.iter().map(|x| x.value()).collect();
        let lse = <f64 as Real>::logsumexp(&values)?;
        let tape = first.tape();
        Ok(if lse.is_nan() {
            // A NaN entry: the gradient is as undefined as the value.
            tape.push_nary(lse, xs, |_| f64::NAN)
        } else if lse.is_infinite() {
            // The limit of the softmax: 1/k on each of the k entries at the maximum ±∞.
            let k = values.iter().filter(|&&v| v == lse).count() as f64;
            tape.push_nary(lse, xs, |i| if values[i] == lse { 1.0 / k } else { 0.0 })
        } else {
            tape.push_nary(lse, xs, |i| (values[i] - lse).exp())
        })
    }
}

/// Forward mode through the `autodiff` crate's own rules: nothing here uses
/// [`elementary`], so agreement between `Dual` and [`Var`] is a check of two derivations.
impl Real for Dual {
    fn value(self) -> f64 {
        self.x
    }
    fn constant(self, c: f64) -> Self {
        Dual::cst(c)
    }
    fn exp(self) -> Self {
        Float::exp(self)
    }
    fn ln(self) -> Self {
        Float::ln(self)
    }
    fn ln_1p(self) -> Self {
        Float::ln_1p(self)
    }
    fn exp_m1(self) -> Self {
        Float::exp_m1(self)
    }
    fn sqrt(self) -> Self {
        Float::sqrt(self)
    }
    fn powi(self, n: i32) -> Self {
        Float::powi(self, n)
    }
    fn relu(self) -> Self {
        if self.x > 0.0 || self.x.is_nan() {
            self
        } else {
            Dual::cst(0.0)
        }
    }
    fn abs(self) -> Self {
        if self.x == 0.0 {
            Dual::cst(0.0)
        } else {
            Float::abs(self)
        }
    }
    fn sigmoid(self) -> Self {
        if self.x >= 0.0 {
            Dual::cst(1.0) / (Dual::cst(1.0) + Float::exp(-self))
        } else {
            let e = Float::exp(self);
            e / (Dual::cst(1.0) + e)
        }
    }
    /// Two smooth branches, so the derivative is right at 0 as well.
    fn softplus(self) -> Self {
        if self.x >= 0.0 {
            self + Float::ln_1p(Float::exp(-self))
        } else {
            Float::ln_1p(Float::exp(self))
        }
    }
    fn log_sigmoid(self) -> Self {
        -Real::softplus(-self)
    }
}
