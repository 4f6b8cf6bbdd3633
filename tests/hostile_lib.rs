//! Adversarial inputs against the library: each case names the exact outcome, either the typed
//! error (variant and fields) or the mathematically right value from an independent route (a
//! closed form or an asymptotic expansion exact at `f64` resolution), never merely "it failed".
//!
//! Tolerances: [`FEW_ROUNDINGS_REL`] (8 unit roundoffs) where the value is a handful of correctly
//! rounded operations and one libm call; exact equality where the result is a single rounding
//! of a product or an underflow to zero.

use dpo_oracle::dpo::{dpo_gradient_closed_form, dpo_loss, DpoError, Pair};
use dpo_oracle::logps::{sequence_logps, sequence_logps_grad, LogpError, LogpOptions};
use dpo_oracle::loss::plackett_luce::{plackett_luce_loss, plackett_luce_loss_and_grad};
use dpo_oracle::loss::{compute, prepare, LossError, LossOutput, LossSpec, LossType, PairLogps};
use dpo_oracle::metrics::Metrics;
use dpo_oracle::partition::optimal_policy;
use dpo_oracle::policy::{LogLinearPolicy, Policy, PolicyError, SequencePolicy, TabularPolicy};
use dpo_oracle::prec::{rel_error, FEW_ROUNDINGS_REL};
use dpo_oracle::preference::PreferenceError;
use dpo_oracle::problem::{random_reward, Problem, ProblemError};
use ndarray::{array, Array2, Array3};

const LN2: f64 = std::f64::consts::LN_2;

fn close(a: f64, b: f64) -> bool {
    rel_error(a, b, f64::MIN_POSITIVE) <= FEW_ROUNDINGS_REL
}

fn one_pair(spec: LossSpec, pc: f64, pr: f64, rc: f64, rr: f64) -> Result<LossOutput, LossError> {
    compute(&spec, &PairLogps::new(&[pc], &[pr], &[rc], &[rr]))
}

fn sigmoid(beta: f64) -> LossSpec {
    LossSpec::new(LossType::Sigmoid, beta)
}

fn all_finite(out: &LossOutput) -> bool {
    [
        &out.losses,
        &out.chosen_rewards,
        &out.rejected_rewards,
        &out.grad_policy_chosen,
        &out.grad_policy_rejected,
        &out.grad_reference_chosen,
        &out.grad_reference_rejected,
    ]
    .iter()
    .all(|v| v.iter().all(|x| x.is_finite()))
        && out.loss.is_finite()
}

// ---------------------------------------------------------------- Problem::random and sizes

#[test]
fn random_problem_rejects_nan_reward_scale() {
    let e = Problem::random(2, 3, f64::NAN, 0.1, 1).unwrap_err();
    assert!(
        matches!(e, ProblemError::InvalidRewardScale(s) if s.is_nan()),
        "{e:?}"
    );
}

#[test]
fn random_problem_rejects_negative_reward_scale() {
    assert_eq!(
        Problem::random(2, 3, -1.0, 0.1, 1).unwrap_err(),
        ProblemError::InvalidRewardScale(-1.0)
    );
}

#[test]
fn random_problem_rejects_infinite_reward_scale() {
    assert_eq!(
        Problem::random(2, 3, f64::INFINITY, 0.1, 1).unwrap_err(),
        ProblemError::InvalidRewardScale(f64::INFINITY)
    );
}

#[test]
fn random_problem_rejects_reward_scale_whose_width_overflows() {
    // U(-s, s) has width 2s = 2e308 > f64::MAX; just above MAX/4 is refused too.
    assert_eq!(
        Problem::random(2, 3, 1e308, 0.1, 1).unwrap_err(),
        ProblemError::InvalidRewardScale(1e308)
    );
    let above = f64::MAX / 4.0 * (1.0 + f64::EPSILON);
    assert_eq!(
        Problem::random(2, 3, above, 0.1, 1).unwrap_err(),
        ProblemError::InvalidRewardScale(above)
    );
}

#[test]
fn random_problem_accepts_the_largest_reward_scale() {
    // s = MAX/4 is allowed; with β = 4, |r|/β ≤ MAX/16 passes the overflow check.
    let s = f64::MAX / 4.0;
    let p = Problem::random(2, 3, s, 4.0, 1).unwrap();
    assert!(p.reward().iter().all(|r| r.is_finite() && r.abs() <= s));
    let opt = optimal_policy(&p);
    assert!(opt.log_pi.iter().all(|v| v.is_finite() && *v <= 0.0));
}

#[test]
fn random_problem_rejects_sizes_whose_product_overflows() {
    assert_eq!(
        Problem::random(usize::MAX, 2, 1.0, 0.1, 1).unwrap_err(),
        ProblemError::TooLarge {
            prompts: usize::MAX,
            responses: 2
        }
    );
}

#[test]
fn random_problem_rejects_tables_beyond_the_limit() {
    // 2^20 × 2^20 = 2^40 entries (8 TiB) is refused before allocating.
    assert_eq!(
        Problem::random(1 << 20, 1 << 20, 1.0, 0.1, 1).unwrap_err(),
        ProblemError::TooLarge {
            prompts: 1 << 20,
            responses: 1 << 20
        }
    );
}

