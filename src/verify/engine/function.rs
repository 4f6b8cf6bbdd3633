//! A function $f:\mathbb R^n \to \mathbb R$ under test, and the routes to its gradient.
//!
//! Every function is written once, generic over [`Real`]; its gradient is then obtained by
//! - the reverse tape ([`tape_gradient`], one backward sweep),
//! - forward-mode duals ([`dual_gradient`], one sweep per input, seeded with `Dual::var`),
//! - Richardson finite differences ([`fd_gradient`], no derivative rule at all),
//! - the hand-derived closed form ([`Function::closed_form_gradient`]).

use crate::autodiff::{with_tape, AutodiffError};
use crate::numdiff::{self, Estimate, EVALUATION_REL_ERROR};
use crate::prec::rel_error;
use crate::scalar::{Dual, Real};

/// Where an argument may lie: $x \in [\mathit{lo}, \mathit{hi}]$ and $|x| \ge \mathit{min\\\_abs}$
/// (to stay clear of a pole or a branch point at 0, or of results `f64` cannot represent).
/// Inputs are drawn from it within $\pm$[`EXTREME`]; finite differences may step anywhere in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// Smallest admissible value.
    pub lo: f64,
    /// Largest admissible value.
    pub hi: f64,
    /// Smallest admissible magnitude.
    pub min_abs: f64,
    /// The function has a kink at 0 (finite differences must not straddle it).
    pub kink_at_zero: bool,
}

/// Largest magnitude of the built-in and random inputs: margins and logits up to $10^4$.
pub const EXTREME: f64 = 1e4;

impl Domain {
    /// The real line. (Inputs are drawn within $\pm$[`EXTREME`]; the domain is where the
    /// function is defined, which is where finite differences may step.)
    pub const REAL: Domain = Domain::interval(f64::NEG_INFINITY, f64::INFINITY);

    /// $[\mathit{lo}, \mathit{hi}]$.
    pub const fn interval(lo: f64, hi: f64) -> Domain {
        Domain {
            lo,
            hi,
            min_abs: 0.0,
            kink_at_zero: false,
        }
    }

    /// The same interval without a neighbourhood of 0.
    pub const fn away_from_zero(self, min_abs: f64) -> Domain {
        Domain { min_abs, ..self }
    }

    /// The same interval, marked as having a kink at 0.
    pub const fn with_kink(self) -> Domain {
        Domain {
            kink_at_zero: true,
            ..self
        }
    }

    /// Whether `x` is admissible.
    pub fn contains(&self, x: f64) -> bool {
        x >= self.lo && x <= self.hi && x.abs() >= self.min_abs
    }

    /// Built-in sample points: the extremes, values near 0 and near the overflow of `exp`,
    /// and ordinary values, restricted to the domain.
    pub fn sample_points(&self) -> Vec<f64> {
        const POINTS: [f64; 26] = [
            -1e4, -709.78, -700.0, -100.0, -30.0, -3.0, -1.0, -0.999_999, -0.5, -1e-3, -1e-8,
            -1e-300, 0.0, 1e-300, 1e-8, 1e-3, 0.5, 1.0, 2.5, 3.0, 30.0, 100.0, 700.0, 709.0,
            709.78, 1e4,
        ];
        let mut points: Vec<f64> = POINTS.into_iter().filter(|&x| self.contains(x)).collect();
        for end in [self.lo, self.hi] {
            if end.is_finite() && self.contains(end) && !points.contains(&end) {
                points.push(end);
            }
        }
        points
    }
}

/// How closely two evaluations of the same derivative must agree:
/// `rel_error(a, b, floor) <= rel`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative tolerance.
    pub rel: f64,
    /// Magnitude below which the error is measured absolutely (the scale of the gradient).
    pub floor: f64,
}

impl Tolerance {
    /// The error of `a` against the reference `b` in units of this tolerance (≤ 1 passes).
    pub fn ratio(&self, a: f64, b: f64) -> f64 {
        rel_error(a, b, self.floor) / self.rel
    }
}

/// A function under test: written once over [`Real`], with its domain, its hand-derived
/// gradient and the tolerances its checks are held to.
pub trait Function {
    /// A short name for reports.
    fn name(&self) -> String;
    /// Whether `n` arguments are admissible.
    fn accepts(&self, n: usize) -> bool;
    /// The domain of argument `i`.
    fn domain(&self, i: usize) -> Domain;
    /// The built-in inputs of the self-verification.
    fn sample_inputs(&self) -> Vec<Vec<f64>>;
    /// The function, generic over the scalar.
    fn apply<R: Real>(&self, xs: &[R]) -> Result<R, AutodiffError>;
    /// The gradient, derived by hand and written without the engine's derivative rules.
    fn closed_form_gradient(&self, xs: &[f64]) -> Vec<f64>;
    /// The agreement required between exact routes (tape, duals, closed form) at `xs`.
    fn tolerance(&self, xs: &[f64]) -> Tolerance;
    /// The length over which the function varies along argument `i` near `xs` (the scale of
    /// the finite-difference step): 1 for exponential-type functions, the distance to the
    /// singularity for $\ln$, $\sqrt{}$, $x^n$, $1/x$.
    fn length_scale(&self, xs: &[f64], i: usize) -> f64 {
        xs[i].abs().max(1.0)
    }
    /// The absolute rounding error of one `f64` evaluation at `xs` whose value is `value`.
    fn evaluation_noise(&self, _xs: &[f64], value: f64) -> f64 {
        EVALUATION_REL_ERROR * value.abs()
    }
}

