//! Strategies shared by the chain's property tests.
#![allow(dead_code)]

use dpo_oracle::problem::Problem;
use ndarray::{Array1, Array2};
use proptest::prelude::*;

/// β at both ends of the paper's sweep and anywhere between.
pub fn beta() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.05), Just(5.0), 0.05..5.0f64]
}

/// A valid problem: 1–3 prompts, 2–6 responses, reference logits in [-3, 3], rewards in
/// [-s, s].
pub fn problem(reward_scale: f64) -> impl Strategy<Value = Problem> {
    (1usize..4, 2usize..7, beta()).prop_flat_map(move |(xs, ys, beta)| {
        (
            proptest::collection::vec(-3.0..3.0f64, xs * ys),
            proptest::collection::vec(-reward_scale..reward_scale, xs * ys),
        )
            .prop_map(move |(logits, rewards)| {
                let logits = Array2::from_shape_vec((xs, ys), logits).unwrap();
                let log_ref = dpo_oracle::policy::Policy::log_prob_table(
                    &dpo_oracle::policy::TabularPolicy::new(&logits).unwrap(),
                );
                let reward = Array2::from_shape_vec((xs, ys), rewards).unwrap();
                Problem::from_log_reference(log_ref, reward, beta).unwrap()
            })
    })
}

/// A problem, a shift f(x) in [-100, 100] and a random policy's logits of the same shape.
pub fn problem_shift_policy() -> impl Strategy<Value = (Problem, Array1<f64>, Array2<f64>)> {
    problem(5.0).prop_flat_map(|p| {
        let (xs, ys) = (p.prompts(), p.responses());
        (
            Just(p),
            proptest::collection::vec(-100.0..100.0f64, xs).prop_map(Array1::from),
            proptest::collection::vec(-4.0..4.0f64, xs * ys)
                .prop_map(move |v| Array2::from_shape_vec((xs, ys), v).unwrap()),
        )
    })
}

/// $\max(1, \max|r|)$.
pub fn scale(p: &Problem) -> f64 {
    p.reward().iter().fold(1.0, |m, r| m.max(r.abs()))
}

/// Largest |a - b| over two equally shaped arrays, relative to `floor`.
pub fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