#[test]
fn random_problem_rejects_zero_responses() {
    assert_eq!(
        Problem::random(3, 0, 1.0, 0.1, 1).unwrap_err(),
        ProblemError::EmptyResponseSet {
            prompts: 3,
            responses: 0
        }
    );
}

#[test]
fn random_problem_rejects_nan_beta() {
    let e = Problem::random(2, 3, 1.0, f64::NAN, 1).unwrap_err();
    assert!(
        matches!(e, ProblemError::NonFiniteBeta(b) if b.is_nan()),
        "{e:?}"
    );
}

#[test]
fn random_reward_rejects_nan_scale() {
    let e = random_reward(2, 2, f64::NAN, 0).unwrap_err();
    assert!(
        matches!(e, ProblemError::InvalidRewardScale(s) if s.is_nan()),
        "{e:?}"
    );
}

#[test]
fn random_reward_of_zero_scale_is_zero() {
    let r = random_reward(2, 2, 0.0, 0).unwrap();
    assert!(r.iter().all(|&x| x == 0.0));
}

#[test]
fn problem_rejects_reward_over_beta_overflow() {
    let pi = array![[0.5, 0.5]];
    let e = Problem::new(&pi, array![[1e300, 0.0]], 1e-10).unwrap_err();
    assert_eq!(
        e,
        ProblemError::RewardOverBetaOverflow {
            prompt: 0,
            response: 0,
            reward: 1e300,
            beta: 1e-10
        }
    );
}

#[test]
fn with_beta_rejects_an_overflowing_exponent() {
    let p = Problem::new(&array![[0.5, 0.5]], array![[1.0, -1.0]], 0.1).unwrap();
    // 1 / 1e-308 = 1e308 > MAX/4.
    assert!(matches!(
        p.with_beta(1e-308).unwrap_err(),
        ProblemError::RewardOverBetaOverflow { prompt: 0, .. }
    ));
}

#[test]
fn optimal_policy_at_beta_1e_minus_300_is_the_argmax() {
    // π_r ∝ π_ref e^{r/β}: with β = 1e-300 the log-probability of the loser is
    // (r_l - r_w)/β + log π_ref(l) - log π_ref(w) - log(1 + e^{that}) = -2e300 (to rounding),
    // and the winner's is -log1p(e^{-2e300}) = 0.
    let p = Problem::new(&array![[0.5, 0.5]], array![[1.0, -1.0]], 0.1)
        .unwrap()
        .with_beta(1e-300)
        .unwrap();
    let opt = optimal_policy(&p);
    assert_eq!(opt.log_pi[[0, 0]], 0.0);
    assert!(close(opt.log_pi[[0, 1]], -2e300), "{}", opt.log_pi[[0, 1]]);
    assert!(close(opt.log_z[0], 1e300 + 0.5f64.ln()), "{}", opt.log_z[0]);
}

#[test]
fn with_reward_rejects_an_overflowing_exponent() {
    let p = Problem::new(&array![[0.5, 0.5]], array![[1.0, -1.0]], 1e-300).unwrap();
    assert!(matches!(
        p.with_reward(array![[1e10, 0.0]]).unwrap_err(),
        ProblemError::RewardOverBetaOverflow { response: 0, .. }
    ));
}

// ---------------------------------------------------------------- policies

#[test]
fn tabular_random_rejects_overflowing_sizes() {
    assert_eq!(
        TabularPolicy::random(usize::MAX, 2, 1.0, 0).unwrap_err(),
        PolicyError::TooLarge {
            what: "logit table"
        }
    );
}

#[test]
fn loglinear_random_rejects_tables_beyond_the_limit() {
    assert_eq!(
        LogLinearPolicy::random(1 << 10, 1 << 10, 1 << 10, 0).unwrap_err(),
        PolicyError::TooLarge {
            what: "feature table"
        }
    );
}

#[test]
fn sequence_random_rejects_an_enumeration_beyond_the_limit() {
    // Σ_{k ≤ 30} 10^k responses: their Σ k 10^k tokens pass the limit first (at k = 8).
    assert_eq!(
        SequencePolicy::random(1, 10, 30, 1.0, 0).unwrap_err(),
        PolicyError::TooLarge {
            what: "response tokens"
        }
    );
}

#[test]
fn sequence_random_rejects_a_table_beyond_the_limit() {
    // 2^20 prompts × 2047 responses (V = 2, L = 10) = 2.1e9 log-probabilities.
    assert_eq!(
        SequencePolicy::random(1 << 20, 2, 10, 1.0, 0).unwrap_err(),
        PolicyError::TooLarge {
            what: "log-probability table"
        }
    );
}

#[test]
fn sequence_new_rejects_a_parameter_count_that_overflows() {
    assert_eq!(
        SequencePolicy::new(usize::MAX, usize::MAX, 1, vec![]).unwrap_err(),
        PolicyError::TooLarge {
            what: "parameter vector"
        }
    );
}

#[test]
fn sequence_new_rejects_too_many_tokens() {
    // V = 1: L + 1 responses but L(L+1)/2 tokens; L = 10^6 gives 5e11.
    assert_eq!(
        SequencePolicy::new(1, 1, 1_000_000, vec![0.0; 4]).unwrap_err(),
        PolicyError::TooLarge {
            what: "response tokens"
        }
    );
}

