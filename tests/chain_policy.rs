//! The three policies: normalisation, closed-form scores, and the sequence policy's
//! factorisation into per-token probabilities.

use dpo_oracle::autodiff::with_tape;
use dpo_oracle::numdiff;
use dpo_oracle::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL, FINITE_DIFFERENCE_REL};
use ndarray::{array, Array1, Array3};
use proptest::prelude::*;

fn assert_normalised<P: Policy>(policy: &P) {
    for x in 0..policy.prompts() {
        let total: f64 = policy
            .log_probs(policy.params(), x)
            .iter()
            .map(|l| l.exp())
            .sum();
        // Y ≤ 40 probabilities, each within a few ulps: far inside COMPOSITE_REL.
        assert!((total - 1.0).abs() <= COMPOSITE_REL, "x = {x}: {total}");
    }
}

/// Score against the tape and against finite differences of log π(y|x).
fn assert_scores<P: Policy>(policy: &P) {
    let theta = policy.params().to_vec();
    for x in 0..policy.prompts() {
        for y in 0..policy.responses() {
            let closed = policy.score(&theta, x, y);
            let tape = with_tape(|t| {
                let v: Vec<_> = theta.iter().map(|&a| t.var(a)).collect();
                policy.log_probs(&v, x)[y].backward().wrt_slice(&v)
            });
            let fd = numdiff::gradient(
                |t| policy.log_probs(t, x)[y],
                &theta,
                numdiff::DEFAULT_REL_STEP,
            );
            for i in 0..theta.len() {
                assert!(rel_error(closed[i], tape[i], 1.0) <= COMPOSITE_REL);
                assert!(rel_error(fd[i].derivative, closed[i], 1.0) <= FINITE_DIFFERENCE_REL);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    // claim: C-pol-1
    #[test]
    fn every_policy_is_normalised(seed in 0u64..1000, scale in 0.1..6.0f64) {
        assert_normalised(&TabularPolicy::random(3, 7, scale, seed).unwrap());
        assert_normalised(&LogLinearPolicy::random(2, 5, 3, seed).unwrap());
        assert_normalised(&SequencePolicy::random(2, 3, 3, scale, seed).unwrap());
    }

    // claim: C-pol-2
    #[test]
    fn closed_form_scores_match_tape_and_differences(seed in 0u64..1000) {
        assert_scores(&TabularPolicy::random(2, 4, 1.5, seed).unwrap());
        assert_scores(&LogLinearPolicy::random(2, 4, 3, seed).unwrap());
        assert_scores(&SequencePolicy::random(1, 2, 2, 1.5, seed).unwrap());
    }
}

// claim: C-pol-3
#[test]
fn sequence_policy_enumerates_every_response_up_to_the_bound() {
    // Σ_{k=0}^{L} V^k responses: V = 3, L = 3 gives 1 + 3 + 9 + 27 = 40.
    let p = SequencePolicy::random(1, 3, 3, 1.0, 0).unwrap();
    assert_eq!(p.responses(), 40);
    let mut all: Vec<Vec<usize>> = (0..40).map(|y| p.tokens(y).to_vec()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40);
}

// claim: C-pol-3
#[test]
fn sequence_log_prob_is_the_sum_of_token_log_probs_by_hand() {
    // V = 1, L = 2: responses "" (END), "1" (1, END), "11" (1, 1, bound).
    // Context 0 (start) logits (END, 1) = (0, ln 3): P(END) = 1/4, P(1) = 3/4.
    // Context 1 logits (END, 1) = (ln 2, 0): P(END) = 2/3, P(1) = 1/3.
    let theta = vec![0.0, 3f64.ln(), 2f64.ln(), 0.0];
    let p = SequencePolicy::new(1, 1, 2, theta).unwrap();
    let lp = p.log_probs(p.params(), 0);
    let expect = [0.25, 0.75 * 2.0 / 3.0, 0.75 / 3.0];
    for y in 0..3 {
        let want = expect[p.tokens(y).len()];
        assert!(
            rel_error(lp[y].exp(), want, want) <= 8.0 * f64::EPSILON,
            "y = {y}"
        );
    }
}

#[test]
fn log_linear_matches_a_hand_computed_softmax() {
    // φ(0, y) = (y, 1), θ = (ln 2, 5): π ∝ 2^y, so π = (1, 2, 4)/7 (the constant feature
    // cancels).
    let features =
        Array3::from_shape_fn((1, 3, 2), |(_, y, k)| if k == 0 { y as f64 } else { 1.0 });
    let p = LogLinearPolicy::new(features, Array1::from(vec![2f64.ln(), 5.0])).unwrap();
    let lp = p.log_probs(p.params(), 0);
    for (y, want) in [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0].into_iter().enumerate() {
        assert!(rel_error(lp[y].exp(), want, want) <= 8.0 * f64::EPSILON);
    }
    let t = TabularPolicy::new(&array![[0.0, 2f64.ln(), 4f64.ln()]]).unwrap();
    let lt = t.log_probs(t.params(), 0);
    for y in 0..3 {
        assert!(rel_error(lt[y], lp[y], 1.0) <= 8.0 * f64::EPSILON);
    }
}
