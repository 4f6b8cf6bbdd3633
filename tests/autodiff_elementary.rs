//! Every elementary operation of the engine, differentiated on the reverse tape, against three
//! independent routes: forward-mode duals, Richardson finite differences, and the hand-derived
//! closed form. Inputs from proptest, with the extremes (|x| up to 1e4, values near 0, near the
//! overflow of `exp`) over-represented. Tolerances: `Function::tolerance` of each operation
//! (16 ulps, or the softmax bound `prec::softmax_rel` where the exponent's rounding grows with
//! the inputs) for exact routes; the stated error bound of each finite-difference estimate.

mod autodiff_common;

use autodiff_common::{op_and_args, EXP_OVERFLOW};
use dpo_oracle::autodiff::with_tape;
use dpo_oracle::numdiff;
use dpo_oracle::prec::{rel_error, ELEMENTARY_ULPS};
use dpo_oracle::scalar::Real;
use dpo_oracle::verify::engine::composite::Composite;
use dpo_oracle::verify::engine::function::{
    disagreements, fd_admissible, fd_gradient, tape_gradient, Function, Route,
};
use dpo_oracle::verify::engine::ops::Op;
use ndarray::{array, Array2};
use proptest::prelude::*;

/// Every elementary operation and reduction.
static OPS: [Op; 27] = Op::ALL;

/// Asserts that every disagreement is within its allowance (≤ 1; NaN fails).
fn assert_within(op: Op, xs: &[f64], route: Route) -> Result<(), TestCaseError> {
    let errors = disagreements(&op, xs, route).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        errors.iter().all(|&e| e <= 1.0),
        "{op:?} at {xs:?} against {route:?}: {errors:?}"
    );
    Ok(())
}

proptest! {
    // 512 cases over 27 operations: about 19 draws each per route, microseconds per case.
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (a) Forward-mode duals, seeded one input at a time.
    #[test]
    fn tape_equals_duals((op, xs) in op_and_args(&OPS)) {
        assert_within(op, &xs, Route::Duals)?;
    }

    /// (b) Richardson finite differences, within each estimate's truncation + rounding bound.
    #[test]
    fn tape_equals_finite_differences((op, xs) in op_and_args(&OPS)) {
        assert_within(op, &xs, Route::FiniteDifferences)?;
    }

    /// (c) The closed forms derived by hand.
    #[test]
    fn tape_equals_closed_form((op, xs) in op_and_args(&OPS)) {
        assert_within(op, &xs, Route::ClosedForm)?;
    }

    /// On each domain (chosen where the mathematics is finite) the value and every partial are
    /// finite.
    #[test]
    fn finite_where_the_maths_is((op, xs) in op_and_args(&OPS)) {
        let (value, gradient) = tape_gradient(&op, &xs).unwrap();
        prop_assert!(value.is_finite(), "{op:?} at {xs:?}: value {value}");
        prop_assert!(gradient.iter().all(|g| g.is_finite()), "{op:?} at {xs:?}: {gradient:?}");
    }

    /// The tape records the `f64` evaluation: same code, same value, bit for bit (up to the
    /// sign of zero).
    #[test]
    fn tape_value_is_the_f64_value((op, xs) in op_and_args(&OPS)) {
        let plain = op.apply(&xs).unwrap();
        let (taped, _) = tape_gradient(&op, &xs).unwrap();
        prop_assert!(plain == taped, "{op:?} at {xs:?}: {plain} against {taped}");
    }
}

/// The finite-difference check has teeth: wherever it runs on the built-in inputs, its error
/// bound is below `teeth` of the gradient's scale `max(max_j |∂_j f|, floor)`: 1e-4 with floor
/// 1e-3 for the operations; 1e-3 for the composites with floor their largest possible partial
/// (1 for a log-probability, β for a loss), since their evaluations round at the scale of
/// logits up to 1e4 against a step of 1e-3. A rule wrong by more than that fails the check.
#[test]
fn finite_difference_bound_is_tight_on_the_built_in_inputs() {
    fn check<F: Function>(fs: &[F], teeth: f64, floor: impl Fn(&F) -> f64) {
        for f in fs {
            for xs in f.sample_inputs().iter().filter(|xs| fd_admissible(f, xs)) {
                let exact = f.closed_form_gradient(xs);
                let scale = exact.iter().fold(floor(f), |m, d| m.max(d.abs()));
                for e in fd_gradient(f, xs) {
                    let name = f.name();
                    assert!(e.error <= teeth * scale, "{name} at {xs:?}: {e:?}, {scale}");
                }
            }
        }
    }
    check(&Op::ALL, 1e-4, |_| 1e-3);
    check(&Composite::ALL, 1e-3, |c| match *c {
        Composite::PolicyLogProb { .. } => 1.0,
        Composite::PairLoss { beta } | Composite::TabularPairLoss { beta, .. } => beta,
    });
}