/// Value and gradient from one backward sweep of the tape.
pub fn tape_gradient<F: Function>(f: &F, xs: &[f64]) -> Result<(f64, Vec<f64>), AutodiffError> {
    with_tape(|t| {
        let vars: Vec<_> = xs.iter().map(|&x| t.var(x)).collect();
        let y = f.apply(&vars)?;
        Ok((y.value(), y.backward().wrt_slice(&vars)))
    })
}

/// Value and gradient from forward-mode duals: one pass per input, that input seeded with
/// `Dual::var` and the others `Dual::cst`.
pub fn dual_gradient<F: Function>(f: &F, xs: &[f64]) -> Result<(f64, Vec<f64>), AutodiffError> {
    let value = f.apply(xs)?;
    let gradient = (0..xs.len())
        .map(|i| f.apply(&seeded(xs, i)).map(|y| y.deriv()))
        .collect::<Result<_, _>>()?;
    Ok((value, gradient))
}

/// `xs` as duals with input `i` seeded (`Dual::var`) and the others constant (`Dual::cst`).
pub fn seeded(xs: &[f64], i: usize) -> Vec<Dual> {
    xs.iter()
        .enumerate()
        .map(|(j, &x)| if i == j { Dual::var(x) } else { Dual::cst(x) })
        .collect()
}

/// The finite-difference step for argument `i`, relative to `max(1, |x_i|)` as
/// [`numdiff::derivative`] expects it.
fn rel_step<F: Function>(f: &F, xs: &[f64], i: usize) -> f64 {
    numdiff::DEFAULT_REL_STEP * f.length_scale(xs, i) / xs[i].abs().max(1.0)
}

/// Whether finite differences are meaningful at `xs`: every abscissa $x_i \pm h_i$ lies in the
/// domain and on the same side of a kink, and the half step spans at least $10^6$ ulps of
/// $x_i$ (so that rounding the abscissae leaves the ratio 2 of the steps intact to $10^{-6}$).
pub fn fd_admissible<F: Function>(f: &F, xs: &[f64]) -> bool {
    (0..xs.len()).all(|i| {
        let h = rel_step(f, xs, i) * xs[i].abs().max(1.0);
        let (d, lo, hi) = (f.domain(i), xs[i] - h, xs[i] + h);
        let same_side = !d.kink_at_zero || lo > 0.0 || hi < 0.0;
        let resolved = h / 2.0 >= 1e6 * f64::EPSILON * xs[i].abs();
        d.contains(lo) && d.contains(hi) && same_side && resolved
    })
}

/// Richardson finite differences along each argument, with the error bound of each estimate
/// (truncation estimate plus the rounding bound for the function's evaluation noise).
///
/// The noise along argument $i$ is twice the largest [`Function::evaluation_noise`] at
/// $x_i - h$, $x_i$ and $x_i + h$: at a step of $10^{-3}$ of the length scale the functions
/// here are monotone or convex across the step, so $|f|$ inside stays within that range.
pub fn fd_gradient<F: Function>(f: &F, xs: &[f64]) -> Vec<Estimate> {
    let noise_at = |point: &[f64]| match f.apply(point) {
        Ok(v) => f.evaluation_noise(point, v),
        Err(_) => f64::NAN,
    };
    let mut point = xs.to_vec();
    (0..xs.len())
        .map(|i| {
            let xi = xs[i];
            let rel = rel_step(f, xs, i);
            let h = rel * xi.abs().max(1.0);
            let mut noise = noise_at(&point);
            for side in [xi - h, xi + h] {
                point[i] = side;
                noise = noise.max(noise_at(&point));
            }
            point[i] = xi;
            numdiff::derivative_with_noise(
                |t| {
                    point[i] = t;
                    let v = f.apply(&point).unwrap_or(f64::NAN);
                    point[i] = xi;
                    v
                },
                xi,
                rel,
                2.0 * noise,
            )
        })
        .collect()
}

/// $|\text{tape} - \text{estimate}|$ in units of the estimate's error bound (≤ 1 passes; an
/// exact match is 0 even when the bound is 0).
pub fn fd_ratio(tape: f64, estimate: &Estimate) -> f64 {
    let diff = (tape - estimate.derivative).abs();
    if diff == 0.0 {
        0.0
    } else {
        diff / estimate.error
    }
}

/// A route to the gradient, checked against the reverse tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Forward-mode duals: value and every partial, in units of [`Function::tolerance`].
    Duals,
    /// Richardson finite differences: every partial, in units of the estimate's error bound
    /// (no entries where [`fd_admissible`] is false).
    FiniteDifferences,
    /// The hand-derived gradient: every partial, in units of [`Function::tolerance`].
    ClosedForm,
}

/// The disagreements between the tape and `route` at `xs`, each in units of what is allowed
/// (≤ 1 passes).
pub fn disagreements<F: Function>(
    f: &F,
    xs: &[f64],
    route: Route,
) -> Result<Vec<f64>, AutodiffError> {
    let (value, gradient) = tape_gradient(f, xs)?;
    let tol = f.tolerance(xs);
    Ok(match route {
        Route::Duals => {
            let (dual_value, dual_gradient) = dual_gradient(f, xs)?;
            std::iter::once(tol.ratio(value, dual_value))
                .chain(
                    gradient
                        .iter()
                        .zip(&dual_gradient)
                        .map(|(&a, &b)| tol.ratio(a, b)),
                )
                .collect()
        }
        Route::FiniteDifferences if fd_admissible(f, xs) => gradient
            .iter()
            .zip(&fd_gradient(f, xs))
            .map(|(&a, e)| fd_ratio(a, e))
            .collect(),
        Route::FiniteDifferences => Vec::new(),
        Route::ClosedForm => gradient
            .iter()
            .zip(&f.closed_form_gradient(xs))
            .map(|(&a, &b)| tol.ratio(a, b))
            .collect(),
    })
}
