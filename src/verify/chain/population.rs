//! Step 8: the population minimiser (C-pop).

use crate::autodiff::with_tape;
use crate::dpo::dpo_loss;
use crate::partition::optimal_policy;
use crate::policy::{Policy, TabularPolicy};
use crate::population::{minimise_tabular, population_pairs, worst_total_variation};
use crate::prec::{rel_error, COMPOSITE_REL, POPULATION_TV, READ_BACK_CLASS};
use crate::problem::Problem;
use crate::reward::class_distance;
use crate::scalar::Real;
use crate::verify::ClaimCheck;

use super::{Case, BETAS};

pub(super) fn population_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut tv, mut class, mut entropy, mut grad]: [Vec<f64>; 4] = Default::default();
    // Besides the built-in cases, wide rewards r ~ U(-2, 2): at β = 0.05 the optimal logits
    // span up to 80 and probabilities reach e^{-80}.
    let wide: Vec<Problem> = BETAS
        .iter()
        .enumerate()
        .map(|(i, &beta)| Problem::random(3, 6, 2.0, beta, 40 + i as u64).expect("valid"))
        .collect();
    let problems = cases.iter().map(|c| &c.problem).chain(&wide);
    for p in problems {
        let beta = p.beta();
        let pairs = population_pairs(p);
        let opt = optimal_policy(p);
        match minimise_tabular(p.log_ref(), &pairs, beta) {
            Ok(fit) => {
                tv.push(worst_total_variation(&fit.policy, &opt.log_pi));
                let read_back = (&fit.policy.log_prob_table() - p.log_ref()) * beta;
                class.push(class_distance(&read_back, p.reward()));
            }
            Err(_) => {
                tv.push(f64::INFINITY);
                class.push(f64::INFINITY);
            }
        }
        // At pi_{r*} the loss is the mean binary entropy of the true preferences.
        let star = TabularPolicy::new(&opt.log_pi).expect("built-in inputs are valid");
        let at_star = dpo_loss(&star, star.params(), p.log_ref(), &pairs, beta)
            .expect("built-in inputs are valid");
        let mut h = 0.0;
        for x in 0..p.prompts() {
            let (l, r) = (p.log_ref_row(x), p.reward().row(x));
            for a in 0..l.len() {
                for b in 0..l.len() {
                    let q = (r[a] - r[b]).sigmoid();
                    let binary = -(q * q.ln() + (1.0 - q) * (1.0 - q).ln());
                    h += (l[a] + l[b]).exp() * binary / p.prompts() as f64;
                }
            }
        }
        entropy.push(rel_error(at_star, h, 1.0));
        let g = with_tape(|t| {
            let vars: Vec<_> = star.params().iter().map(|&v| t.var(v)).collect();
            dpo_loss(&star, &vars, p.log_ref(), &pairs, beta)
                .expect("built-in inputs are valid")
                .backward()
                .wrt_slice(&vars)
        });
        grad.extend(g.iter().map(|v| v.abs() / beta));
    }
    vec![
        ClaimCheck::new(
            "C-pop-1",
            "population DPO minimiser (Newton, tape gradient) is pi_{r*}: worst TV",
            tv,
            POPULATION_TV,
        ),
        ClaimCheck::new(
            "C-pop-2",
            "reward read back through Eq. 5 differs from r* by f(x) only",
            class,
            READ_BACK_CLASS,
        ),
        ClaimCheck::new(
            "C-pop-3",
            "population loss at pi_{r*} = E binary entropy of p* (its minimum)",
            entropy,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pop-4",
            "gradient of the population loss vanishes at pi_{r*} (tape, per unit beta)",
            grad,
            COMPOSITE_REL,
        ),
    ]
}