#[test]
fn sequence_new_rejects_an_empty_vocabulary() {
    assert_eq!(
        SequencePolicy::new(1, 0, 2, vec![0.0]).unwrap_err(),
        PolicyError::Empty
    );
}

#[test]
fn tabular_random_with_the_largest_scale_is_finite_or_named() {
    // N(0, MAX²) draws overflow to ±inf with probability ≈ 0.32 each: a typed error, or finite.
    for seed in 0..8 {
        match TabularPolicy::random(2, 3, f64::MAX, seed) {
            Ok(p) => assert!(p.log_prob_table().iter().all(|v| v.is_finite())),
            Err(e) => assert!(matches!(e, PolicyError::NonFinite { .. }), "{e:?}"),
        }
    }
}

// ---------------------------------------------------------------- PreparedLoss lengths

fn prepared_two() -> dpo_oracle::loss::PreparedLoss {
    let (c, r) = ([-1.0, -2.0], [-3.0, -4.0]);
    prepare(&sigmoid(0.1), &PairLogps::new(&c, &r, &c, &r)).unwrap()
}

#[test]
fn prepared_losses_reject_a_longer_policy_chosen() {
    let p = prepared_two();
    let (long, two) = ([0.0; 3], [0.0; 2]);
    assert_eq!(
        p.losses(&long, &two, &two, &two).unwrap_err(),
        LossError::LengthMismatch {
            field: "policy_chosen",
            len: 3,
            expected: 2
        }
    );
}

#[test]
fn prepared_losses_reject_a_shorter_reference_rejected() {
    let p = prepared_two();
    let (one, two) = ([0.0; 1], [0.0; 2]);
    assert_eq!(
        p.losses(&two, &two, &two, &one).unwrap_err(),
        LossError::LengthMismatch {
            field: "reference_rejected",
            len: 1,
            expected: 2
        }
    );
}

#[test]
fn prepared_gradient_rejects_longer_arrays() {
    let p = prepared_two();
    let long = [0.0; 5];
    assert_eq!(
        p.mean_gradient(&long, &long, &long, &long).unwrap_err(),
        LossError::LengthMismatch {
            field: "policy_chosen",
            len: 5,
            expected: 2
        }
    );
}

#[test]
fn prepared_gradient_rejects_a_shorter_policy_rejected() {
    let p = prepared_two();
    let (zero, two): ([f64; 0], [f64; 2]) = ([], [0.0; 2]);
    assert_eq!(
        p.mean_gradient(&two, &zero, &two, &two).unwrap_err(),
        LossError::LengthMismatch {
            field: "policy_rejected",
            len: 0,
            expected: 2
        }
    );
}

#[test]
fn prepared_losses_on_the_right_length_match_compute() {
    let (c, r) = ([-1.0, -2.0], [-3.0, -4.0]);
    let p = prepared_two();
    let via_prepared = p.losses(&c, &r, &c, &r).unwrap();
    // At π = π_ref every sigmoid loss is ln 2.
    assert!(via_prepared.iter().all(|&l| close(l, LN2)));
}

#[test]
fn evaluate_rejects_a_batch_of_another_length() {
    let p = prepared_two();
    let one = [0.0];
    assert!(matches!(
        p.evaluate(&PairLogps::new(&one, &one, &one, &one)),
        Err(LossError::LengthMismatch {
            len: 1,
            expected: 2,
            ..
        })
    ));
}

// ---------------------------------------------------------------- losses at extreme magnitudes

#[test]
fn sigmoid_with_overflowing_log_ratio_difference_and_small_beta() {
    // h = 2e308 overflows, β h = 2e298 does not: loss softplus(-2e298) = 0, gradient -β σ(-z) = 0.
    let out = one_pair(sigmoid(1e-10), 1e308, -1e308, 0.0, 0.0).unwrap();
    assert_eq!(out.loss, 0.0);
    assert_eq!(out.grad_policy_chosen[0], 0.0);
    assert_eq!(out.chosen_rewards[0], 1e-10 * 1e308);
    assert_eq!(out.rejected_rewards[0], -(1e-10 * 1e308));
}

#[test]
fn sigmoid_with_overflowing_difference_against_the_chosen() {
    // z = -2e298: -log σ(z) = -z + log1p(e^z) = 2e298; ∂/∂π_w = -β σ(-z) = -β.
    let out = one_pair(sigmoid(1e-10), -1e308, 1e308, 0.0, 0.0).unwrap();
    assert!(close(out.loss, 2e298), "{}", out.loss);
    assert!(close(out.grad_policy_chosen[0], -1e-10));
    assert!(close(out.grad_policy_rejected[0], 1e-10));
}

#[test]
fn sigmoid_at_beta_1e300_and_positive_margin() {
    // z = 1e301: loss e^{-1e301} underflows to 0 exactly; rewards β(π - π_ref).
    let out = one_pair(sigmoid(1e300), -1.0, -11.0, -11.0, -1.0).unwrap();
    assert_eq!(out.loss, 0.0);
    assert!(all_finite(&out));
    assert_eq!(out.chosen_rewards[0], 1e300 * 10.0);
    assert_eq!(out.rejected_rewards[0], 1e300 * -10.0);
}

