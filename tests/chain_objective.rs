//! The KL-constrained objective (Eq. 3) and the optimality of π_r (Eq. 4, Appendix A.1).

mod common;

use common::{beta, problem_shift_policy, scale};
use dpo_oracle::autodiff::with_tape;
use dpo_oracle::divergence::kl;
use dpo_oracle::objective::{objective, objective_row, policy_objective};
use dpo_oracle::partition::optimal_policy;
use dpo_oracle::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL};
use dpo_oracle::problem::Problem;
use ndarray::{array, Array2};
use proptest::prelude::*;

fn rows(t: &Array2<f64>) -> Vec<Vec<f64>> {
    t.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn mean_kl_to_optimum(table: &Array2<f64>, p: &Problem) -> f64 {
    let opt = optimal_policy(p);
    (0..p.prompts())
        .map(|x| kl(&table.row(x).to_vec(), &opt.log_pi.row(x).to_vec()))
        .sum::<f64>()
        / p.prompts() as f64
}

// claim: C-obj-1
#[test]
fn objective_by_hand_on_two_responses() {
    // π_ref = (1/2, 1/2), π = (1/4, 3/4), r = (1, 0), β = 0.5:
    // E r = 1/4; KL = 1/4 ln(1/2) + 3/4 ln(3/2); J = E r - β KL.
    let p = Problem::new(&array![[0.5, 0.5]], array![[1.0, 0.0]], 0.5).unwrap();
    let j = objective(&[vec![0.25f64.ln(), 0.75f64.ln()]], &p);
    let want = 0.25 - 0.5 * (0.25 * 0.5f64.ln() + 0.75 * 1.5f64.ln());
    assert!(rel_error(j, want, 1.0) <= 8.0 * f64::EPSILON);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // claim: C-obj-1
    #[test]
    fn objective_is_minus_beta_kl_to_optimum_plus_log_partition((p, _f, logits) in problem_shift_policy()) {
        // A.1: J(π) = -β E_x[KL(π‖π_r) - log Z(x)], with KL(π‖π_r) computed separately.
        let table = TabularPolicy::new(&logits).unwrap().log_prob_table();
        let opt = optimal_policy(&p);
        let j = objective(&rows(&table), &p);
        let want = -p.beta() * (mean_kl_to_optimum(&table, &p) - opt.log_z.mean().unwrap());
        let s = scale(&p).max(want.abs());
        prop_assert!(rel_error(j, want, s) <= COMPOSITE_REL);
    }

    // claim: C-opt-3
    #[test]
    fn optimum_value_is_beta_mean_log_partition((p, _f, _l) in problem_shift_policy()) {
        let opt = optimal_policy(&p);
        let j = objective(&rows(&opt.log_pi), &p);
        let want = p.beta() * opt.log_z.mean().unwrap();
        prop_assert!(rel_error(j, want, scale(&p).max(want.abs())) <= COMPOSITE_REL);
    }

    // claim: C-opt-4
    #[test]
    fn optimum_beats_every_policy_by_beta_kl((p, _f, logits) in problem_shift_policy(), seed in 0u64..100) {
        let opt = optimal_policy(&p);
        let j_opt = objective(&rows(&opt.log_pi), &p);
        let (xs, ys) = (p.prompts(), p.responses());
        let mut tables = vec![TabularPolicy::new(&logits).unwrap().log_prob_table(),
                              LogLinearPolicy::random(xs, ys, 2, seed).unwrap().log_prob_table()];
        // Near the optimum too: a small perturbation of π_r's logits.
        tables.push(TabularPolicy::new(&(&opt.log_pi + &(&logits * 1e-3))).unwrap().log_prob_table());
        for table in tables {
            let gap = j_opt - objective(&rows(&table), &p);
            let want = p.beta() * mean_kl_to_optimum(&table, &p);
            let s = scale(&p).max(j_opt.abs());
            prop_assert!(gap >= -COMPOSITE_REL * s, "gap {gap}");
            prop_assert!(rel_error(gap, want, s) <= COMPOSITE_REL);
        }
    }

    // claim: C-opt-4
    #[test]
    fn sequence_policies_never_beat_the_optimum(seed in 0u64..1000, b in beta()) {
        let reference = SequencePolicy::random(2, 2, 3, 1.0, seed).unwrap();
        let reward = dpo_oracle::problem::random_reward(2, reference.responses(), 2.0, seed + 1).unwrap();
        let p = Problem::from_log_reference(reference.log_prob_table(), reward, b).unwrap();
        let opt = optimal_policy(&p);
        let j_opt = objective(&rows(&opt.log_pi), &p);
        let pi = SequencePolicy::random(2, 2, 3, 2.0, seed + 2).unwrap();
        let gap = j_opt - policy_objective(&pi, &p);
        let want = b * mean_kl_to_optimum(&pi.log_prob_table(), &p);
        prop_assert!(gap >= 0.0 || gap.abs() <= COMPOSITE_REL * scale(&p));
        prop_assert!(rel_error(gap, want, scale(&p)) <= COMPOSITE_REL);
    }

    // claim: C-opt-5
    #[test]
    fn gradient_on_the_simplex_vanishes_at_the_optimum((p, _f, _l) in problem_shift_policy()) {
        // ∂J_x/∂π(y) = r(y) - β(log π(y) - log π_ref(y)) - β (closed form); at π_r this is
        // β log Z(x) - β for every y, so its tangential part (minus the mean) is zero.
        let opt = optimal_policy(&p);
        let beta = p.beta();
        for x in 0..p.prompts() {
            let (l, r) = (p.log_ref_row(x).to_vec(), p.reward().row(x).to_vec());
            let g = with_tape(|t| {
                let probs: Vec<_> = opt.log_pi.row(x).iter().map(|v| t.var(v.exp())).collect();
                let logs: Vec<_> = probs.iter().map(|q| q.ln()).collect();
                objective_row(&logs, &l, &r, beta).backward().wrt_slice(&probs)
            });
            let want = beta * opt.log_z[x] - beta;
            for gy in &g {
                prop_assert!(rel_error(*gy, want, scale(&p).max(want.abs())) <= COMPOSITE_REL);
            }
            // And in softmax coordinates: the gradient with respect to the logits is zero.
            let gl = with_tape(|t| {
                let logits: Vec<_> = opt.log_pi.row(x).iter().map(|&v| t.var(v)).collect();
                let logs = dpo_oracle::scalar::log_softmax(&logits).unwrap();
                objective_row(&logs, &l, &r, beta).backward().wrt_slice(&logits)
            });
            for gy in gl {
                prop_assert!(gy.abs() <= COMPOSITE_REL * scale(&p));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // claim: C-obj-2
    #[test]
    fn sequence_kl_is_the_sum_of_prefix_weighted_token_kls(
        seed in 0u64..1000,
        vocab in 1usize..4,
        max_len in 0usize..4,
        scale in 0.1..4.0f64,
    ) {
        let pi = SequencePolicy::random(2, vocab, max_len, scale, seed).unwrap();
        let rho = SequencePolicy::random(2, vocab, max_len, scale, seed + 1).unwrap();
        let (a, b) = (pi.log_prob_table(), rho.log_prob_table());
        for x in 0..2 {
            let direct = kl(&a.row(x).to_vec(), &b.row(x).to_vec());
            let by_tokens = pi.sequence_kl(&rho, x).unwrap();
            // Both sum ≤ 85 non-negative terms of size O(scale): a few hundred ulps at most.
            prop_assert!(rel_error(by_tokens, direct, 1.0) <= COMPOSITE_REL);
            prop_assert!(by_tokens >= 0.0);
        }
        // A policy against itself: 0 exactly.
        prop_assert_eq!(pi.sequence_kl(&pi, 0).unwrap(), 0.0);
    }
}

// claim: C-obj-2
#[test]
fn sequence_kl_by_hand() {
    // V = 1, L = 1: responses "" (END at start) and "1". π: P(END) = 1/2; ρ: P(END) = 1/4.
    // KL = 1/2 ln(2) + 1/2 ln(2/3).
    let pi = SequencePolicy::new(1, 1, 1, vec![0.0, 0.0, 0.0, 0.0]).unwrap();
    let rho = SequencePolicy::new(1, 1, 1, vec![0.0, 3f64.ln(), 0.0, 0.0]).unwrap();
    let want = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
    assert!(rel_error(pi.sequence_kl(&rho, 0).unwrap(), want, 1.0) <= 8.0 * f64::EPSILON);
    let other = SequencePolicy::new(1, 1, 2, vec![0.0; 4]).unwrap();
    assert_eq!(
        pi.sequence_kl(&other, 0),
        Err(dpo_oracle::policy::PolicyError::ShapeMismatch)
    );
}
