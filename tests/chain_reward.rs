//! Rewards and their classes: Eq. 5, Definition 1, Lemma 2, Theorem 1 and Proposition 1, as
//! properties over random rewards, shifts f(x), policies and β (0.05 and 5 always included).

mod common;

use common::{max_abs_diff, problem_shift_policy, scale};
use dpo_oracle::partition::optimal_policy;
use dpo_oracle::policy::{Policy, TabularPolicy};
use dpo_oracle::prec::COMPOSITE_REL;
use dpo_oracle::reward::{class_distance, equivalent, projection, reparameterised_reward, shift};
use ndarray::Array2;
use proptest::prelude::*;

/// Tolerance for rewards of size up to `s` after a shift of up to 100: the shifted values are
/// O(100 + s), so their rounding is relative to that.
fn tol(s: f64) -> f64 {
    COMPOSITE_REL * (s + 100.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // claim: C-rep-1
    #[test]
    fn reparameterisation_round_trip((p, _f, _l) in problem_shift_policy()) {
        let opt = optimal_policy(&p);
        let back = reparameterised_reward(&opt.log_pi, p.log_ref(), &opt.log_z, p.beta());
        prop_assert!(max_abs_diff(&back, p.reward()) <= COMPOSITE_REL * scale(&p));
    }

    // claim: C-def1-1
    #[test]
    fn definition_1_is_an_equivalence_detecting_non_constant_changes(
        (p, f, bump) in problem_shift_policy(),
        g in proptest::collection::vec(-100.0..100.0f64, 3),
    ) {
        let r = p.reward();
        let g = ndarray::Array1::from_iter((0..p.prompts()).map(|x| g[x % 3]));
        let rf = shift(r, &f);
        // Reflexive, symmetric, transitive (r ~ r+f ~ r+f+g).
        prop_assert!(equivalent(r, r, 0.0));
        prop_assert!(class_distance(&rf, r) <= tol(scale(&p)));
        prop_assert!(class_distance(r, &rf) <= tol(scale(&p)));
        prop_assert!(class_distance(&shift(&rf, &g), r) <= 2.0 * tol(scale(&p)));
        // A change that is not a function of x alone is measured: its largest within-row spread.
        let spread = bump.rows().into_iter().map(|row| {
            row.iter().copied().fold(f64::NEG_INFINITY, f64::max) - row.iter().copied().fold(f64::INFINITY, f64::min)
        }).fold(0.0, f64::max);
        let d = class_distance(&(r + &bump), r);
        prop_assert!((d - spread).abs() <= tol(scale(&p)));
    }

    // claim: C-lem2-1
    #[test]
    fn lemma_2_class_members_share_the_optimal_policy((p, f, _l) in problem_shift_policy()) {
        let a = optimal_policy(&p);
        let b = optimal_policy(&p.with_reward(shift(p.reward(), &f)).unwrap());
        // log π is O(r/β), computed from r + f whose rounding is relative to |f| ≤ 100.
        prop_assert!(max_abs_diff(&a.log_pi, &b.log_pi) <= tol(scale(&p)) / p.beta());
    }

    // claim: C-thm1-1
    #[test]
    fn theorem_1_projection_is_in_the_class_and_is_beta_log_ratio((p, _f, _l) in problem_shift_policy()) {
        let h = projection(p.reward(), p.log_ref(), p.beta());
        prop_assert!(class_distance(&h, p.reward()) <= tol(scale(&p)));
        let opt = optimal_policy(&p);
        let want = (&opt.log_pi - p.log_ref()) * p.beta();
        prop_assert!(max_abs_diff(&h, &want) <= tol(scale(&p)));
        // The representative's normaliser is 1: Σ π_ref e^{h/β} = 1.
        for x in 0..p.prompts() {
            let z: f64 = p.log_ref_row(x).iter().zip(h.row(x)).map(|(l, v)| (l + v / p.beta()).exp()).sum();
            prop_assert!((z - 1.0).abs() <= COMPOSITE_REL * (1.0 + scale(&p) / p.beta()));
        }
    }

    // claim: C-thm1-2
    #[test]
    fn theorem_1_projection_is_constant_on_a_class((p, f, _l) in problem_shift_policy()) {
        let h = projection(p.reward(), p.log_ref(), p.beta());
        let hf = projection(&shift(p.reward(), &f), p.log_ref(), p.beta());
        prop_assert!(max_abs_diff(&h, &hf) <= tol(scale(&p)));
    }

    // claim: C-prop1-1
    #[test]
    fn proposition_1_representative_is_unique((p, f, logits) in problem_shift_policy()) {
        // Any policy π gives the reward β log π/π_ref; it is its own projection, and every
        // member of its class has π as optimal policy: two policies in one class coincide.
        let table = TabularPolicy::new(&logits).unwrap().log_prob_table();
        let r_pi: Array2<f64> = (&table - p.log_ref()) * p.beta();
        let s = r_pi.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let h = projection(&r_pi, p.log_ref(), p.beta());
        prop_assert!(max_abs_diff(&h, &r_pi) <= COMPOSITE_REL * s);
        let back = optimal_policy(&p.with_reward(shift(&r_pi, &f)).unwrap());
        prop_assert!(max_abs_diff(&back.log_pi, &table) <= tol(s) / p.beta());
        // A different policy gives a reward outside the class (unless the logits differ by a
        // per-prompt constant, which is the same policy).
        let other = TabularPolicy::new(&(&logits * 0.5)).unwrap().log_prob_table();
        let r_other = (&other - p.log_ref()) * p.beta();
        let tv = (0..p.prompts()).map(|x| dpo_oracle::divergence::total_variation(&table.row(x).to_vec(), &other.row(x).to_vec())).fold(0.0, f64::max);
        if tv > 1e-6 {
            prop_assert!(!equivalent(&r_other, &r_pi, tol(s)));
        }
    }
}

/// `shift` is exactly $r(x,y) + f(x)$ entry by entry (one rounding each; these sums are exact
/// in binary), not merely some member of the class of $r$.
#[test]
fn shift_adds_f_of_x_to_every_response_of_x() {
    let r = ndarray::array![[1.0, -2.0, 0.5], [4.0, 0.25, -8.0]];
    let f = ndarray::arr1(&[0.5, -3.0]);
    let want = ndarray::array![[1.5, -1.5, 1.0], [1.0, -2.75, -11.0]];
    assert_eq!(shift(&r, &f), want);
}
