//! Steps 4 and 6: the reparameterisation (C-rep) and reward classes, Definition 1 to Proposition 1 (C-def1, C-lem2, C-thm1, C-prop1).

use ndarray::Array1;

use crate::partition::optimal_policy;
use crate::prec::COMPOSITE_REL;
use crate::reward::{class_distance, projection, reparameterised_reward, shift};
use crate::verify::ClaimCheck;

use super::{max_rel_error, random_policy_tables, scale, Case};

pub(super) fn reward_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut round, mut def1, mut lemma2, mut thm1, mut thm1_class, mut prop1]: [Vec<f64>; 6] =
        Default::default();
    for case in cases {
        let p = &case.problem;
        let (beta, s) = (p.beta(), scale(p));
        let opt = optimal_policy(p);
        let back = reparameterised_reward(&opt.log_pi, p.log_ref(), &opt.log_z, beta);
        round.push(max_rel_error(&back, p.reward(), s));
        let f = Array1::from_iter((0..p.prompts()).map(|x| 3.0 * x as f64 - 2.5));
        let shifted = shift(p.reward(), &f);
        def1.push(class_distance(&shifted, p.reward()) / s);
        // A non-constant perturbation is detected: distance equals its spread 0.5.
        let mut bumped = p.reward().clone();
        bumped[[0, 0]] += 0.5;
        def1.push((class_distance(&bumped, p.reward()) - 0.5).abs() / s);
        let opt_shifted = optimal_policy(&p.with_reward(shifted.clone()).expect("finite"));
        lemma2.push(max_rel_error(&opt_shifted.log_pi, &opt.log_pi, s / beta));
        let h = projection(p.reward(), p.log_ref(), beta);
        thm1.push(class_distance(&h, p.reward()) / s);
        thm1.push(max_rel_error(&h, &((&opt.log_pi - p.log_ref()) * beta), s));
        let h_shifted = projection(&shifted, p.log_ref(), beta);
        thm1_class.push(max_rel_error(&h_shifted, &h, s));
        // Proposition 1: a reward beta log pi/pi_ref is its own representative, and its optimal
        // policy is pi itself; so two policies in one class coincide.
        for table in random_policy_tables(case) {
            let r_pi = (&table - p.log_ref()) * beta;
            let s_pi = r_pi.iter().fold(1.0, |m: f64, v| m.max(v.abs()));
            prop1.push(max_rel_error(
                &projection(&r_pi, p.log_ref(), beta),
                &r_pi,
                s_pi,
            ));
            let back = optimal_policy(&p.with_reward(shift(&r_pi, &f)).expect("finite"));
            prop1.push(max_rel_error(&back.log_pi, &table, s_pi / beta));
        }
    }
    vec![
        ClaimCheck::new(
            "C-rep-1",
            "Eq. 5: beta log(pi_r/pi_ref) + beta log Z = r",
            round,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-def1-1",
            "Definition 1: r + f(x) ~ r (distance 0); a non-constant bump is measured exactly",
            def1,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-lem2-1",
            "Lemma 2: pi_{r+f} = pi_r",
            lemma2,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-thm1-1",
            "Theorem 1: projection h(r) ~ r and h(r) = beta log pi_r/pi_ref",
            thm1,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-thm1-2",
            "Theorem 1: the projection is constant on a class, h(r+f) = h(r)",
            thm1_class,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-prop1-1",
            "Proposition 1: beta log pi/pi_ref is its own representative; pi_(it + f) = pi",
            prop1,
            COMPOSITE_REL,
        ),
    ]
}
