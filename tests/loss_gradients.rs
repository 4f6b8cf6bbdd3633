//! Every loss variant's closed-form gradient against the reverse tape (the same generic formula
//! evaluated with `Var`), forward-mode duals, and Richardson finite differences; values at
//! points where each loss is known by hand; Plackett–Luce against the sigmoid loss at K = 2.

use dpo_oracle::autodiff::with_tape;
use dpo_oracle::loss::plackett_luce::{plackett_luce_loss, plackett_luce_loss_and_grad};
use dpo_oracle::loss::{self, LossSpec, LossType, PairLogps};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL, FEW_ROUNDINGS_REL, FINITE_DIFFERENCE_REL};
use dpo_oracle::verify::chain::plackett_luce_gradient_errors;
use dpo_oracle::verify::losses::{
    dual_gradient, fd_gradient, normwise_error, tape_gradient, variants, OwnedBatch,
};

const LN2: f64 = std::f64::consts::LN_2;

fn closed(prep: &loss::PreparedLoss, b: &OwnedBatch) -> [Vec<f64>; 4] {
    let [pc, pr, rc, rr] = &b.logps;
    prep.mean_gradient(pc, pr, rc, rr).unwrap()
}

#[test]
fn closed_form_equals_tape_for_every_variant() {
    for v in variants() {
        let mut nonzero = false;
        for seed in 0..12 {
            let b = OwnedBatch::sample(1 + seed as usize % 7, seed);
            let prep = v.prepare(&b.view()).unwrap();
            let (c, t) = (
                closed(&prep, &b).concat(),
                tape_gradient(&prep, &b).concat(),
            );
            // Both are exact derivations of one formula: agreement to rounding (COMPOSITE_REL).
            let err = normwise_error(&c, &t, 1e-300);
            assert!(err <= COMPOSITE_REL, "{}: seed {seed}: {err:e}", v.label);
            nonzero |= c.iter().any(|g| *g != 0.0);
        }
        assert!(nonzero, "{}: the gradient is zero on every batch", v.label);
    }
}

#[test]
fn closed_form_equals_finite_differences_for_every_variant() {
    for v in variants() {
        for seed in 20..24 {
            let b = OwnedBatch::sample(4, seed);
            let prep = v.prepare(&b.view()).unwrap();
            let err = normwise_error(
                &closed(&prep, &b).concat(),
                &fd_gradient(&prep, &b).concat(),
                1e-3,
            );
            assert!(
                err <= FINITE_DIFFERENCE_REL,
                "{}: seed {seed}: {err:e}",
                v.label
            );
        }
    }
}

/// Forward mode through the `autodiff` crate's own derivative rules (independent of the
/// elementary table): one directional derivative per input.
#[test]
fn closed_form_equals_forward_duals_for_every_variant() {
    for v in variants() {
        for seed in [40, 41] {
            let b = OwnedBatch::sample(3, seed);
            let prep = v.prepare(&b.view()).unwrap();
            let err = normwise_error(
                &closed(&prep, &b).concat(),
                &dual_gradient(&prep, &b).concat(),
                1e-300,
            );
            assert!(err <= COMPOSITE_REL, "{}: seed {seed}: {err:e}", v.label);
        }
    }
}