#[test]
fn sigmoid_at_beta_1e300_and_negative_margin() {
    // h = -10 - 10 = -20, z = -2e301: loss = -z = 2e301, ∂/∂π_w = -β σ(-z) = -1e300.
    let out = one_pair(sigmoid(1e300), -11.0, -1.0, -1.0, -11.0).unwrap();
    assert!(close(out.loss, 2e301), "{}", out.loss);
    assert!(close(out.grad_policy_chosen[0], -1e300));
    assert!(close(out.grad_reference_chosen[0], 1e300));
}

#[test]
fn sigmoid_margin_beyond_f64_is_a_named_overflow() {
    // z = 1e300 · (-1e10) = -1e310: the loss -z exceeds f64::MAX.
    let e = one_pair(sigmoid(1e300), 0.0, 1e10, 0.0, 0.0).unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "margin beta*(chosen - rejected log-ratio)",
            pair: 0
        }
    );
}

#[test]
fn sigmoid_at_beta_1e_minus_300() {
    // z = 1e-300: loss = ln 2 - z/2 + O(z²) = ln 2 in f64; ∂/∂π_w = -β σ(-z) = -β/2.
    let out = one_pair(sigmoid(1e-300), -1.0, -2.0, -1.0, -1.0).unwrap();
    assert_eq!(out.loss, LN2);
    assert!(close(out.grad_policy_chosen[0], -0.5e-300));
}

#[test]
fn sigmoid_at_beta_1e_minus_300_and_overflowing_difference() {
    // h = 2e308 overflows; z = 2e8; loss = e^{-2e8} = 0 in f64.
    let out = one_pair(sigmoid(1e-300), 1e308, -1e308, 0.0, 0.0).unwrap();
    assert_eq!(out.loss, 0.0);
    assert!(all_finite(&out));
}

#[test]
fn overflowing_reward_alone_is_named() {
    // h = 0 (loss ln 2), but the reported reward β(π - π_ref) = 1e300 · 1e10 overflows.
    let e = one_pair(sigmoid(1e300), 0.0, 0.0, -1e10, -1e10).unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "chosen_rewards",
            pair: 0
        }
    );
}

#[test]
fn reference_log_probs_below_minus_700() {
    // The loss depends on differences only: π = π_ref - 1 nat on the chosen response.
    // -log σ(βh) with βh = 0.1 · (-1) : softplus(0.1).
    let out = one_pair(sigmoid(0.1), -801.0, -750.0, -800.0, -750.0).unwrap();
    let want = 0.1f64 + (-0.1f64).exp().ln_1p();
    assert!(close(out.loss, want), "{} {want}", out.loss);
    assert!(close(out.chosen_rewards[0], -0.1));
}

#[test]
fn reference_log_probs_at_minus_1e308() {
    // π_ref = -1e308, π = -1e308 + (ulp-scale) …: equal log-probs give h = 0 and loss ln 2.
    let out = one_pair(sigmoid(0.1), -1e308, -1e308, -1e308, -1e308).unwrap();
    assert_eq!(out.loss, LN2);
    assert_eq!(out.chosen_rewards[0], 0.0);
}

#[test]
fn ipo_at_beta_1e_minus_300_is_a_named_overflow() {
    // (h - 1/(2β))² = (5e299)² = 2.5e599 > f64::MAX.
    let e = one_pair(LossSpec::new(LossType::Ipo, 1e-300), -1.0, -2.0, -1.0, -1.0).unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "losses",
            pair: 0
        }
    );
}

#[test]
fn ipo_at_beta_1e_minus_150_is_right() {
    // (h - 5e149)² with h = 1: 2.5e299 (h is below its resolution); gradient 2(h - 5e149).
    let out = one_pair(LossSpec::new(LossType::Ipo, 1e-150), -1.0, -2.0, -1.0, -1.0).unwrap();
    assert!(close(out.loss, 2.5e299));
    assert!(close(out.grad_policy_chosen[0], -1e150));
}

#[test]
fn sppo_hard_at_beta_1e_minus_300_is_a_named_overflow() {
    let e = one_pair(
        LossSpec::new(LossType::SppoHard, 1e-300),
        -1.0,
        -2.0,
        -1.0,
        -1.0,
    )
    .unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "losses",
            pair: 0
        }
    );
}

#[test]
fn hinge_margin_beyond_f64_is_a_named_overflow() {
    let e = one_pair(LossSpec::new(LossType::Hinge, 1e300), 0.0, 1e10, 0.0, 0.0).unwrap_err();
    assert!(
        matches!(e, LossError::Overflow { pair: 0, quantity } if quantity.starts_with("margin"))
    );
}

#[test]
fn hinge_with_overflowing_difference_and_small_beta() {
    // z = 2e298 ≥ 1: max(0, 1 - z) = 0 and the derivative is 0.
    let out = one_pair(
        LossSpec::new(LossType::Hinge, 1e-10),
        1e308,
        -1e308,
        0.0,
        0.0,
    )
    .unwrap();
    assert_eq!(out.loss, 0.0);
    assert_eq!(out.grad_policy_chosen[0], 0.0);
}

#[test]
fn nca_with_an_overflowing_log_ratio_names_it() {
    // log π - log π_ref = 1e308 - (-1e308) = 2e308 is beyond f64.
    let e = one_pair(
        LossSpec::new(LossType::NcaPair, 0.1),
        1e308,
        0.0,
        -1e308,
        0.0,
    )
    .unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "chosen log-ratio",
            pair: 0
        }
    );
}

