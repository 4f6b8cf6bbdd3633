//! Claims about the reverse-mode engine: every elementary operation's derivative, and those of
//! composites (a softmax policy's log-probability, a pair's DPO loss), agree with forward-mode
//! duals, Richardson finite differences and a hand-derived closed form; the stable forms stay
//! finite at the extremes; non-finite inputs propagate without creating NaN.
//!
//! Rows that gather operations with different tolerances report each error in units of its
//! own tolerance (stated in [`crate::prec`] and [`Function::tolerance`]), so they are held
//! to 1.

pub mod composite;
pub mod function;
pub mod ops;

use self::composite::Composite;
use self::function::{disagreements, tape_gradient, Function, Route};
use self::ops::Op;
use super::ClaimCheck;
use crate::prec::{rel_error, ELEMENTARY_ULPS};

/// The engine's rows of the self-verification table.
pub fn checks() -> Vec<ClaimCheck> {
    vec![
        ClaimCheck::new(
            "E-tape-dual",
            "reverse tape = forward duals (value, gradient), all ops and composites [units of tol]",
            route_errors(Route::Duals),
            1.0,
        ),
        ClaimCheck::new(
            "E-tape-fd",
            "reverse tape = Richardson finite differences, all ops and composites [units of bound]",
            route_errors(Route::FiniteDifferences),
            1.0,
        ),
        ClaimCheck::new(
            "E-tape-closed",
            "reverse tape = hand-derived gradients, all ops and composites [units of tol]",
            route_errors(Route::ClosedForm),
            1.0,
        ),
        ClaimCheck::new(
            "E-stable",
            "stable forms and DPO loss: finite value and gradient at |x| <= 1e4 [1 if any is not]",
            stability_failures(),
            0.0,
        ),
        ClaimCheck::new(
            "E-nonfinite",
            "NaN in gives NaN out; +-inf in gives the limit, no new NaN [1 if any case misses]",
            nonfinite_failures(),
            0.0,
        ),
    ]
}

/// Every disagreement between the tape and `route` over the built-in inputs of every
/// operation and composite; an evaluation error counts as infinite.
fn route_errors(route: Route) -> Vec<f64> {
    fn over<F: Function>(fs: &[F], route: Route, errors: &mut Vec<f64>) {
        for f in fs {
            for xs in f.sample_inputs() {
                match disagreements(f, &xs, route) {
                    Ok(e) => errors.extend(e),
                    Err(_) => errors.push(f64::INFINITY),
                }
            }
        }
    }
    let mut errors = Vec::new();
    over(&Op::ALL, route, &mut errors);
    over(&Composite::ALL, route, &mut errors);
    errors
}

/// 1 for a value or gradient that is not finite (or an error), 0 otherwise.
fn non_finite<F: Function>(f: &F, xs: &[f64]) -> f64 {
    match tape_gradient(f, xs) {
        Ok((v, g)) if v.is_finite() && g.iter().all(|d| d.is_finite()) => 0.0,
        _ => 1.0,
    }
}

/// The stable forms at the extremes: 1 for each input with a non-finite value or gradient.
fn stability_failures() -> Vec<f64> {
    const EXTREMES: [f64; 13] = [
        -1e4, -1e3, -745.2, -709.78, -40.0, -1e-8, 0.0, 1e-8, 40.0, 709.78, 745.2, 1e3, 1e4,
    ];
    let mut failures = Vec::new();
    for op in [Op::Sigmoid, Op::Softplus, Op::LogSigmoid] {
        failures.extend(EXTREMES.iter().map(|&x| non_finite(&op, &[x])));
    }
    for op in [Op::Logsumexp, Op::LogSoftmax(0)] {
        for &a in &EXTREMES {
            for &b in &EXTREMES {
                failures.push(non_finite(&op, &[a, b, -a]));
            }
        }
    }
    for beta in [1e-3, 0.1, 10.0] {
        for &a in &EXTREMES {
            for &c in &EXTREMES {
                let pair = Composite::PairLoss { beta };
                failures.push(non_finite(&pair, &[a, -a, c, 0.0]));
            }
        }
    }
    failures
}

/// One non-finite input and the limits the engine must return.
struct Limit {
    op: Op,
    xs: &'static [f64],
    value: f64,
    gradient: &'static [f64],
}

const INF: f64 = f64::INFINITY;

/// A [`Limit`] in one line.
const fn limit(op: Op, xs: &'static [f64], value: f64, gradient: &'static [f64]) -> Limit {
    Limit {
        op,
        xs,
        value,
        gradient,
    }
}