/// One pair at $\ell_w = \ell_l = 0$ (so $h = z = 0$), where every loss has a value computable by
/// hand.
#[test]
fn values_at_zero_log_ratios_match_hand_computation() {
    let beta = 0.5;
    let cases: Vec<(LossSpec, f64)> = vec![
        (LossSpec::new(LossType::Sigmoid, beta), LN2),
        (
            LossSpec::new(LossType::Cdpo, beta).with_label_smoothing(0.3),
            LN2,
        ),
        // ((1-ε) ln2 - ε ln2)/(1-2ε) = ln 2.
        (
            LossSpec::new(LossType::Robust, beta).with_label_smoothing(0.2),
            LN2,
        ),
        // (0 - 1/(2·0.5))² = 1.
        (LossSpec::new(LossType::Ipo, beta), 1.0),
        (LossSpec::new(LossType::Hinge, beta), 1.0),
        // ½(ln½ - ln 0.9) + ½(ln½ - ln 0.1).
        (
            LossSpec::new(LossType::ExoPair, beta).with_label_smoothing(0.1),
            -LN2 - 0.5 * (0.9f64 * 0.1).ln(),
        ),
        // ln2 + ½ln2 + ½ln2.
        (LossSpec::new(LossType::NcaPair, beta), 2.0 * LN2),
        (LossSpec::new(LossType::BcoPair, beta), 2.0 * LN2),
        // -log σ(-δ) - log σ(δ) with δ = ln 3: σ(-ln 3) = 1/4, σ(ln 3) = 3/4, so ln(16/3).
        (
            LossSpec::new(LossType::BcoPair, beta).with_bco_delta(3f64.ln()),
            (16.0f64 / 3.0).ln(),
        ),
        // (−1)² + (1)².
        (LossSpec::new(LossType::SppoHard, beta), 2.0),
        (LossSpec::new(LossType::ApoZero, beta), 1.0),
        (LossSpec::new(LossType::ApoDown, beta), 1.0),
        // m = ½: ln2·½ + e^0·½.
        (LossSpec::new(LossType::Discopop, beta), (LN2 + 1.0) / 2.0),
        (LossSpec::new(LossType::Aot, beta), LN2),
        (LossSpec::new(LossType::AotUnpaired, beta), LN2),
    ];
    let (pc, pr, rc, rr) = ([-3.0], [-5.0], [-3.0], [-5.0]);
    for (spec, expected) in cases {
        let out = loss::compute(&spec, &PairLogps::new(&pc, &pr, &rc, &rr)).unwrap();
        assert!(
            rel_error(out.loss, expected, 1.0) <= FEW_ROUNDINGS_REL,
            "{:?}: {} vs {expected}",
            spec.loss_type(),
            out.loss
        );
    }
    // sigmoid_norm at ℓ_w/n_w = ℓ_l/n_l: ℓ_w = 2 over 2 tokens, ℓ_l = 3 over 3 tokens.
    let spec = LossSpec::new(LossType::SigmoidNorm, beta);
    let b = PairLogps::new(&[-1.0], &[-2.0], &[-3.0], &[-5.0]).with_token_counts(&[2], &[3]);
    assert!((loss::compute(&spec, &b).unwrap().loss - LN2).abs() <= FEW_ROUNDINGS_REL);
}

/// The DPO gradient of §4: $\partial L/\partial\log\pi(y_w) = -\beta\sigma(-\beta h)/B$.
#[test]
fn sigmoid_gradient_is_the_papers_weighting() {
    let (pc, pr, rc, rr) = ([-2.0, -4.0], [-3.0, -1.0], [-2.5, -3.0], [-3.5, -2.0]);
    let beta = 0.3;
    let out = loss::compute(
        &LossSpec::new(LossType::Sigmoid, beta),
        &PairLogps::new(&pc, &pr, &rc, &rr),
    )
    .unwrap();
    for i in 0..2 {
        let h = pc[i] - pr[i] - (rc[i] - rr[i]);
        let w = -beta / (1.0 + (beta * h).exp()) / 2.0;
        assert!(rel_error(out.grad_policy_chosen[i], w, 1e-300) <= FEW_ROUNDINGS_REL);
        assert!(rel_error(out.grad_policy_rejected[i], -w, 1e-300) <= FEW_ROUNDINGS_REL);
        assert!(rel_error(out.grad_reference_chosen[i], -w, 1e-300) <= FEW_ROUNDINGS_REL);
    }
}

// claim: C-dpo-4
#[test]
fn plackett_luce_at_two_is_the_sigmoid_loss() {
    let b = OwnedBatch::sample(5, 7);
    let [pc, pr, rc, rr] = &b.logps;
    for beta in [0.01, 0.1, 2.0] {
        for i in 0..5 {
            let one = PairLogps::new(&pc[i..=i], &pr[i..=i], &rc[i..=i], &rr[i..=i]);
            let sig = loss::compute(&LossSpec::new(LossType::Sigmoid, beta), &one).unwrap();
            let (pl, g) =
                plackett_luce_loss_and_grad(beta, &[pc[i], pr[i]], &[rc[i], rr[i]], &[0, 1])
                    .unwrap();
            assert!(rel_error(pl, sig.loss, 1.0) <= COMPOSITE_REL);
            assert!(
                rel_error(g[0], sig.grad_policy_chosen[0], 1e-12) <= COMPOSITE_REL,
                "{beta} {i} {} {}",
                g[0],
                sig.grad_policy_chosen[0]
            );
            assert!(rel_error(g[1], sig.grad_policy_rejected[0], 1e-12) <= COMPOSITE_REL);
            // The reversed ranking is the pair with chosen and rejected swapped.
            let swapped = PairLogps::new(&pr[i..=i], &pc[i..=i], &rr[i..=i], &rc[i..=i]);
            let sig_swapped =
                loss::compute(&LossSpec::new(LossType::Sigmoid, beta), &swapped).unwrap();
            let (pl_rev, _) =
                plackett_luce_loss_and_grad(beta, &[pc[i], pr[i]], &[rc[i], rr[i]], &[1, 0])
                    .unwrap();
            assert!(rel_error(pl_rev, sig_swapped.loss, 1.0) <= COMPOSITE_REL);
        }
    }
}