/// A wrong rule is caught: the derivative of `x ↦ x·sigmoid(x)` is not `sigmoid(x)`.
#[test]
fn finite_differences_reject_a_wrong_rule() {
    let f = |x: f64| x * x.sigmoid();
    for x in [-3.0, 0.5, 2.0] {
        let e = numdiff::derivative(f, x, numdiff::DEFAULT_REL_STEP);
        assert!(
            (e.derivative - x.sigmoid()).abs() > 1e3 * e.error,
            "x = {x}: {e:?}"
        );
    }
}

/// The derivative at the kinks is defined as 0, on the tape and in the closed forms.
#[test]
fn kinks_have_derivative_zero() {
    for op in [Op::Relu, Op::Abs] {
        for zero in [0.0, -0.0] {
            let (value, gradient) = tape_gradient(&op, &[zero]).unwrap();
            assert_eq!((value, gradient[0]), (0.0, 0.0), "{op:?} at {zero}");
            assert_eq!(op.closed_form_gradient(&[zero]), vec![0.0]);
        }
    }
}

/// Near the overflow of `exp` the value and derivative are finite up to ln(f64::MAX), and
/// equal to the closed form there.
#[test]
fn exp_is_finite_up_to_its_overflow() {
    for op in [Op::Exp, Op::ExpM1] {
        let (value, gradient) = tape_gradient(&op, &[EXP_OVERFLOW]).unwrap();
        assert!(value.is_finite() && gradient[0].is_finite(), "{op:?}");
        let expected = op.closed_form_gradient(&[EXP_OVERFLOW])[0];
        assert!(rel_error(gradient[0], expected, 1.0) <= ELEMENTARY_ULPS * f64::EPSILON);
    }
}

/// The array helpers: a 2-D array of inputs is lifted onto the tape, and the gradient comes
/// back in the same shape. $f(X) = \sum_{ij} w_{ij} x_{ij}^2$, so $\partial f/\partial x_{ij} =
/// 2 w_{ij} x_{ij}$ (every product is exact in binary floating point for these values).
#[test]
fn array_helpers_keep_the_shape() {
    let x: Array2<f64> = array![[1.0, -2.0, 0.5], [3.0, 0.25, -1.5]];
    let w: Array2<f64> = array![[2.0, 1.0, -4.0], [0.5, 8.0, 1.0]];
    let (value, gradient) = with_tape(|t| {
        let vars = t.vars(&x);
        let terms: Vec<_> = vars
            .iter()
            .zip(w.iter())
            .map(|(&v, &wij)| v.powi(2) * wij)
            .collect();
        let f = Real::sum(&terms).unwrap();
        (f.value(), f.backward().wrt_array(&vars))
    });
    let expected_value: f64 = x.iter().zip(w.iter()).map(|(a, b)| b * a * a).sum();
    assert_eq!(value, expected_value);
    assert_eq!(gradient.shape(), &[2, 3]);
    assert_eq!(gradient, &w * &x * 2.0);
}

/// A variable created after the output has a zero partial; one that the output does not
/// depend on has a zero partial.
#[test]
fn unrelated_variables_have_zero_partials() {
    with_tape(|t| {
        let x = t.var(2.0);
        let unused = t.var(5.0);
        let y = x.exp();
        let later = t.var(1.0);
        let g = y.backward();
        assert_eq!(g.wrt(unused), 0.0);
        assert_eq!(g.wrt(later), 0.0);
        assert_eq!(g.wrt(x), 2f64.exp());
    });
}