#[test]
fn discopop_at_a_margin_of_minus_1e300() {
    // m = σ(z/τ) underflows, e^{-z} m = e^{z(1/τ - 1)} → 0: the loss is -log σ(z) = -z.
    let out = one_pair(
        LossSpec::new(LossType::Discopop, 1.0),
        -1e300,
        0.0,
        0.0,
        0.0,
    )
    .unwrap();
    assert!(close(out.loss, 1e300), "{}", out.loss);
}

#[test]
fn exo_margin_beyond_f64_is_a_named_overflow() {
    let spec = LossSpec::new(LossType::ExoPair, 1e300).with_label_smoothing(0.1);
    let e = one_pair(spec, 1e10, 0.0, 0.0, 0.0).unwrap_err();
    assert!(
        matches!(e, LossError::Overflow { pair: 0, quantity } if quantity.starts_with("margin"))
    );
}

#[test]
fn bco_with_delta_near_f64_max() {
    // -log σ(βℓ_w - δ) - log σ(δ - βℓ_l) with δ = 1e308, ℓ = 0: softplus(1e308) + softplus(-1e308)
    // = 1e308 + 0.
    let spec = LossSpec::new(LossType::BcoPair, 0.1).with_bco_delta(1e308);
    let out = one_pair(spec, -1.0, -1.0, -1.0, -1.0).unwrap();
    assert!(close(out.loss, 1e308));
}

#[test]
fn aot_with_an_overflowing_policy_difference() {
    // a = π_w - π_l = 2e308 (beyond f64, so +inf), b = 0: cDPO(+inf) = 0 and its slope 0.
    let out = one_pair(LossSpec::new(LossType::Aot, 1e-10), 1e308, -1e308, 0.0, 0.0).unwrap();
    assert_eq!(out.loss, 0.0);
    assert_eq!(out.grad_policy_chosen[0], 0.0);
}

#[test]
fn batch_mean_of_losses_whose_sum_overflows() {
    // Two pairs of loss 1.5e308 (z = -1.5e308): the sum overflows, the mean does not.
    let (pc, z) = ([-1.5e308, -1.5e308], [0.0, 0.0]);
    let out = compute(&sigmoid(1.0), &PairLogps::new(&pc, &z, &z, &z)).unwrap();
    assert!(close(out.loss, 1.5e308), "{}", out.loss);
}

// ---------------------------------------------------------------- Plackett–Luce

#[test]
fn plain_plackett_luce_rejects_nan_beta() {
    let e = plackett_luce_loss(f64::NAN, &[0.0, 1.0], &[0.0, 0.0], &[0, 1]).unwrap_err();
    assert!(matches!(e, LossError::InvalidParameter { name: "beta", value, .. } if value.is_nan()));
}

#[test]
fn plain_plackett_luce_rejects_negative_beta() {
    assert_eq!(
        plackett_luce_loss(-1.0, &[0.0, 1.0], &[0.0, 0.0], &[0, 1]).unwrap_err(),
        LossError::InvalidParameter {
            name: "beta",
            value: -1.0,
            allowed: "finite and > 0"
        }
    );
}

#[test]
fn plain_plackett_luce_rejects_zero_and_infinite_beta() {
    for beta in [0.0, f64::INFINITY] {
        assert!(matches!(
            plackett_luce_loss(beta, &[0.0, 1.0], &[0.0, 0.0], &[0, 1]),
            Err(LossError::InvalidParameter { name: "beta", .. })
        ));
    }
}

#[test]
fn plackett_luce_reward_overflow_is_named() {
    // u_1 = 1e300 · (-1e10) = -1e310.
    let e = plackett_luce_loss(1e300, &[0.0, -1e10], &[0.0, 0.0], &[0, 1]).unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "reward beta*(policy - reference)",
            pair: 1
        }
    );
}

#[test]
fn plackett_luce_at_k2_with_overflowing_difference_matches_sigmoid() {
    // u = β(±1e308) with β = 1e-300: u_0 - u_1 = 2e8, loss = softplus(-2e8) = 0.
    let (loss, grad) =
        plackett_luce_loss_and_grad(1e-300, &[1e308, -1e308], &[0.0, 0.0], &[0, 1]).unwrap();
    assert_eq!(loss, 0.0);
    assert!(grad.iter().all(|g| g.is_finite() && g.abs() <= 1e-300));
    assert_eq!(
        plackett_luce_loss(1e-300, &[1e308, -1e308], &[0.0, 0.0], &[0, 1]).unwrap(),
        0.0
    );
}

#[test]
fn plackett_luce_rejects_a_repeated_index() {
    assert_eq!(
        plackett_luce_loss_and_grad(0.1, &[0.0, 1.0], &[0.0, 0.0], &[1, 1]).unwrap_err(),
        LossError::Ranking(PreferenceError::NotAPermutation {
            ranking: vec![1, 1],
            k: 2
        })
    );
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_name_an_overflowing_reward() {
    let (a, b) = ([0.0], [-1e10]);
    let e = Metrics::of(1e300, &PairLogps::new(&a, &a, &b, &a), false).unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "rewards/chosen",
            pair: 0
        }
    );
}

