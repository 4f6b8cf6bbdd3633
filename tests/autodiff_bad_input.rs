//! Bad input: NaN and infinite inputs propagate (never a panic, never a NaN that the input did
//! not contain), and misuse of the API is a typed error naming the problem. Mixing the
//! variables of two tapes is a compile error (the `compile_fail` example of
//! `dpo_oracle::autodiff::tape`).

mod autodiff_common;

use autodiff_common::{beta, op_and_args, scalar_in};
use dpo_oracle::autodiff::{with_tape, AutodiffError, Var};
use dpo_oracle::prec::ELEMENTARY_ULPS;
use dpo_oracle::scalar::{dot, log_softmax, mean, Dual, Real};
use dpo_oracle::verify::engine::composite::{mean_tabular_dpo_loss, tabular_log_prob, Composite};
use dpo_oracle::verify::engine::function::{tape_gradient, Domain, Function};
use dpo_oracle::verify::engine::ops::Op;
use proptest::collection::vec;
use proptest::prelude::*;

static OPS: [Op; 27] = Op::ALL;

const INF: f64 = f64::INFINITY;

/// An entry that is finite, $+\infty$ or $-\infty$.
fn finite_or_infinite() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => scalar_in(Domain::REAL),
        1 => Just(INF),
        1 => Just(-INF),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any argument of any operation set to NaN: the value is NaN, and nothing panics.
    #[test]
    fn nan_propagates_through_every_op((op, xs) in op_and_args(&OPS), at in any::<prop::sample::Index>()) {
        let mut poisoned = xs;
        let i = at.index(poisoned.len());
        poisoned[i] = f64::NAN;
        let (value, _) = tape_gradient(&op, &poisoned).unwrap();
        prop_assert!(value.is_nan(), "{op:?} at {poisoned:?}: {value}");
    }

    /// log-sum-exp over entries that may be ±∞: when the maximum is infinite the entries at
    /// it share the weight equally and the others get none; −∞ entries next to a finite
    /// maximum get none; nothing is NaN. Log-softmax likewise.
    #[test]
    fn logsumexp_and_log_softmax_with_infinite_entries(xs in vec(finite_or_infinite(), 1..8)) {
        let (value, gradient) = tape_gradient(&Op::Logsumexp, &xs).unwrap();
        prop_assert!(!value.is_nan() && gradient.iter().all(|g| !g.is_nan()), "{xs:?}: {value} {gradient:?}");
        let m = xs.iter().copied().fold(-INF, f64::max);
        let top = xs.iter().filter(|&&x| x == m).count();
        for (&x, &g) in xs.iter().zip(&gradient) {
            if m.is_infinite() {
                prop_assert_eq!(g, if x == m { 1.0 / top as f64 } else { 0.0 });
            } else if x == -INF {
                prop_assert_eq!(g, 0.0);
            }
        }
        for k in 0..xs.len() {
            let (value, gradient) = tape_gradient(&Op::LogSoftmax(k), &xs).unwrap();
            prop_assert!(!value.is_nan() && gradient.iter().all(|g| !g.is_nan()), "{xs:?}, k = {k}");
        }
    }

    /// A pair whose policy gives the chosen response probability 0 (a logit of −∞): the loss
    /// is +∞ and the gradient is the finite limit $-\beta(\delta_{jw} - \delta_{jl})$.
    #[test]
    fn dpo_loss_of_an_impossible_chosen_response(
        others in vec(scalar_in(Domain::interval(-30.0, 30.0)), 2..6),
        beta in beta(),
    ) {
        let mut theta = others.clone();
        theta.insert(0, -INF);
        let n = theta.len();
        let xs = [theta, vec![0.0; n]].concat();
        let c = Composite::TabularPairLoss { beta, chosen: 0, rejected: 1 };
        let (value, gradient) = tape_gradient(&c, &xs).unwrap();
        prop_assert_eq!(value, INF);
        let mut expected = vec![0.0; 2 * n];
        expected[0] = -beta;
        expected[1] = beta;
        expected[n] = beta;
        expected[n + 1] = -beta;
        // The reference's softmax weights cancel in the backward sweep: the error is absolute,
        // a few ulps at the scale β.
        for (g, e) in gradient.iter().zip(&expected) {
            prop_assert!((g - e).abs() <= ELEMENTARY_ULPS * f64::EPSILON * beta, "{gradient:?}");
        }
    }
}

/// Every unary operation at ±∞ where its domain reaches there: value and derivative are the
/// limits, never NaN.
#[test]
fn unary_ops_have_limits_at_infinity() {
    for op in Op::ALL.into_iter().filter(|op| op.arity() == Some(1)) {
        let d = op.domain(0);
        for x in [-INF, INF].into_iter().filter(|&x| d.lo <= x && x <= d.hi) {
            let (value, gradient) = tape_gradient(&op, &[x]).unwrap();
            assert!(
                !value.is_nan() && !gradient[0].is_nan(),
                "{op:?} at {x}: {value}, {gradient:?}"
            );
        }
    }
}

