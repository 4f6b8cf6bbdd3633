//! Each bug class users reported (§6 of the conventions sheet) as a named test: the oracle
//! reproduces the differing conventions exactly and shows which value each one gives.

use dpo_oracle::convention::{compute_as, Convention};
use dpo_oracle::logps::{
    sequence_logps, sequence_logps_with_precision, LogpOptions, Precision, Reduction,
};
use dpo_oracle::loss::logistic::{sigmoid_loss_f32, sigmoid_loss_f32_naive};
use dpo_oracle::loss::{compute, LossError, LossSpec, LossType, PairLogps};
use dpo_oracle::metrics::Metrics;
use dpo_oracle::prec::FEW_ROUNDINGS_REL;
use ndarray::{array, Array2, Array3};

const LN2: f64 = std::f64::consts::LN_2;

/// IPO on summed log-ratios (authors, OpenRLHF) against TRL's token means on the same input:
/// β = 0.5 so the target is 1/(2β) = 1; ℓ_w = -4 over 1 token, ℓ_l = -7 over 7 tokens.
/// Summed: h = 3, (3 - 1)² = 4. Token mean: h = -4 + 1 = -3, (-3 - 1)² = 16.
#[test]
fn ipo_sum_vs_token_mean_4_vs_16() {
    let (pc, pr, rc, rr) = ([-10.0], [-20.0], [-6.0], [-13.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr).with_token_counts(&[1], &[7]);
    let spec = LossSpec::new(LossType::Ipo, 0.5);
    let summed = compute_as(Convention::Authors, &spec, &b).unwrap().loss;
    let openrlhf = compute_as(Convention::Openrlhf, &spec, &b).unwrap().loss;
    let trl = compute_as(Convention::Trl028, &spec, &b).unwrap().loss;
    assert_eq!((summed, openrlhf, trl), (4.0, 4.0, 16.0));
    assert_eq!(
        compute_as(Convention::Trl029, &spec, &b).unwrap().loss,
        16.0
    );
}

/// A completion with no scored token: the mean is 0/0, NaN under the authors' rule, 0 under
/// TRL's clamp; the sum is 0 under both.
#[test]
fn nan_from_empty_completions_under_mean() {
    let logits = Array3::from_elem((1, 4, 3), 0.5);
    let labels = array![[1_i64, -100, -100, -100]];
    let mean = LogpOptions::default().with_reduction(Reduction::Mean);
    let authors = Convention::Authors.logp_options(Reduction::Mean);
    let trl = Convention::Trl029.logp_options(Reduction::Mean);
    assert_eq!(authors, mean);
    let a = sequence_logps(logits.view(), labels.view(), None, &authors).unwrap();
    let t = sequence_logps(logits.view(), labels.view(), None, &trl).unwrap();
    assert!(a.logps[0].is_nan());
    assert_eq!(t.logps[0], 0.0);
    assert_eq!((a.token_counts[0], t.token_counts[0]), (0, 0));
    // The NaN is the caller's explicit choice; the loss refuses it rather than averaging it in.
    let nan = [a.logps[0]];
    let ok = [-1.0];
    assert!(matches!(
        compute(
            &LossSpec::new(LossType::Sigmoid, 0.1),
            &PairLogps::new(&nan, &ok, &ok, &ok)
        ),
        Err(LossError::NonFinite { pair: 0, .. })
    ));
}

/// The naive ln(1 + e^{-z}) in f32 overflows to +inf below z ≈ -88.7; the stable softplus form
/// gives -z + ln(1 + e^{z}) ≈ 100 (an f32 within one ulp).
#[test]
fn naive_log_sigmoid_overflows() {
    let z = -100.0_f32;
    assert_eq!(sigmoid_loss_f32_naive(z), f32::INFINITY);
    assert_eq!(sigmoid_loss_f32(z), 100.0);
    assert!(sigmoid_loss_f32_naive(-88.0).is_finite());
    // The oracle's own f64 loss at z = -1e4 is exactly 1e4.
    let out = compute(
        &LossSpec::new(LossType::Sigmoid, 1.0),
        &PairLogps::new(&[0.0], &[1e4], &[0.0], &[0.0]),
    )
    .unwrap();
    assert_eq!(out.loss, 1e4);
}

/// Scoring the prompt or padding positions (masking nothing) changes the log-probability; the
/// -100 labels exclude them.
#[test]
fn padding_or_prompt_tokens_counted() {
    let logits = Array3::from_shape_fn((1, 6, 4), |(_, t, v)| ((t * 3 + v) % 5) as f64 * 0.4);
    let response = array![[-100_i64, -100, 2, 3, 1, -100]];
    let everything = array![[0_i64, 1, 2, 3, 1, 0]];
    let opts = LogpOptions::default();
    let right = sequence_logps(logits.view(), response.view(), None, &opts).unwrap();
    let wrong = sequence_logps(logits.view(), everything.view(), None, &opts).unwrap();
    assert_eq!(right.token_counts[0], 3);
    assert_eq!(wrong.token_counts[0], 5);
    assert!(wrong.logps[0] < right.logps[0] - 0.1);
}

/// EOS = PAD (id 0): masking by value drops the real EOS at the end of the response; masking by
/// position keeps it.
#[test]
fn eos_equal_pad_dropped_when_masking_by_value() {
    let pad = 0_i64;
    let logits = Array3::from_shape_fn((1, 6, 3), |(_, t, v)| ((t + 2 * v) % 3) as f64);
    // prompt, response tokens 2 1, EOS (= PAD = 0), padding 0 0.
    let labels = array![[-100_i64, 2, 1, pad, pad, pad]];
    let by_position = array![[false, true, true, true, false, false]];
    let by_value: Array2<bool> = labels.mapv(|l| l != pad && l != -100);
    let opts = LogpOptions::default();
    let right = sequence_logps(
        logits.view(),
        labels.view(),
        Some(by_position.view()),
        &opts,
    )
    .unwrap();
    let wrong = sequence_logps(logits.view(), labels.view(), Some(by_value.view()), &opts).unwrap();
    assert_eq!(right.token_counts[0], 3);
    assert_eq!(wrong.token_counts[0], 2);
    assert!(right.logps[0] < wrong.logps[0]);
}

/// Label smoothing on the sigmoid loss: the authors' code honours it (cDPO), TRL from 0.29 and
/// Liger would ignore it. The oracle refuses rather than silently dropping ε.
#[test]
fn label_smoothing_silently_ignored() {
    let (pc, pr, rc, rr) = ([-1.0], [-3.0], [-2.0], [-2.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr);
    let smoothed = LossSpec::new(LossType::Sigmoid, 1.0).with_label_smoothing(0.2);
    let plain = LossSpec::new(LossType::Sigmoid, 1.0);
    let authors = compute_as(Convention::Authors, &smoothed, &b).unwrap().loss;
    let ignored = compute_as(Convention::Trl029, &plain, &b).unwrap().loss;
    // z = 2: cDPO = 0.8 softplus(-2) + 0.2 softplus(2); sigmoid = softplus(-2).
    let sp = |x: f64| (1.0 + x.exp()).ln();
    assert!((authors - (0.8 * sp(-2.0) + 0.2 * sp(2.0))).abs() < 1e-15);
    assert!((ignored - sp(-2.0)).abs() < 1e-15);
    assert!(authors - ignored > 0.2);
    for c in [Convention::Trl029, Convention::Liger] {
        assert!(matches!(
            compute_as(c, &smoothed, &b),
            Err(LossError::Unsupported { .. })
        ));
    }
}

/// Reference log-probabilities taken in bf16 from the very same logits as an f32 policy: the
/// step-0 rewards are not zero (and the loss is not ln 2), although π = π_ref.
#[test]
fn reference_in_lower_precision_gives_nonzero_step0_rewards() {
    let logits = Array3::from_shape_fn((2, 40, 7), |(b, t, v)| {
        ((b * 13 + t * 7 + v * 5) % 17) as f64 * 0.37 - 2.0
    });
    let labels = Array2::from_shape_fn((2, 40), |(b, t)| ((b + 3 * t) % 7) as i64);
    let opts = LogpOptions::default();
    let at = |p| {
        sequence_logps_with_precision(logits.view(), labels.view(), None, &opts, p)
            .unwrap()
            .logps
    };
    let (policy, same, bf16) = (at(Precision::F32), at(Precision::F32), at(Precision::Bf16));
    let beta = 0.1;
    let rewards_same = Metrics::of(
        beta,
        &PairLogps::new(
            &policy.as_slice().unwrap()[..1],
            &policy.as_slice().unwrap()[1..],
            &same.as_slice().unwrap()[..1],
            &same.as_slice().unwrap()[1..],
        ),
        false,
    )
    .unwrap();
    assert_eq!(rewards_same.rewards_chosen, 0.0);
    let p = policy.as_slice().unwrap();
    let r = bf16.as_slice().unwrap();
    let b = PairLogps::new(&p[..1], &p[1..], &r[..1], &r[1..]);
    let m = Metrics::of(beta, &b, false).unwrap();
    assert!(m.rewards_chosen != 0.0 || m.rewards_rejected != 0.0);
    let out = compute(&LossSpec::new(LossType::Sigmoid, beta), &b).unwrap();
    assert!(out.loss != LN2);
}

/// Reference log-probabilities precomputed from a different model than the initial policy: the
/// rewards at step 0 are not zero and the loss is not ln 2.
#[test]
fn reference_from_the_wrong_model() {
    let (pc, pr) = ([-12.0], [-15.0]);
    let right = compute(
        &LossSpec::new(LossType::Sigmoid, 0.1),
        &PairLogps::new(&pc, &pr, &pc, &pr),
    )
    .unwrap();
    assert!((right.loss - LN2).abs() <= f64::EPSILON);
    assert_eq!(right.chosen_rewards[0], 0.0);
    let wrong = compute(
        &LossSpec::new(LossType::Sigmoid, 0.1),
        &PairLogps::new(&pc, &pr, &[-11.0], &[-16.0]),
    )
    .unwrap();
    assert!(wrong.chosen_rewards[0] != 0.0 && (wrong.loss - LN2).abs() > 0.1);
}

/// At the first step π = π_ref: every reward is 0, the loss is ln 2, and the accuracy is 0
/// because a tie counts as wrong (strict >). Not a bug.
#[test]
fn accuracy_zero_at_step_one_is_the_strict_tie_rule() {
    let (pc, pr) = ([-5.0, -7.0, -9.0], [-6.0, -2.0, -9.5]);
    let b = PairLogps::new(&pc, &pr, &pc, &pr);
    let m = Metrics::of(0.1, &b, false).unwrap();
    assert_eq!(m.rewards_accuracies, 0.0);
    assert_eq!(m.rewards_margins, 0.0);
    let out = compute(&LossSpec::new(LossType::Sigmoid, 0.1), &b).unwrap();
    assert!((out.loss - LN2).abs() <= f64::EPSILON);
}

/// The robust loss is negative for a well-separated pair when ε > 0: at z = 5, ε = 0.2 it is
/// (0.8 softplus(-5) - 0.2 softplus(5)) / 0.6 ≈ -1.66. An unbiased estimator, not a bug.
#[test]
fn robust_loss_negative() {
    let spec = LossSpec::new(LossType::Robust, 1.0).with_label_smoothing(0.2);
    let out = compute(&spec, &PairLogps::new(&[0.0], &[-5.0], &[0.0], &[0.0])).unwrap();
    let sp = |x: f64| (1.0 + x.exp()).ln();
    let expected = (0.8 * sp(-5.0) - 0.2 * sp(5.0)) / 0.6;
    assert!(expected < -1.6);
    assert!((out.loss - expected).abs() <= FEW_ROUNDINGS_REL * expected.abs());
}