#[test]
fn metrics_mean_reward_when_the_sum_overflows() {
    let (pc, z) = ([1.5e308, 1.5e308], [0.0, 0.0]);
    let m = Metrics::of(1.0, &PairLogps::new(&pc, &z, &z, &z), false).unwrap();
    assert!(close(m.rewards_chosen, 1.5e308));
    assert!(close(m.logps_chosen, 1.5e308));
    assert_eq!(m.rewards_accuracies, 1.0);
}

#[test]
fn metrics_name_an_overflowing_margin() {
    let (pc, pr, z) = ([1.5e308], [-1.5e308], [0.0]);
    let e = Metrics::of(1.0, &PairLogps::new(&pc, &pr, &z, &z), false).unwrap_err();
    assert_eq!(
        e,
        LossError::Overflow {
            quantity: "rewards/margins",
            pair: 0
        }
    );
}

// ---------------------------------------------------------------- sequence log-probabilities

fn logps_of(row: &[f64], label: i64) -> Result<f64, LogpError> {
    let logits = Array3::from_shape_vec((1, 1, row.len()), row.to_vec()).unwrap();
    let labels = Array2::from_elem((1, 1), label);
    let opts = LogpOptions::default().with_shift(false);
    sequence_logps(logits.view(), labels.view(), None, &opts).map(|s| s.logps[0])
}

#[test]
fn logits_of_1e12_keep_every_digit() {
    // log softmax([1e12, 1e12 + 1])_0 = -log(1 + e) = -log1p(e).
    let got = logps_of(&[1e12, 1e12 + 1.0], 0).unwrap();
    let want = -(1.0f64.exp()).ln_1p();
    assert!(close(got, want), "{got} vs {want}");
}

#[test]
fn logits_of_1e15_keep_every_digit() {
    // Offsets of 0.5 are exact at 1e15 (ulp 0.125): log softmax_1 = 0.5 - log(1 + e^{0.5}).
    let got = logps_of(&[1e15, 1e15 + 0.5], 1).unwrap();
    let want = 0.5 - 0.5f64.exp().ln_1p();
    assert!(close(got, want), "{got} vs {want}");
}

#[test]
fn logits_of_minus_1e300_keep_every_digit() {
    let got = logps_of(&[-1e300, -1e300 - 2e284], 0).unwrap();
    // The second logit is 2e284 lower: its weight e^{-2e284} is 0, log p_0 = 0.
    assert_eq!(got, 0.0);
}

#[test]
fn a_token_log_prob_beyond_f64_is_a_named_overflow() {
    // log softmax([1e308, -1e308])_1 = -2e308.
    assert_eq!(
        logps_of(&[1e308, -1e308], 1).unwrap_err(),
        LogpError::Overflow {
            batch: 0,
            pos: Some(0)
        }
    );
}

#[test]
fn the_winner_at_plus_minus_1e308_has_log_prob_zero() {
    assert_eq!(logps_of(&[1e308, -1e308], 0).unwrap(), 0.0);
}

#[test]
fn a_sequence_sum_beyond_f64_is_a_named_overflow() {
    // Two tokens of log-probability -1e308 each.
    let logits = Array3::from_shape_vec((1, 2, 2), vec![1e308, 0.0, 1e308, 0.0]).unwrap();
    let labels = Array2::from_elem((1, 2), 1i64);
    let opts = LogpOptions::default().with_shift(false);
    assert_eq!(
        sequence_logps(logits.view(), labels.view(), None, &opts).unwrap_err(),
        LogpError::Overflow {
            batch: 0,
            pos: None
        }
    );
}

#[test]
fn logps_gradient_at_logits_of_1e12() {
    // ∂ log p_0 / ∂x = e_0 - softmax(x): softmax([1e12, 1e12 + 1]) = (σ(-1), σ(1)).
    let logits = Array3::from_shape_vec((1, 1, 2), vec![1e12, 1e12 + 1.0]).unwrap();
    let labels = Array2::from_elem((1, 1), 0i64);
    let opts = LogpOptions::default().with_shift(false);
    let g = sequence_logps_grad(
        logits.view(),
        labels.view(),
        None,
        &opts,
        ndarray::arr1(&[1.0]).view(),
    )
    .unwrap();
    let s1 = 1.0 / (1.0 + (-1.0f64).exp());
    // 1 - p_0 = 1 - σ(-1) = σ(1), and -p_1 = -σ(1).
    assert!(close(g[[0, 0, 0]], s1));
    assert!(close(g[[0, 0, 1]], -s1));
}

// ---------------------------------------------------------------- the DPO loss on a policy

fn two_response_policy() -> TabularPolicy {
    TabularPolicy::new(&array![[0.0, 0.0]]).unwrap()
}

fn pair() -> Vec<Pair> {
    vec![Pair {
        prompt: 0,
        chosen: 0,
        rejected: 1,
        weight: 1.0,
    }]
}

