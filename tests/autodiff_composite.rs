//! Composites written once over `Real` — a tabular softmax policy's log-probability, one pair's
//! DPO loss, a pair's loss under two tabular policies, and the mean DPO loss of a batch —
//! differentiated on the tape and checked against duals, finite differences and closed forms.
//! Tolerances: `Function::tolerance` (the softmax bound for log-probabilities; for losses
//! `prec::composite_rel`, which grows with β times the size of the log-probabilities, since
//! the margin is a difference of them) and each finite-difference estimate's stated bound.

mod autodiff_common;

use autodiff_common::{beta, composite_and_args, scalar_in};
use dpo_oracle::autodiff::with_tape;
use dpo_oracle::prec::composite_rel;
use dpo_oracle::scalar::log_softmax;
use dpo_oracle::verify::engine::composite::mean_tabular_dpo_loss;
use dpo_oracle::verify::engine::function::Tolerance;
use dpo_oracle::verify::engine::function::{
    disagreements, seeded, tape_gradient, Domain, Function, Route,
};
use dpo_oracle::verify::engine::ops::logistic;
use dpo_oracle::verify::ClaimCheck;
use proptest::collection::vec;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn composites_agree_three_ways((c, xs) in composite_and_args()) {
        for route in [Route::Duals, Route::FiniteDifferences, Route::ClosedForm] {
            let errors = disagreements(&c, &xs, route).unwrap();
            prop_assert!(
                errors.iter().all(|&e| e <= 1.0),
                "{c:?} at {xs:?} against {route:?}: {errors:?}"
            );
        }
        let (value, gradient) = tape_gradient(&c, &xs).unwrap();
        prop_assert!(value.is_finite() && gradient.iter().all(|g| g.is_finite()));
        // The tape records the f64 evaluation of the same generic code.
        prop_assert_eq!(value, c.apply(&xs).unwrap());
    }

    /// The mean DPO loss of a batch under a tabular policy against a fixed reference:
    /// $\partial L/\partial\theta_j = \frac1P\sum_p -\beta\sigma(-z_p)(\delta_{j w_p} - \delta_{j l_p})$
    /// with $z_p = \beta[(\theta_{w_p} - \theta_{l_p}) - (\log\pi_{\text{ref}}(w_p) - \log\pi_{\text{ref}}(l_p))]$
    /// (the log-sum-exp cancels in a margin), and the duals through the same code.
    #[test]
    fn mean_loss_gradient_is_the_hand_derived_one(
        (theta, reference_logits, pairs) in (2..=8usize).prop_flat_map(|n| (
            vec(scalar_in(Domain::REAL), n),
            vec(scalar_in(Domain::REAL), n),
            vec((0..n, 0..n), 1..20),
        )),
        beta in beta(),
    ) {
        let reference = log_softmax(&reference_logits).unwrap();
        let (value, gradient) = with_tape(|t| {
            let vars: Vec<_> = theta.iter().map(|&x| t.var(x)).collect();
            let loss = mean_tabular_dpo_loss(&vars, &reference, &pairs, beta).unwrap();
            (loss.value(), loss.backward().wrt_slice(&vars))
        });
        prop_assert_eq!(value, mean_tabular_dpo_loss(&theta, &reference, &pairs, beta).unwrap());

        let mut expected = vec![0.0; theta.len()];
        for &(w, l) in &pairs {
            let z = beta * ((theta[w] - theta[l]) - (reference[w] - reference[l]));
            let slope = beta * logistic(-z) / pairs.len() as f64;
            expected[w] -= slope;
            expected[l] += slope;
        }
        let duals: Vec<f64> = (0..theta.len())
            .map(|i| {
                let duals = seeded(&theta, i);
                mean_tabular_dpo_loss(&duals, &reference, &pairs, beta).unwrap().deriv()
            })
            .collect();
        // Per-pair terms are at most β/P in size and may cancel between pairs: the error is
        // absolute at the scale β; each term's relative error grows with β times the
        // log-probabilities' size (`composite_rel`).
        let scale = theta.iter().chain(&reference).fold(0.0_f64, |m, x| m.max(x.abs()));
        let tol = Tolerance { rel: composite_rel(beta * (scale + 10.0)), floor: beta };
        for j in 0..theta.len() {
            prop_assert!(tol.ratio(gradient[j], expected[j]) <= 1.0,
                "θ_{j}: tape {} closed form {}", gradient[j], expected[j]);
            prop_assert!(tol.ratio(gradient[j], duals[j]) <= 1.0,
                "θ_{j}: tape {} duals {}", gradient[j], duals[j]);
        }
    }
}

/// The engine's rows of the main job pass.
#[test]
fn engine_claims_pass() {
    let rows: Vec<ClaimCheck> = dpo_oracle::verify::engine::checks();
    assert_eq!(rows.len(), 5);
    for row in rows {
        assert!(row.passed(), "{row:?}");
    }
}

/// At initialisation ($\pi_\theta = \pi_{\text{ref}}$) every margin is 0 and the loss is
/// $\ln 2$ (the figure TRL's first logged loss shows), whatever β and the pairs.
#[test]
fn loss_at_initialisation_is_ln_2() {
    let theta = [0.3, -1.2, 2.0, 0.0];
    let reference = log_softmax(&theta).unwrap();
    for beta in [1e-3, 0.1, 10.0] {
        let loss =
            mean_tabular_dpo_loss(&theta, &reference, &[(0, 1), (2, 3), (3, 0)], beta).unwrap();
        assert!(
            (loss - std::f64::consts::LN_2).abs() <= 4.0 * f64::EPSILON,
            "β = {beta}: {loss}"
        );
    }
}
