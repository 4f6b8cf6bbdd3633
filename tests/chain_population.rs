//! The population minimiser: exact population DPO loss, Newton with the tape's gradient.

mod common;

use dpo_oracle::autodiff::with_tape;
use dpo_oracle::dpo::dpo_loss;
use dpo_oracle::partition::optimal_policy;
use dpo_oracle::policy::{Policy, TabularPolicy};
use dpo_oracle::population::{minimise_tabular, population_pairs, worst_total_variation};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL, POPULATION_TV, READ_BACK_CLASS};
use dpo_oracle::problem::Problem;
use dpo_oracle::reward::class_distance;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    // claim: C-pop-1
    // claim: C-pop-2
    #[test]
    fn minimiser_is_the_optimal_policy(seed in 0u64..1000, b in common::beta(), ys in 2usize..7, scale in 0.1..2.0f64) {
        let p = Problem::random(2, ys, scale, b, seed).unwrap();
        let fit = minimise_tabular(p.log_ref(), &population_pairs(&p), b).unwrap();
        let opt = optimal_policy(&p);
        prop_assert!(worst_total_variation(&fit.policy, &opt.log_pi) <= POPULATION_TV);
        let read_back = (&fit.policy.log_prob_table() - p.log_ref()) * b;
        prop_assert!(class_distance(&read_back, p.reward()) <= READ_BACK_CLASS);
    }

    // claim: C-pop-3
    // claim: C-pop-4
    #[test]
    fn loss_at_the_optimum_is_the_preference_entropy(seed in 0u64..1000, b in common::beta()) {
        let p = Problem::random(3, 4, 2.0, b, seed).unwrap();
        let pairs = population_pairs(&p);
        let total: f64 = pairs.iter().map(|q| q.weight).sum();
        prop_assert!((total - 1.0).abs() <= COMPOSITE_REL);
        let star = TabularPolicy::new(&optimal_policy(&p).log_pi).unwrap();
        let at_star = dpo_loss(&star, star.params(), p.log_ref(), &pairs, b).unwrap();
        // E over x and draws of the binary entropy H(σ(r*_1 − r*_2)).
        let mut h = 0.0;
        for x in 0..3 {
            for a in 0..4 {
                for c in 0..4 {
                    let q = 1.0 / (1.0 + (p.reward()[[x, c]] - p.reward()[[x, a]]).exp());
                    let w = (p.log_ref()[[x, a]] + p.log_ref()[[x, c]]).exp() / 3.0;
                    h -= w * (q * q.ln() + (1.0 - q) * (1.0 - q).ln());
                }
            }
        }
        prop_assert!(rel_error(at_star, h, 1.0) <= COMPOSITE_REL);
        // It is the minimum: any other policy does worse by the mean KL of the preferences.
        let other = TabularPolicy::random(3, 4, 1.0, seed).unwrap();
        prop_assert!(dpo_loss(&other, other.params(), p.log_ref(), &pairs, b).unwrap() >= at_star);
        let g = with_tape(|t| {
            let v: Vec<_> = star.params().iter().map(|&a| t.var(a)).collect();
            dpo_loss(&star, &v, p.log_ref(), &pairs, b).unwrap().backward().wrt_slice(&v)
        });
        for gi in g {
            prop_assert!(gi.abs() <= COMPOSITE_REL * b);
        }
    }
}

// claim: C-pop-1
#[test]
fn minimiser_reaches_a_sharply_peaked_optimum() {
    // r ∈ [−2, 2] with β = 0.05: logits of π_{r*} span up to 80, probabilities down to e^{-80}.
    let p = Problem::random(3, 6, 2.0, 0.05, 7).unwrap();
    let fit = minimise_tabular(p.log_ref(), &population_pairs(&p), 0.05).unwrap();
    assert!(worst_total_variation(&fit.policy, &optimal_policy(&p).log_pi) <= POPULATION_TV);
}