#[test]
fn dpo_loss_rejects_a_short_theta() {
    let p = two_response_policy();
    assert_eq!(
        dpo_loss(&p, &[0.0], &array![[-0.7, -0.7]], &pair(), 0.1).unwrap_err(),
        DpoError::ParameterCount {
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn dpo_gradient_rejects_a_long_theta() {
    let p = two_response_policy();
    assert_eq!(
        dpo_gradient_closed_form(&p, &[0.0; 3], &array![[-0.7, -0.7]], &pair(), 0.1).unwrap_err(),
        DpoError::ParameterCount {
            expected: 2,
            got: 3
        }
    );
}

#[test]
fn dpo_loss_with_overflowing_rewards_but_zero_margin() {
    // r̂ = β(log π - log π_ref) = 1e306 · (ln ½ + 400) overflows for both responses, h = 0:
    // loss ln 2, gradient -β σ(0) (s_w - s_l) = -β/2 · (1, -1).
    let p = two_response_policy();
    let log_ref = array![[-400.0, -400.0]];
    let theta = p.params().to_vec();
    let loss = dpo_loss(&p, &theta, &log_ref, &pair(), 1e306).unwrap();
    assert!(close(loss, LN2), "{loss}");
    let g = dpo_gradient_closed_form(&p, &theta, &log_ref, &pair(), 1e306).unwrap();
    assert!(close(g[0], -0.5e306) && close(g[1], 0.5e306), "{g:?}");
}

#[test]
fn dpo_loss_beyond_f64_is_a_named_overflow() {
    // h = -1000 (logits 0 and 1000 against a uniform reference), z = 1e306 · -1000.
    let p = TabularPolicy::new(&array![[0.0, 1000.0]]).unwrap();
    let theta = p.params().to_vec();
    let e = dpo_loss(&p, &theta, &array![[-0.7, -0.7]], &pair(), 1e306).unwrap_err();
    assert_eq!(e, DpoError::Overflow { quantity: "loss" });
}

// ---------------------------------------------------------------- documented preconditions
// Each function below documents, under "# Panics", the precondition it asserts; these tests
// hold it to that (a silently truncated sum would be a wrong value instead).

#[test]
#[should_panic(expected = "one reward per response")]
fn log_partition_asserts_one_reward_per_response() {
    dpo_oracle::partition::log_partition(&[-0.7, -0.7], &[1.0], 0.1);
}

#[test]
#[should_panic(expected = "one reward per response")]
fn optimal_log_policy_asserts_one_reward_per_response() {
    dpo_oracle::partition::optimal_log_policy(&[-0.7], &[1.0, 2.0], 0.1);
}

#[test]
#[should_panic(expected = "one log-probability per response")]
fn kl_asserts_equal_lengths() {
    dpo_oracle::divergence::kl(&[-0.7, -0.7], &[0.0]);
}

#[test]
#[should_panic(expected = "one log-probability per response")]
fn total_variation_asserts_equal_lengths() {
    dpo_oracle::divergence::total_variation(&[-0.7, -0.7], &[0.0]);
}

#[test]
#[should_panic(expected = "one reward per response")]
fn objective_row_asserts_one_reward_per_response() {
    dpo_oracle::objective::objective_row(&[-0.7, -0.7], &[-0.7, -0.7], &[1.0], 0.1);
}

#[test]
#[should_panic(expected = "one row per prompt")]
fn objective_asserts_one_row_per_prompt() {
    let p = Problem::random(2, 2, 1.0, 0.1, 0).unwrap();
    dpo_oracle::objective::objective(&[vec![-0.7, -0.7]], &p);
}

#[test]
#[should_panic(expected = "one shift per prompt")]
fn reward_shift_asserts_one_shift_per_prompt() {
    dpo_oracle::reward::shift(&array![[1.0, 2.0]], &ndarray::arr1(&[1.0, 2.0]));
}

#[test]
#[should_panic(expected = "rewards of the same shape")]
fn class_distance_asserts_equal_shapes() {
    dpo_oracle::reward::class_distance(&array![[1.0, 2.0]], &array![[1.0], [2.0]]);
}

#[test]
#[should_panic(expected = "one log Z per prompt")]
fn reparameterised_reward_asserts_one_log_z_per_prompt() {
    let t = array![[-0.7, -0.7], [-0.7, -0.7]];
    dpo_oracle::reward::reparameterised_reward(&t, &t, &ndarray::arr1(&[0.0]), 0.1);
}

#[test]
#[should_panic(expected = "reward and reference shapes")]
fn projection_asserts_equal_shapes() {
    dpo_oracle::reward::projection(&array![[1.0, 2.0], [3.0, 4.0]], &array![[-0.7, -0.7]], 0.1);
}

#[test]
#[should_panic(expected = "rewards of the same shape")]
fn equivalent_asserts_equal_shapes() {
    dpo_oracle::reward::equivalent(&array![[1.0, 2.0]], &array![[1.0], [2.0]], 0.0);
}

#[test]
#[should_panic]
fn policy_objective_asserts_the_problem_shape() {
    // A policy of one prompt against a problem of two.
    let p = Problem::random(2, 2, 1.0, 0.1, 0).unwrap();
    dpo_oracle::objective::policy_objective(&two_response_policy(), &p);
}

#[test]
#[should_panic]
fn policy_score_asserts_a_prompt_of_the_policy() {
    let p = two_response_policy();
    p.score(p.params(), 1, 0);
}

#[test]
#[should_panic]
fn policy_log_probs_asserts_a_prompt_of_the_policy() {
    let p = two_response_policy();
    p.log_probs(p.params(), 1);
}

// ---------------------------------------------------------------- the utilisation recipe

#[test]
#[should_panic(expected = "prompts x per_prompt pairs exceed MAX_ENTRIES")]
fn sample_preferences_asserts_an_allocatable_size() {
    let p = Problem::random(2, 2, 1.0, 0.1, 0).unwrap();
    dpo_oracle::utilisation::sample_preferences(&p, usize::MAX, 0);
}

#[test]
fn error_rate_of_a_single_size_is_an_empty_design() {
    use dpo_oracle::population::MinimiseError;
    let p = Problem::random(1, 2, 1.0, 0.1, 0).unwrap();
    // One sample size has no slope (the exponent would be 0/0 = NaN).
    assert_eq!(
        dpo_oracle::utilisation::error_rate(&p, &[50, 50], 1, 0).unwrap_err(),
        MinimiseError::EmptyDesign("fewer than two distinct sample sizes: no slope")
    );
    assert_eq!(
        dpo_oracle::utilisation::error_rate(&p, &[50, 100], 0, 0).unwrap_err(),
        MinimiseError::EmptyDesign("zero replications")
    );
}

#[test]
fn zero_pairs_per_prompt_is_an_empty_design() {
    use dpo_oracle::population::MinimiseError;
    let p = Problem::random(1, 2, 1.0, 0.1, 0).unwrap();
    assert_eq!(
        dpo_oracle::utilisation::predicted_squared_error(&p, 0).unwrap_err(),
        MinimiseError::EmptyDesign("zero pairs per prompt")
    );
    assert_eq!(
        dpo_oracle::utilisation::learnt_policy(&p, 0, 0).unwrap_err(),
        MinimiseError::EmptyDesign("zero pairs per prompt")
    );
}

#[test]
#[should_panic(expected = "target of the policy's shape")]
fn worst_total_variation_asserts_the_policy_shape() {
    let p = two_response_policy();
    dpo_oracle::population::worst_total_variation(&p, &array![[-0.7, -0.7, -0.7]]);
}

#[test]
#[should_panic]
fn sequence_tokens_asserts_a_response() {
    let p = SequencePolicy::random(1, 2, 2, 1.0, 0).unwrap();
    p.tokens(p.responses());
}

#[test]
#[should_panic]
fn sequence_kl_asserts_a_prompt() {
    let p = SequencePolicy::random(1, 2, 2, 1.0, 0).unwrap();
    let _ = p.sequence_kl(&p, 1);
}

// ---------------------------------------------------------------- log-reference below -700

#[test]
fn log_reference_below_minus_745_is_kept_not_called_zero() {
    // π_ref = (e^{-800}, 1 - e^{-800}): full support, though e^{-800} underflows to 0 in f64.
    // The row's log-sum-exp is log1p(e^{-800}) = 0 in f64, so the entries are kept exactly.
    let p = Problem::from_log_reference(array![[-800.0, 0.0]], array![[1.0, 0.0]], 0.1).unwrap();
    assert_eq!(p.log_ref()[[0, 0]], -800.0);
    assert_eq!(p.log_ref()[[0, 1]], 0.0);
    // π_r(y_0) ∝ e^{-800 + 10}: log π_r(y_0) = -790 - log1p(e^{-790}) = -790.
    assert_eq!(optimal_policy(&p).log_pi[[0, 0]], -790.0);
}

#[test]
fn log_reference_of_minus_720_is_not_altered() {
    // e^{-720} is subnormal (≈ 12 significant bits): a round trip through exp and ln alters it.
    let p = Problem::from_log_reference(array![[-720.0, 0.0]], array![[0.0, 0.0]], 0.1).unwrap();
    assert_eq!(p.log_ref()[[0, 0]], -720.0);
}

#[test]
fn log_reference_of_minus_infinity_is_a_zero_probability() {
    assert_eq!(
        Problem::from_log_reference(array![[f64::NEG_INFINITY, 0.0]], array![[0.0, 0.0]], 0.1)
            .unwrap_err(),
        ProblemError::ZeroReferenceProbability {
            prompt: 0,
            response: 0
        }
    );
}

#[test]
fn log_reference_rows_that_do_not_sum_to_one_are_named() {
    // Two entries of log ½ + 0.1: the row sums to e^{0.1}.
    let l = 0.5f64.ln() + 0.1;
    match Problem::from_log_reference(array![[l, l]], array![[0.0, 0.0]], 0.1).unwrap_err() {
        ProblemError::RowNotNormalised { prompt: 0, sum, .. } => {
            assert!(close(sum, 0.1f64.exp()), "{sum}")
        }
        e => panic!("{e:?}"),
    }
}

#[test]
#[should_panic(expected = "prompts x per_prompt pairs exceed MAX_ENTRIES")]
fn learnt_policy_asserts_an_allocatable_size() {
    let p = Problem::random(2, 2, 1.0, 0.1, 0).unwrap();
    let _ = dpo_oracle::utilisation::learnt_policy(&p, usize::MAX, 0);
}

#[test]
#[should_panic(expected = "prompts x per_prompt pairs exceed MAX_ENTRIES")]
fn error_rate_asserts_an_allocatable_size() {
    let p = Problem::random(2, 2, 1.0, 0.1, 0).unwrap();
    let _ = dpo_oracle::utilisation::error_rate(&p, &[usize::MAX, 10], 1, 0);
}
