//! Input strategies shared by the engine's tests: every argument drawn from its operation's
//! domain, with the extremes over-represented.

#![allow(dead_code)]

use dpo_oracle::verify::engine::composite::Composite;
use dpo_oracle::verify::engine::function::{Domain, Function, EXTREME};
use dpo_oracle::verify::engine::ops::Op;
use proptest::prelude::*;
use proptest::sample::select;

/// Largest argument with $e^x$ finite, $\ln(\text{f64::MAX})$.
pub const EXP_OVERFLOW: f64 = 709.782_712_893_384;

/// A scalar in `d`: uniform over the interval (clipped to $\pm 10^4$), log-uniform magnitude
/// from $10^{-300}$ to $10^4$ (values near 0), near the overflow of `exp`, near the lower
/// end of the domain, and special points.
pub fn scalar_in(d: Domain) -> BoxedStrategy<f64> {
    let (lo, hi) = (d.lo.max(-EXTREME), d.hi.min(EXTREME));
    let magnitude = (-300.0..4.0_f64, any::<bool>()).prop_map(|(e, negative)| {
        let x = 10f64.powf(e);
        if negative {
            -x
        } else {
            x
        }
    });
    // Both signs: e^x overflows above 709.78, and e^{-|x|} is subnormal from −708.4 to −745.1.
    let near_overflow = (-36.0..2.0_f64, any::<bool>()).prop_map(|(t, negative)| {
        let x = EXP_OVERFLOW - t;
        if negative {
            -x
        } else {
            x
        }
    });
    let above_lo = (-15.0..0.0_f64).prop_map(move |e| lo + 10f64.powf(e) * lo.abs().max(1.0));
    let special = select(vec![
        lo, hi, 0.0, -0.0, 1.0, -1.0, EXTREME, -EXTREME, 709.78, -709.78,
    ]);
    prop_oneof![
        3 => lo..=hi,
        3 => magnitude,
        1 => near_overflow,
        1 => above_lo,
        1 => special,
    ]
    .prop_filter("in the domain", move |x| {
        d.contains(*x) && x.abs() <= EXTREME
    })
    .boxed()
}

/// Arguments for `f` with `n` entries, each from its domain.
pub fn args<F: Function>(f: &F, n: usize) -> BoxedStrategy<Vec<f64>> {
    (0..n)
        .map(|i| scalar_in(f.domain(i)))
        .collect::<Vec<_>>()
        .boxed()
}

/// An operation and admissible arguments: the arity of a unary or binary operation, 1 to 7
/// entries for a reduction (an even number for `dot`).
pub fn op_and_args(ops: &'static [Op]) -> BoxedStrategy<(Op, Vec<f64>)> {
    select(ops)
        .prop_flat_map(|op| {
            let lengths: Vec<usize> = (1..=8).filter(|&n| op.accepts(n)).collect();
            (Just(op), select(lengths))
        })
        .prop_flat_map(|(op, n)| (Just(op), args(&op, n)))
        .boxed()
}

/// $\beta$ log-uniform over $[10^{-3}, 10]$.
pub fn beta() -> impl Strategy<Value = f64> {
    (-3.0..1.0_f64).prop_map(|e| 10f64.powf(e))
}

/// A composite with admissible arguments: 2 to 8 responses, $\beta \in [10^{-3}, 10]$.
pub fn composite_and_args() -> BoxedStrategy<(Composite, Vec<f64>)> {
    let log_prob = (2..=8usize)
        .prop_flat_map(|n| (0..n, Just(n)))
        .prop_map(|(y, n)| (Composite::PolicyLogProb { y }, n));
    let pair = beta().prop_map(|beta| (Composite::PairLoss { beta }, 4));
    let tabular = (2..=6usize, beta())
        .prop_flat_map(|(n, beta)| (0..n, 0..n, Just(n), Just(beta)))
        .prop_map(|(chosen, rejected, n, beta)| {
            let c = Composite::TabularPairLoss {
                beta,
                chosen,
                rejected,
            };
            (c, 2 * n)
        });
    prop_oneof![log_prob, pair, tabular]
        .prop_flat_map(|(c, n)| (Just(c), args(&c, n)))
        .boxed()
}
