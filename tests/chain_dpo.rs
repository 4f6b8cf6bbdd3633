//! The DPO loss (Eq. 7) and its gradient: the paper's closed form, the reverse tape, forward
//! duals and finite differences agree, on all three policies.

use dpo_oracle::dpo::{dpo_loss, pair_loss, Pair};
use dpo_oracle::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL, FINITE_DIFFERENCE_REL};
use dpo_oracle::preference::bradley_terry_log_prob;
use dpo_oracle::problem::Problem;
use dpo_oracle::utilisation::sample_preferences;
use dpo_oracle::verify::chain::{gradient_route_errors, loss_module_errors};
use proptest::prelude::*;

mod common;

// claim: C-dpo-1
#[test]
fn pair_loss_closed_forms_and_extremes() {
    // −log σ(z) = ln(1 + e^{−z}); for moderate z the direct form is accurate.
    for z in [-20.0f64, -1.0, -0.1, 0.0, 0.1, 1.0, 20.0] {
        let loss = pair_loss((z, 0.0), (0.0, 0.0), 1.0);
        let want = f64::exp(-z).ln_1p();
        assert!(rel_error(loss, want, want) <= 8.0 * f64::EPSILON, "z = {z}");
    }
    // β h = −1e4: the naive form overflows; the loss is 1e4 (+ e^{−1e4}).
    assert_eq!(pair_loss((0.0, 100.0), (0.0, 0.0), 100.0), 1e4);
    // β h = 1e4: the loss is e^{−1e4}, which is 0 in f64; never NaN.
    assert_eq!(pair_loss((100.0, 0.0), (0.0, 0.0), 100.0), 0.0);
    // The reference enters with the opposite sign: a policy equal to it has h = 0, loss ln 2.
    let l = pair_loss((-3.2, -0.7), (-3.2, -0.7), 0.05);
    assert!(rel_error(l, std::f64::consts::LN_2, 1.0) <= 2.0 * f64::EPSILON);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // claim: C-dpo-1
    #[test]
    fn loss_at_the_reference_is_ln_2(seed in 0u64..1000, b in common::beta()) {
        let p = Problem::random(3, 5, 1.0, b, seed).unwrap();
        let pairs = sample_preferences(&p, 20, seed);
        let reference = TabularPolicy::new(p.log_ref()).unwrap();
        let l = dpo_loss(&reference, reference.params(), p.log_ref(), &pairs, b).unwrap();
        prop_assert!(rel_error(l, std::f64::consts::LN_2, 1.0) <= COMPOSITE_REL);
    }

    // claim: C-dpo-2
    #[test]
    fn dpo_loss_is_the_reward_model_nll_of_the_implicit_reward(seed in 0u64..1000, b in common::beta()) {
        let p = Problem::random(2, 6, 1.0, b, seed).unwrap();
        let pairs = sample_preferences(&p, 20, seed);
        let pi = LogLinearPolicy::random(2, 6, 3, seed).unwrap();
        let r_hat = (&pi.log_prob_table() - p.log_ref()) * b;
        let nll: f64 = pairs.iter().map(|q: &Pair| {
            -q.weight * bradley_terry_log_prob(r_hat[[q.prompt, q.chosen]], r_hat[[q.prompt, q.rejected]])
        }).sum();
        let loss = dpo_loss(&pi, pi.params(), p.log_ref(), &pairs, b).unwrap();
        prop_assert!(rel_error(loss, nll, 1.0) <= COMPOSITE_REL);
    }

    // claim: C-dpo-3
    #[test]
    fn chain_loss_matches_the_loss_module(seed in 0u64..1000, b in common::beta(), n in 1usize..12) {
        let p = Problem::random(2, 5, 2.0, b, seed).unwrap();
        let pairs = sample_preferences(&p, n, seed + 1);
        for [value, grad] in [
            loss_module_errors(&TabularPolicy::random(2, 5, 2.0, seed).unwrap(), p.log_ref(), &pairs, b),
            loss_module_errors(&SequencePolicy::random(2, 2, 2, 2.0, seed).unwrap(), &SequencePolicy::random(2, 2, 2, 1.0, seed + 3).unwrap().log_prob_table(), &pairs, b),
        ] {
            prop_assert!(value <= COMPOSITE_REL, "value {value}");
            prop_assert!(grad <= COMPOSITE_REL, "gradient {grad}");
        }
    }

    // claim: C-grad-1
    // claim: C-grad-2
    // claim: C-grad-3
    #[test]
    fn gradient_routes_agree(seed in 0u64..1000, b in common::beta(), n in 1usize..12) {
        let p = Problem::random(2, 7, 2.0, b, seed).unwrap();
        let pairs = sample_preferences(&p, n, seed + 1);
        let routes = [
            gradient_route_errors(&TabularPolicy::random(2, 7, 2.0, seed).unwrap(), p.log_ref(), &pairs, b),
            gradient_route_errors(&LogLinearPolicy::random(2, 7, 4, seed).unwrap(), p.log_ref(), &pairs, b),
            gradient_route_errors(&SequencePolicy::random(2, 2, 2, 2.0, seed).unwrap(), p.log_ref(), &pairs, b),
        ];
        for [closed, duals, fd] in routes {
            prop_assert!(closed <= COMPOSITE_REL, "closed form vs tape {closed}");
            prop_assert!(duals <= COMPOSITE_REL, "duals vs tape {duals}");
            prop_assert!(fd <= FINITE_DIFFERENCE_REL, "differences vs tape {fd}");
        }
    }
}

// claim: C-grad-1
#[test]
fn closed_form_gradient_by_hand() {
    // One prompt, two responses, π_ref = (1/2, 1/2), tabular logits θ = (0, 0), pair 0 ≻ 1.
    // r̂ = 0 for both, σ(0) = 1/2, ∇ log π(0) − ∇ log π(1) = (1, −1):
    // ∇L = −β · 1/2 · (1, −1).
    let beta = 0.05;
    let pi = TabularPolicy::new(&ndarray::array![[0.0, 0.0]]).unwrap();
    let log_ref = ndarray::Array2::from_elem((1, 2), 0.5f64.ln());
    let pairs = [Pair {
        prompt: 0,
        chosen: 0,
        rejected: 1,
        weight: 1.0,
    }];
    let g = dpo_oracle::dpo::dpo_gradient_closed_form(&pi, pi.params(), &log_ref, &pairs, beta)
        .unwrap();
    assert_eq!(g, vec![-beta / 2.0, beta / 2.0]);
}
