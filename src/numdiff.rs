//! Central finite differences with one Richardson extrapolation step: the derivative-free
//! route of the three independent gradient checks.
//!
//! $D(h) = \frac{f(x+h) - f(x-h)}{2h} = f\'(x) + \frac{h^2}{6} f\'\'\'(x) + O(h^4)$, so
//! $R(h) = \frac{4 D(h/2) - D(h)}{3} = f\'(x) + O(h^4)$.
//!
//! The error bound returned with each estimate has two parts:
//! - **truncation**: $|R(h) - D(h/2)|$ estimates the truncation error of $D(h/2)$ and, for
//!   smooth $f$, exceeds that of $R(h)$ by a factor of order $h^{-2}$;
//! - **rounding**: if each evaluation of $f$ carries an absolute error at most $\eta$, then
//!   $D(h)$ carries at most $\eta/h$ and $D(h/2)$ at most $2\eta/h$, so $R(h)$ carries at most
//!   $(4\cdot 2\eta/h + \eta/h)/3 = 3\eta/h$.
//!
//! The steps are the differences of the representable points actually evaluated
//! ($(x+h) - (x-h)$ in floating point), so that rounding the abscissae costs nothing.

/// Default relative step: balances the $O(h^4)$ truncation of the extrapolated estimate against
/// rounding $\approx u|f|/h$ (optimum near $u^{1/5} \approx 6\cdot10^{-4}$).
pub const DEFAULT_REL_STEP: f64 = 1e-3;

/// Relative error assumed for one evaluation of $f$ by [`derivative`] and [`gradient`]:
/// $2^{-46} = 64u$. Library elementary functions are within 1 ulp and the engine's stable
/// forms chain a few of them, so this covers them and short composites whose terms do not
/// cancel; a caller that knows its function's absolute error uses [`derivative_with_noise`].
pub const EVALUATION_REL_ERROR: f64 = 64.0 * crate::prec::UNIT_ROUNDOFF;

/// The spacing of `f64` near 0, $2^{-1074}$: the least absolute rounding error of any result.
const SUBNORMAL_SPACING: f64 = f64::MIN_POSITIVE * f64::EPSILON;

/// A derivative estimate and a bound on its error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Richardson-extrapolated central difference.
    pub derivative: f64,
    /// Truncation estimate $|R(h) - D(h/2)|$ plus the rounding bound $3\eta/h$ (module
    /// documentation): a conservative bound on $|$`derivative`$ - f\'(x)|$.
    pub error: f64,
}

/// $f\'(x)$ by Richardson-extrapolated central differences with step
/// $h = \texttt{rel\\\_step}\cdot\max(1, |x|)$, each evaluation of $f$ assumed accurate to
/// [`EVALUATION_REL_ERROR`] relative.
pub fn derivative(f: impl FnMut(f64) -> f64, x: f64, rel_step: f64) -> Estimate {
    richardson(f, x, rel_step, |magnitude| EVALUATION_REL_ERROR * magnitude)
}

/// As [`derivative`], with the absolute error `noise` $=\eta$ of one evaluation of $f$ given by
/// the caller (for a composite whose terms cancel, $\eta$ scales with the terms, not with $f$).
pub fn derivative_with_noise(
    f: impl FnMut(f64) -> f64,
    x: f64,
    rel_step: f64,
    noise: f64,
) -> Estimate {
    richardson(f, x, rel_step, |_| noise)
}

/// The extrapolation; `noise(m)` is the absolute evaluation error given the largest $|f|$ seen.
fn richardson(
    mut f: impl FnMut(f64) -> f64,
    x: f64,
    rel_step: f64,
    noise: impl Fn(f64) -> f64,
) -> Estimate {
    let h = rel_step * x.abs().max(1.0);
    let mut magnitude = 0.0_f64;
    let mut central = |h: f64| {
        let (right, left) = (x + h, x - h);
        let (fr, fl) = (f(right), f(left));
        magnitude = magnitude.max(fr.abs()).max(fl.abs());
        (fr - fl) / (right - left)
    };
    let d1 = central(h);
    let d2 = central(h / 2.0);
    // (4 D(h/2) − D(h))/3, written so that it cannot overflow where D does not.
    let r = d2 + (d2 - d1) / 3.0;
    Estimate {
        derivative: r,
        // An evaluation is never more accurate than the spacing of subnormal numbers.
        error: (r - d2).abs() + 3.0 * noise(magnitude).max(SUBNORMAL_SPACING) / h,
    }
}

/// The gradient of $f:\mathbb R^n \to \mathbb R$ at `x`, one coordinate at a time.
pub fn gradient(f: impl Fn(&[f64]) -> f64, x: &[f64], rel_step: f64) -> Vec<Estimate> {
    let mut point = x.to_vec();
    (0..x.len())
        .map(|i| {
            let xi = x[i];
            derivative(
                |t| {
                    point[i] = t;
                    let v = f(&point);
                    point[i] = xi;
                    v
                },
                xi,
                rel_step,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrapolation_is_fourth_order_on_sine() {
        // Closed form: d/dx sin x = cos x. With h = 1e-3 the O(h^4) term is ~1e-13.
        for &x in &[0.0, 0.3, 1.7, -2.5] {
            let e = derivative(f64::sin, x, DEFAULT_REL_STEP);
            assert!((e.derivative - x.cos()).abs() < 1e-11, "x = {x}: {e:?}");
        }
    }

    #[test]
    fn no_overflow_below_the_overflow_of_f() {
        // exp(709) ≈ 8.2e307: 4·D(h/2) would overflow, the written form does not.
        let x = 709.0;
        let e = derivative(f64::exp, x, 1e-6);
        assert!(e.derivative.is_finite() && e.error.is_finite(), "{e:?}");
        assert!((e.derivative - x.exp()).abs() <= e.error, "{e:?}");
    }

    #[test]
    fn the_bound_covers_rounding() {
        // f(x) = 1e12 + x: every evaluation rounds at 1e12·u ≈ 1e-4, the truncation is 0, so
        // the whole error is rounding, and the bound must cover it.
        let f = |x: f64| 1e12 + x;
        for x in [0.3, -2.0, 7.5] {
            let e = derivative_with_noise(f, x, DEFAULT_REL_STEP, 1e12 * f64::EPSILON);
            assert!((e.derivative - 1.0).abs() <= e.error, "x = {x}: {e:?}");
            assert!(e.error < 1.0, "x = {x}: {e:?}");
        }
    }
}
