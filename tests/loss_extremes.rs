//! Extremes: margins |βh| up to 1e4 in f64 and f32, β → 0 (first-order expansion), β = 1000,
//! and the self-verification rows of the losses.

use dpo_oracle::loss::discopop::discopop;
use dpo_oracle::loss::logistic::{cdpo, cdpo_dz, sigmoid_loss_f32};
use dpo_oracle::loss::{compute, LossSpec, LossType, PairLogps};
use dpo_oracle::prec::{rel_error, FEW_ROUNDINGS_REL, FEW_ROUNDINGS_REL_F32};
use dpo_oracle::verify::losses::{checks, sigmoid_loss_asymptote, variants};

const LN2: f64 = std::f64::consts::LN_2;

/// −log σ(z) against max(−z, 0) + e^{−|z|} (exact to f64 resolution for |z| ≥ 40): within
/// 4 ulps in f64, and 4 f32 ulps (or one subnormal spacing) in f32.
#[test]
fn sigmoid_loss_accurate_up_to_1e4() {
    for z in [
        -1e4, -3e3, -1e3, -500.0, -88.8, -40.0, 40.0, 88.8, 500.0, 1e4,
    ] {
        let r = sigmoid_loss_asymptote(z);
        assert!(
            rel_error(cdpo(z, 0.0), r, f64::MIN_POSITIVE) <= FEW_ROUNDINGS_REL,
            "{z}"
        );
        // The f32 input is z rounded to f32: compare against the reference there.
        let r = sigmoid_loss_asymptote(f64::from(z as f32));
        let f = f64::from(sigmoid_loss_f32(z as f32));
        let ok = if r < f64::from(f32::MIN_POSITIVE) {
            (f - r).abs() <= 2f64.powi(-149)
        } else {
            rel_error(f, r, 0.0) <= FEW_ROUNDINGS_REL_F32
        };
        assert!(ok, "f32 at {z}: {f} vs {r}");
        // ℓ'(z) = -σ(-z): -1 to within rounding for z ≪ 0, and tiny (never NaN) for z ≫ 0.
        let d = cdpo_dz(z, 0.0);
        if z < 0.0 {
            assert!((d + 1.0).abs() <= 2.0 * (z.exp() + f64::EPSILON));
        } else {
            assert!(d <= 0.0 && d > -1e-17);
        }
    }
}

/// Every variant (loss and gradient) is finite at |βh| = 1e4 with β = 0.1 and at β = 1000.
#[test]
fn every_variant_finite_at_extreme_margins() {
    for v in variants() {
        for (beta_scale, h) in [(1.0, 1e5), (1.0, -1e5), (1e4, 10.0), (1e4, -10.0)] {
            let spec = v.spec.with_beta(v.spec.beta() * beta_scale);
            let (pc, pr, zero) = ([h, h / 3.0], [0.0, -h / 2.0], [0.0, 0.0]);
            let b = PairLogps::new(&pc, &pr, &zero, &zero).with_token_counts(&[2, 1], &[1, 3]);
            let prep = match v.convention {
                Some(c) => c.prepare(&spec, &b),
                None => dpo_oracle::loss::prepare(&spec, &b),
            }
            .unwrap();
            let out = prep.evaluate(&b).unwrap();
            let all = [
                &out.losses,
                &out.grad_policy_chosen,
                &out.grad_policy_rejected,
                &out.grad_reference_chosen,
                &out.grad_reference_rejected,
            ];
            assert!(
                all.iter().all(|a| a.iter().all(|x| x.is_finite())),
                "{} β = {} h = {h}: {out:?}",
                v.label,
                spec.beta()
            );
        }
    }
}

/// β → 0: −log σ(βh) = ln 2 − βh/2 + (βh)²/8 + O((βh)⁴), and the gradient with respect to
/// π(y_w) is −β σ(−βh) = −β/2 + O(β²h).
#[test]
fn tiny_beta_gives_ln2_minus_half_beta_h() {
    let beta = 1e-8;
    for h in [-50.0, -3.0, 0.5, 20.0] {
        let out = compute(
            &LossSpec::new(LossType::Sigmoid, beta),
            &PairLogps::new(&[h], &[0.0], &[0.0], &[0.0]),
        )
        .unwrap();
        let z: f64 = beta * h;
        let first_order = LN2 - z / 2.0;
        assert!(
            (out.loss - first_order).abs() <= z * z / 8.0 * 1.01 + FEW_ROUNDINGS_REL,
            "{h}"
        );
        assert!((out.grad_policy_chosen[0] + beta / 2.0).abs() <= beta * z.abs() / 4.0 * 1.01);
    }
}

/// β = 1000: the sigmoid loss of h = ±10 is 0 (to e^{−1e4}) and 1e4, with gradients 0 and −β.
#[test]
fn large_beta() {
    let spec = LossSpec::new(LossType::Sigmoid, 1000.0);
    let out = compute(
        &spec,
        &PairLogps::new(&[10.0, -10.0], &[0.0, 0.0], &[0.0, 0.0], &[0.0, 0.0]),
    )
    .unwrap();
    assert_eq!(out.losses, vec![0.0, 1e4]);
    assert_eq!(out.grad_policy_chosen[1], -1000.0 / 2.0);
    assert!(out.grad_policy_chosen[0] <= 0.0 && out.grad_policy_chosen[0] > -1e-300);
    // IPO at β = 1000: the target 1/(2β) = 5e-4.
    let ipo = compute(
        &LossSpec::new(LossType::Ipo, 1000.0),
        &PairLogps::new(&[1.0], &[0.0], &[0.0], &[0.0]),
    )
    .unwrap();
    assert!((ipo.loss - (1.0f64 - 5e-4).powi(2)).abs() <= FEW_ROUNDINGS_REL);
}

/// DiscoPOP's literal e^{−z}·σ(z/τ) is ∞·0 = NaN at z = −1e4; the exponent form is finite.
#[test]
fn discopop_exponential_term_does_not_overflow() {
    let z = -1e4_f64;
    let literal = (-z).exp() * (1.0 / (1.0 + (-z / 0.05).exp()));
    assert!(literal.is_nan());
    let value = discopop(z, 0.05);
    // m = σ(-2e5) = 0 to f64: the value is the logistic term 1e4.
    assert_eq!(value, 1e4);
}

#[test]
fn loss_rows_of_the_verification_table_pass() {
    for row in checks() {
        assert!(row.passed(), "{row:?}");
    }
}