/// Named non-finite cases, from the brief: the gradient of log σ at −∞, exp at −∞, log-sum-exp
/// with −∞ entries.
#[test]
fn named_limits() {
    assert_eq!(
        tape_gradient(&Op::LogSigmoid, &[-INF]).unwrap(),
        (-INF, vec![1.0])
    );
    assert_eq!(tape_gradient(&Op::Exp, &[-INF]).unwrap(), (0.0, vec![0.0]));
    let (value, gradient) = tape_gradient(&Op::Logsumexp, &[-INF, 0.0, -INF]).unwrap();
    assert_eq!((value, gradient), (0.0, vec![0.0, 1.0, 0.0]));
    // Every entry at −∞: they share the weight, as the limit when they move together.
    let (value, gradient) = tape_gradient(&Op::Logsumexp, &[-INF, -INF]).unwrap();
    assert_eq!((value, gradient), (-INF, vec![0.5, 0.5]));
    let (value, gradient) = tape_gradient(&Op::LogSoftmax(0), &[-INF]).unwrap();
    assert_eq!((value, gradient), (0.0, vec![0.0]));
}

/// Every reduction on an empty slice reports `EmptyInput` with its own name, for `f64`, tape
/// variables and duals alike.
#[test]
fn empty_inputs_are_typed_errors() {
    fn check<R: Real>(empty: &[R]) {
        let name = |e: AutodiffError| match e {
            AutodiffError::EmptyInput { op } => op,
            other => panic!("expected EmptyInput, got {other:?}"),
        };
        assert_eq!(name(R::sum(empty).unwrap_err()), "sum");
        assert_eq!(name(R::logsumexp(empty).unwrap_err()), "logsumexp");
        assert_eq!(name(mean(empty).unwrap_err()), "mean");
        assert_eq!(name(log_softmax(empty).unwrap_err()), "log_softmax");
        assert_eq!(name(dot(empty, empty).unwrap_err()), "dot");
    }
    check::<f64>(&[]);
    check::<Dual>(&[]);
    with_tape(|t| {
        let _ = t.var(1.0);
        check::<Var<'_>>(&[]);
    });
}

/// `dot` of slices of different lengths is a `ShapeMismatch` giving both lengths.
#[test]
fn dot_of_different_lengths_is_a_shape_mismatch() {
    let err = dot(&[1.0, 2.0], &[1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(
        err,
        AutodiffError::ShapeMismatch {
            op: "dot",
            left: vec![2],
            right: vec![3]
        }
    );
    assert_eq!(
        err.to_string(),
        "dot: shape mismatch, left [2] against right [3]"
    );
    with_tape(|t| {
        let a = [t.var(1.0)];
        let b = [t.var(1.0), t.var(2.0)];
        assert!(matches!(
            dot(&a, &b),
            Err(AutodiffError::ShapeMismatch { op: "dot", .. })
        ));
    });
}

/// An index outside the policy's responses is `IndexOutOfRange`; a reference of another size
/// is `ShapeMismatch`; a batch without pairs is `EmptyInput`.
#[test]
fn composite_misuse_is_typed() {
    let theta = [0.0, 1.0, 2.0];
    assert_eq!(
        tabular_log_prob(&theta, 3).unwrap_err(),
        AutodiffError::IndexOutOfRange {
            op: "tabular_log_prob",
            index: 3,
            len: 3
        }
    );
    let reference = [-1.0; 3];
    assert!(matches!(
        mean_tabular_dpo_loss(&theta, &reference, &[(0, 5)], 0.1),
        Err(AutodiffError::IndexOutOfRange {
            index: 5,
            len: 3,
            ..
        })
    ));
    assert!(matches!(
        mean_tabular_dpo_loss(&theta, &reference[..2], &[(0, 1)], 0.1),
        Err(AutodiffError::ShapeMismatch { .. })
    ));
    assert_eq!(
        mean_tabular_dpo_loss(&theta, &reference, &[], 0.1).unwrap_err(),
        AutodiffError::EmptyInput { op: "mean" }
    );
    assert_eq!(
        AutodiffError::IndexOutOfRange {
            op: "tabular_log_prob",
            index: 3,
            len: 3
        }
        .to_string(),
        "tabular_log_prob: index 3 out of range 0..3"
    );
}

/// An operation given the wrong number of arguments is a `ShapeMismatch`, not a panic.
#[test]
fn wrong_arity_is_a_shape_mismatch() {
    assert!(matches!(
        Op::Add.apply(&[1.0]),
        Err(AutodiffError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Op::LogSoftmax(2).apply(&[1.0, 2.0]),
        Err(AutodiffError::IndexOutOfRange {
            index: 2,
            len: 2,
            ..
        })
    ));
    assert_eq!(
        Composite::PairLoss { beta: 0.1 }.apply(&[1.0, 2.0]),
        Err(AutodiffError::ShapeMismatch {
            op: "Composite::apply",
            left: vec![2],
            right: vec![4]
        })
    );
    let tabular = Composite::TabularPairLoss {
        beta: 0.1,
        chosen: 0,
        rejected: 2,
    };
    assert!(matches!(
        tabular.apply(&[1.0, 2.0, 3.0]),
        Err(AutodiffError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        tabular.apply(&[1.0, 2.0, 3.0, 4.0]),
        Err(AutodiffError::IndexOutOfRange {
            index: 2,
            len: 2,
            ..
        })
    ));
}