// claim: C-dpo-4
#[test]
fn plackett_luce_ties_and_shift_invariance() {
    // Ties: ln K! from the factorial itself, not from the loss code.
    let mut factorial = 1.0f64;
    for k in 2..=7usize {
        factorial *= k as f64;
        let policy: Vec<f64> = (0..k).map(|i| -3.0 - 7.0 * i as f64).collect();
        let ranking: Vec<usize> = (0..k).rev().collect();
        let (l, _) = plackett_luce_loss_and_grad(0.3, &policy, &policy, &ranking).unwrap();
        assert!(
            rel_error(l, factorial.ln(), 1.0) <= COMPOSITE_REL,
            "K = {k}: {l}"
        );
    }
    // Shift invariance: adding c to every policy log-probability adds beta c to every reward.
    let b = OwnedBatch::sample(6, 11);
    let [pc, _, rc, _] = &b.logps;
    let reference = rc.clone();
    for beta in [0.01, 0.7, 5.0] {
        for c in [-50.0, 3.7] {
            let shifted: Vec<f64> = pc.iter().map(|x| x + c).collect();
            let ranking = [2, 0, 5, 1, 4, 3];
            let (l0, _) = plackett_luce_loss_and_grad(beta, pc, &reference, &ranking).unwrap();
            let (l1, _) =
                plackett_luce_loss_and_grad(beta, &shifted, &reference, &ranking).unwrap();
            // The shift moves every reward by beta c; rounding of rewards of size beta |c| is
            // within COMPOSITE_REL of 1 + the loss.
            assert!(
                (l0 - l1).abs() <= COMPOSITE_REL * (1.0 + l0 + beta * c.abs() * 6.0),
                "beta {beta}, c {c}: {l0} vs {l1}"
            );
        }
    }
}

// claim: C-grad-4
#[test]
fn plackett_luce_gradient_equals_tape_for_k_five() {
    let policy = [-3.0, -1.5, -7.0, -2.2, -4.4];
    let reference = [-2.0, -2.5, -6.0, -3.0, -4.0];
    let ranking = [3, 0, 4, 1, 2];
    let beta = 0.7;
    let (value, closed) = plackett_luce_loss_and_grad(beta, &policy, &reference, &ranking).unwrap();
    let (tape_value, tape) = with_tape(|t| {
        let p: Vec<_> = policy.iter().map(|&x| t.var(x)).collect();
        let r: Vec<_> = reference.iter().map(|&x| t.var(x)).collect();
        let l = plackett_luce_loss(beta, &p, &r, &ranking).unwrap();
        (l.value(), l.backward().wrt_slice(&p))
    });
    assert_eq!(value, tape_value);
    assert!(normwise_error(&closed, &tape, 1e-300) <= COMPOSITE_REL);
    // The gradient sums to 0: adding a constant to every reward leaves p(τ) unchanged.
    assert!(closed.iter().sum::<f64>().abs() <= 1e-15);
}

// claim: C-grad-4
#[test]
fn plackett_luce_gradient_equals_tape_on_random_rankings() {
    for seed in 0..24u64 {
        let k = 2 + seed as usize % 5;
        let b = OwnedBatch::sample(k, 100 + seed);
        let [policy, _, reference, _] = &b.logps;
        // A ranking drawn from the seed (a rotation and a reversal of 0..k).
        let mut ranking: Vec<usize> = (0..k).map(|i| (i + seed as usize) % k).collect();
        if seed % 2 == 1 {
            ranking.reverse();
        }
        for beta in [0.01, 0.7, 5.0] {
            // In units of beta K (see `plackett_luce_gradient_errors`): both exact routes,
            // so agreement to rounding of those terms.
            let [tape, sum] = plackett_luce_gradient_errors(beta, policy, reference, &ranking);
            assert!(tape <= COMPOSITE_REL, "seed {seed}, beta {beta}: {tape:e}");
            assert!(
                sum <= COMPOSITE_REL,
                "seed {seed}, beta {beta}: sum {sum:e}"
            );
        }
    }
}

