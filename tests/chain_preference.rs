//! Bradley–Terry (Eq. 1, Eq. 6) and Plackett–Luce (A.3): reward form, policy form, and
//! Lemma 1.

mod common;

use common::problem_shift_policy;
use dpo_oracle::dpo::policy_form_log_prob;
use dpo_oracle::partition::optimal_policy;
use dpo_oracle::prec::{rel_error, COMPOSITE_REL};
use dpo_oracle::preference::{bradley_terry_log_prob, plackett_luce_log_prob};
use dpo_oracle::reward::implicit_reward;
use dpo_oracle::verify::chain::permutations;
use proptest::prelude::*;

// claim: C-bt-2
#[test]
fn bradley_terry_at_extreme_margins() {
    // log σ(−1e4) = −1e4 − log(1 + e^{−1e4}) = −1e4 exactly in f64; log σ(1e4) = −e^{−1e4} = −0.
    assert_eq!(bradley_terry_log_prob(0.0, 1e4), -1e4);
    assert_eq!(bradley_terry_log_prob(1e4, 0.0), 0.0);
    // A tie is a fair coin.
    assert_eq!(bradley_terry_log_prob(3.0, 3.0), -std::f64::consts::LN_2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // claim: C-bt-2
    #[test]
    fn bradley_terry_equals_the_exponential_ratio(r1 in -30.0..30.0f64, r2 in -30.0..30.0f64) {
        let p = bradley_terry_log_prob(r1, r2).exp();
        let ratio = r1.exp() / (r1.exp() + r2.exp());
        prop_assert!(rel_error(p, ratio, ratio) <= COMPOSITE_REL);
        let q = bradley_terry_log_prob(r2, r1).exp();
        prop_assert!((p + q - 1.0).abs() <= 4.0 * f64::EPSILON);
    }

    // claim: C-bt-1
    #[test]
    fn bradley_terry_policy_form_equals_reward_form((p, _f, _l) in problem_shift_policy()) {
        let opt = optimal_policy(&p);
        for x in 0..p.prompts() {
            let (lp, lr, r) = (opt.log_pi.row(x), p.log_ref_row(x), p.reward().row(x));
            for a in 0..r.len() {
                for b in 0..r.len() {
                    let policy = policy_form_log_prob((lp[a], lp[b]), (lr[a], lr[b]), p.beta());
                    let reward = bradley_terry_log_prob(r[a], r[b]);
                    // The margin r_a − r_b (≤ 10) is recovered to O(u·|r|/β)·β.
                    prop_assert!(rel_error(policy, reward, 1.0) <= COMPOSITE_REL * 10.0);
                }
            }
        }
    }

    // claim: C-pl-1
    #[test]
    fn plackett_luce_with_two_responses_is_bradley_terry(r1 in -1e3..1e3f64, r2 in -1e3..1e3f64) {
        let bt = bradley_terry_log_prob(r1, r2);
        let pl = plackett_luce_log_prob(&[r1, r2], &[0, 1]).unwrap();
        prop_assert!(rel_error(pl, bt, 1.0) <= COMPOSITE_REL);
        let pl = plackett_luce_log_prob(&[r1, r2], &[1, 0]).unwrap();
        prop_assert!(rel_error(pl, bradley_terry_log_prob(r2, r1), 1.0) <= COMPOSITE_REL);
    }

    // claim: C-pl-2
    #[test]
    fn plackett_luce_is_a_distribution_over_rankings(r in proptest::collection::vec(-10.0..10.0f64, 1..6)) {
        let total: f64 = permutations(r.len()).iter().map(|t| plackett_luce_log_prob(&r, t).unwrap().exp()).sum();
        // ≤ 120 terms each within a few ulps.
        prop_assert!((total - 1.0).abs() <= COMPOSITE_REL);
    }

    // claim: C-pl-3
    // claim: C-lem1-1
    #[test]
    fn plackett_luce_policy_form_and_lemma_1((p, f, _l) in problem_shift_policy()) {
        let opt = optimal_policy(&p);
        for x in 0..p.prompts() {
            let k = p.responses().min(5);
            let r: Vec<f64> = p.reward().row(x).iter().take(k).copied().collect();
            let r_hat: Vec<f64> = (0..k).map(|y| implicit_reward(opt.log_pi[[x, y]], p.log_ref()[[x, y]], p.beta())).collect();
            let r_f: Vec<f64> = r.iter().map(|v| v + f[x]).collect();
            for tau in permutations(k) {
                let want = plackett_luce_log_prob(&r, &tau).unwrap();
                let policy = plackett_luce_log_prob(&r_hat, &tau).unwrap();
                let shifted = plackett_luce_log_prob(&r_f, &tau).unwrap();
                let s = want.abs().max(1.0) * 10.0;
                prop_assert!(rel_error(policy, want, s) <= COMPOSITE_REL);
                // Lemma 1: r and r + f(x) (|f| ≤ 100) induce the same ranking distribution.
                prop_assert!(rel_error(shifted, want, s + 100.0) <= COMPOSITE_REL);
            }
            for a in 0..k {
                for b in 0..k {
                    let bt = bradley_terry_log_prob(r[a], r[b]);
                    prop_assert!(rel_error(bradley_terry_log_prob(r_f[a], r_f[b]), bt, 100.0) <= COMPOSITE_REL);
                }
            }
        }
    }
}