/// Limits at $\pm\infty$ and at the edges of the domains, derived by hand. Where the maximum
/// of a log-sum-exp is infinite, the entries at it share the weight equally (the limit when
/// they move together).
const LIMITS: [Limit; 25] = [
    limit(Op::Exp, &[-INF], 0.0, &[0.0]),
    limit(Op::Exp, &[INF], INF, &[INF]),
    limit(Op::Ln, &[INF], INF, &[0.0]),
    limit(Op::Ln, &[0.0], -INF, &[INF]),
    limit(Op::Ln1p, &[INF], INF, &[0.0]),
    limit(Op::Ln1p, &[-1.0], -INF, &[INF]),
    limit(Op::ExpM1, &[-INF], -1.0, &[0.0]),
    limit(Op::Sqrt, &[INF], INF, &[0.0]),
    limit(Op::Relu, &[-INF], 0.0, &[0.0]),
    limit(Op::Relu, &[INF], INF, &[1.0]),
    limit(Op::Abs, &[-INF], INF, &[-1.0]),
    limit(Op::Sigmoid, &[-INF], 0.0, &[0.0]),
    limit(Op::Sigmoid, &[INF], 1.0, &[0.0]),
    limit(Op::Softplus, &[-INF], 0.0, &[0.0]),
    limit(Op::Softplus, &[INF], INF, &[1.0]),
    limit(Op::LogSigmoid, &[-INF], -INF, &[1.0]),
    limit(Op::LogSigmoid, &[INF], 0.0, &[0.0]),
    limit(Op::Logsumexp, &[-INF, 0.0], 0.0, &[0.0, 1.0]),
    limit(Op::Logsumexp, &[-INF, -INF], -INF, &[0.5, 0.5]),
    limit(Op::Logsumexp, &[INF, 0.0, INF], INF, &[0.5, 0.0, 0.5]),
    limit(Op::LogSoftmax(0), &[-INF, 0.0], -INF, &[1.0, -1.0]),
    limit(Op::LogSoftmax(1), &[INF, 0.0], -INF, &[-1.0, 1.0]),
    limit(Op::LogSoftmax(0), &[INF, 0.0], 0.0, &[0.0, 0.0]),
    limit(Op::LogSoftmax(0), &[-INF], 0.0, &[0.0]),
    limit(Op::Sum, &[INF, 1.0], INF, &[1.0, 1.0]),
];

/// Whether the tape returns `value` and `gradient` at `xs` (infinities exactly, finite numbers
/// to [`ELEMENTARY_ULPS`]).
fn misses<F: Function>(f: &F, xs: &[f64], value: f64, gradient: &[f64]) -> f64 {
    let close = |a: f64, b: f64| rel_error(a, b, 1.0) <= ELEMENTARY_ULPS * f64::EPSILON;
    match tape_gradient(f, xs) {
        Ok((v, g)) if close(v, value) && g.iter().zip(gradient).all(|(&a, &b)| close(a, b)) => 0.0,
        _ => 1.0,
    }
}

/// Misses of the hand-derived limits, of NaN propagation (each argument of each operation
/// and composite set to NaN in turn must give a NaN value), and of a DPO loss at a
/// log-probability of $-\infty$ (an infinite loss with the finite gradient
/// $\mp\beta(1, -1, -1, 1)$).
fn nonfinite_failures() -> Vec<f64> {
    let mut failures: Vec<f64> = LIMITS
        .iter()
        .map(|l| misses(&l.op, l.xs, l.value, l.gradient))
        .collect();
    fn nan_in_nan_out<F: Function>(fs: &[F], failures: &mut Vec<f64>) {
        for f in fs {
            let Some(xs) = f.sample_inputs().into_iter().next() else {
                continue;
            };
            for i in 0..xs.len() {
                let mut poisoned = xs.clone();
                poisoned[i] = f64::NAN;
                let value = tape_gradient(f, &poisoned).map(|(v, _)| v);
                failures.push(if matches!(value, Ok(v) if v.is_nan()) {
                    0.0
                } else {
                    1.0
                });
            }
        }
    }
    nan_in_nan_out(&Op::ALL, &mut failures);
    nan_in_nan_out(&Composite::ALL, &mut failures);
    let beta = 0.1;
    failures.push(misses(
        &Composite::PairLoss { beta },
        &[-INF, 0.0, 0.0, 0.0],
        INF,
        &[-beta, beta, beta, -beta],
    ));
    failures.push(misses(
        &Composite::TabularPairLoss {
            beta,
            chosen: 0,
            rejected: 1,
        },
        &[-INF, 0.0, 1.0, 0.0, 0.0, 0.0],
        INF,
        &[-beta, beta, 0.0, beta, -beta, 0.0],
    ));
    failures
}