mod random {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random batches (log-probabilities in [-300, 0], counts in [0, 40]) and β over five
        /// decades: closed form = tape for every variant that accepts the batch.
        #[test]
        fn closed_form_equals_tape_on_random_batches(
            rows in prop::collection::vec(
                (-300.0..0.0f64, -300.0..0.0f64, -300.0..0.0f64, -300.0..0.0f64, 1usize..40, 1usize..40),
                1..6,
            ),
            log_beta in -3.0..2.0f64,
        ) {
            let b = OwnedBatch {
                logps: [0, 1, 2, 3].map(|k| rows.iter().map(|r| [r.0, r.1, r.2, r.3][k]).collect()),
                counts: [0, 1].map(|k| rows.iter().map(|r| [r.4, r.5][k]).collect()),
            };
            let beta = 10f64.powf(log_beta);
            for v in variants() {
                let spec = v.spec.with_beta(beta);
                prop_assert_eq!(spec.beta(), beta);
                let prep = match v.convention {
                    Some(c) => c.prepare(&spec, &b.view()),
                    None => loss::prepare(&spec, &b.view()),
                }
                .unwrap();
                let c = closed(&prep, &b).concat();
                let t = tape_gradient(&prep, &b).concat();
                prop_assert!(c.iter().all(|x| x.is_finite()), "{}", v.label);
                // Near a stationary point of ℓ(z) (exo_pair's minimum at z = ln((1−ε)/ε), for
                // one) the tape's product-rule terms cancel: its rounding error is relative to
                // the terms' scale β/n, not to the vanishing value. So the error is measured
                // against max(|g|, β/n); away from such points this is the relative error.
                let err = normwise_error(&c, &t, beta / rows.len() as f64);
                prop_assert!(err <= COMPOSITE_REL, "{}: β = {beta}: {err:e}", v.label);
            }
        }
    }
}

/// `with_beta` sets the β the loss is computed at: the sigmoid loss of one pair with $h = 1$ is
/// $\operatorname{softplus}(-\beta)$, a different value at each β of the sweep (closed form).
#[test]
fn with_beta_changes_the_loss_as_the_closed_form_says() {
    let (pc, pr, zero) = ([0.0], [-1.0], [0.0]);
    let batch = PairLogps::new(&pc, &pr, &zero, &zero);
    let base = LossSpec::new(LossType::Sigmoid, 0.1);
    for beta in [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0] {
        let out = loss::compute(&base.with_beta(beta), &batch).unwrap();
        let want = (-beta).exp().ln_1p();
        assert!(
            rel_error(out.loss, want, 0.0) <= FEW_ROUNDINGS_REL,
            "β = {beta}"
        );
    }
}

/// Every other `with_…` setter is used by the loss, checked against the closed form at one pair
/// ($\beta = 1$, $\ell_w = 1$, $\ell_l = -1$ unless said): reference-free drops
/// $\log\pi_{\text{ref}}$; DiscoPOP's $\tau$ gates its blend; BCO's $\delta$ shifts both
/// log-sigmoids; propagation lets a NaN through instead of rejecting it.
#[test]
fn every_setter_changes_the_loss_as_the_closed_form_says() {
    let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    let close = |a: f64, b: f64| rel_error(a, b, 0.0) <= FEW_ROUNDINGS_REL;
    // Reference-free: h = π_w - π_l = 0 - (-1) = 1 (with the reference, h = 5 - (-1) = 6).
    let (pc, pr, rc, rr) = ([0.0], [-1.0], [-5.0], [0.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr);
    let free = LossSpec::new(LossType::Sigmoid, 1.0).with_reference_free(true);
    assert!(close(
        loss::compute(&free, &b).unwrap().loss,
        softplus(-1.0)
    ));
    // ℓ_w = 1, ℓ_l = -1 from here on.
    let (pc, pr, zero) = ([1.0], [-1.0], [0.0]);
    let b = PairLogps::new(&pc, &pr, &zero, &zero);
    // DiscoPOP at z = 2, τ = 0.5: -log σ(z)(1 - m) + e^{-z} m with m = σ(z/τ) = σ(4).
    let m = 1.0 / (1.0 + (-4.0f64).exp());
    let want = softplus(-2.0) * (1.0 - m) + (-2.0f64).exp() * m;
    let disco = LossSpec::new(LossType::Discopop, 1.0).with_tau(0.5);
    assert!(close(loss::compute(&disco, &b).unwrap().loss, want));
    // BCO with δ = 0.3: softplus(δ - βℓ_w) + softplus(βℓ_l - δ) = softplus(-0.7) + softplus(-1.3).
    let bco = LossSpec::new(LossType::BcoPair, 1.0).with_bco_delta(0.3);
    let want = softplus(-0.7) + softplus(-1.3);
    assert!(close(loss::compute(&bco, &b).unwrap().loss, want));
    // Propagation: a NaN log-probability gives a NaN loss instead of LossError::NonFinite.
    let nan = [f64::NAN];
    let b = PairLogps::new(&nan, &pr, &zero, &zero);
    let spec = LossSpec::new(LossType::Sigmoid, 1.0).with_propagate_non_finite(true);
    assert!(loss::compute(&spec, &b).unwrap().loss.is_nan());
}
