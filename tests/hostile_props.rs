//! Property tests over the public API with inputs spanning the whole `f64` range: zero and
//! negative zero, subnormals, `MIN_POSITIVE`, ordinary values, ±1e308, ±`MAX`, NaN and ±∞.
//!
//! For every entry point: no panic (a panic fails the property); an `Ok` from finite inputs
//! holds only finite numbers (the value is representable, or the error is a typed overflow);
//! an error is one of the typed variants that input can cause. Case counts are modest to keep
//! the suite fast.

use dpo_oracle::convention::{compute_as, Convention};
use dpo_oracle::dpo::{dpo_gradient_closed_form, dpo_loss, DpoError, Pair};
use dpo_oracle::logps::{sequence_logps, sequence_logps_grad, LogpError, LogpOptions};
use dpo_oracle::loss::plackett_luce::{plackett_luce_loss, plackett_luce_loss_and_grad};
use dpo_oracle::loss::{compute, LossError, LossOutput, LossSpec, LossType, PairLogps};
use dpo_oracle::metrics::Metrics;
use dpo_oracle::partition::optimal_policy;
use dpo_oracle::policy::{Policy, TabularPolicy};
use dpo_oracle::preference::bradley_terry_log_prob;
use dpo_oracle::problem::{Problem, ProblemError};
use ndarray::{Array1, Array2, Array3};
use proptest::collection::vec;
use proptest::prelude::*;

/// Any `f64` class: special values, subnormals, and $\pm m\,2^e$ over every binary exponent.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => finite_wild(),
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    ]
}

/// Any finite `f64`, every exponent equally likely, plus the edges.
fn finite_wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e308,
            -1e308,
            f64::MAX,
            f64::MIN,
            1.0,
            -1.0,
        ]),
        2 => (any::<bool>(), -1074i32..=1023, 1.0f64..2.0).prop_map(|(neg, e, m)| {
            let x = m * 2f64.powi(e);
            if neg { -x } else { x }
        }),
        2 => -1e3f64..1e3,
    ]
}

/// A positive β over the whole range (and sometimes not: NaN, ≤ 0, ∞).
fn any_beta() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => finite_wild().prop_map(f64::abs),
        1 => wild(),
    ]
}

fn all_finite(out: &LossOutput) -> bool {
    out.loss.is_finite()
        && [
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
}

/// The errors a loss may give for the inputs drawn here (valid lengths, token counts given).
fn typed_loss_error(e: &LossError) -> bool {
    matches!(
        e,
        LossError::InvalidParameter { .. }
            | LossError::NonFinite { .. }
            | LossError::ZeroTokenCount { .. }
            | LossError::Unsupported { .. }
            | LossError::MissingParameter { .. }
            | LossError::Overflow { .. }
    )
}

/// A loss specification of the given type with parameters it accepts (label smoothing where it
/// is used) or, with `eps` drawn wild, perhaps not.
fn spec_of(loss_type: LossType, beta: f64, eps: f64) -> LossSpec {
    let spec = LossSpec::new(loss_type, beta);
    match loss_type {
        LossType::Cdpo | LossType::Robust | LossType::ExoPair => spec.with_label_smoothing(eps),
        _ => spec,
    }
}

fn batch_strategy() -> impl Strategy<Value = (Vec<[f64; 4]>, Vec<(usize, usize)>)> {
    (1usize..4).prop_flat_map(|n| {
        (
            vec(
                [finite_wild(), finite_wild(), finite_wild(), finite_wild()],
                n,
            ),
            vec((0usize..3, 0usize..3), n),
        )
    })
}

fn columns(rows: &[[f64; 4]]) -> [Vec<f64>; 4] {
    [0, 1, 2, 3].map(|k| rows.iter().map(|r| r[k]).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every loss type with finite log-probabilities at any magnitude and any β: finite
    /// output or a typed error (an overflow is named, never an `Ok` holding ∞ or NaN).
    #[test]
    fn every_loss_is_finite_or_a_typed_error(
        (rows, counts) in batch_strategy(),
        beta in any_beta(),
        eps in prop_oneof![Just(0.1), 0.0f64..0.49, wild()],
        t in 0usize..LossType::ALL.len(),
    ) {
        let [pc, pr, rc, rr] = columns(&rows);
        let (cc, rcnt): (Vec<usize>, Vec<usize>) = counts.iter().copied().unzip();
        let batch = PairLogps::new(&pc, &pr, &rc, &rr).with_token_counts(&cc, &rcnt);
        let spec = spec_of(LossType::ALL[t], beta, eps);
        match compute(&spec, &batch) {
            Ok(out) => prop_assert!(all_finite(&out), "{spec:?} {rows:?}: {out:?}"),
            Err(e) => prop_assert!(typed_loss_error(&e), "{e:?}"),
        }
        for c in Convention::ALL {
            match compute_as(c, &spec, &batch) {
                Ok(out) => prop_assert!(all_finite(&out), "{c:?} {spec:?} {rows:?}: {out:?}"),
                Err(e) => prop_assert!(typed_loss_error(&e), "{e:?}"),
            }
        }
    }

    /// Non-finite inputs: rejected with the pair and array named, or (opted in) propagated
    /// without a panic.
    #[test]
    fn non_finite_inputs_are_named_or_propagated(
        rows in vec([wild(), wild(), wild(), wild()], 1..4),
        beta in any_beta(),
        t in 0usize..LossType::ALL.len(),
    ) {
        let [pc, pr, rc, rr] = columns(&rows);
        let n = rows.len();
        let ones = vec![1usize; n];
        let batch = PairLogps::new(&pc, &pr, &rc, &rr).with_token_counts(&ones, &ones);
        let spec = spec_of(LossType::ALL[t], beta, 0.1);
        let any_non_finite = rows.iter().flatten().any(|x| !x.is_finite());
        match compute(&spec, &batch) {
            Ok(out) => prop_assert!(!any_non_finite && all_finite(&out)),
            Err(LossError::NonFinite { pair, field }) => {
                let value = batch.fields().iter().find(|(f, _)| *f == field).unwrap().1[pair];
                prop_assert!(!value.is_finite());
            }
            Err(e) => prop_assert!(typed_loss_error(&e), "{e:?}"),
        }
        let _ = compute(&spec.with_propagate_non_finite(true), &batch);
    }

    /// Batch metrics: finite or a named overflow.
    #[test]
    fn metrics_are_finite_or_a_named_overflow(
        rows in vec([finite_wild(), finite_wild(), finite_wild(), finite_wild()], 1..4),
        beta in any_beta(),
    ) {
        let [pc, pr, rc, rr] = columns(&rows);
        match Metrics::of(beta, &PairLogps::new(&pc, &pr, &rc, &rr), false) {
            Ok(m) => prop_assert!([
                m.rewards_chosen, m.rewards_rejected, m.rewards_accuracies,
                m.rewards_margins, m.logps_chosen, m.logps_rejected,
            ].iter().all(|x| x.is_finite()), "{m:?}"),
            Err(e) => prop_assert!(matches!(
                e,
                LossError::InvalidParameter { name: "beta", .. } | LossError::Overflow { .. }
            ), "{e:?}"),
        }
    }

    /// Plackett–Luce (both forms): finite loss and gradient, or a typed error.
    #[test]
    fn plackett_luce_is_finite_or_typed(
        values in vec((finite_wild(), finite_wild()), 1..5),
        beta in any_beta(),
        shuffle in any::<u64>(),
    ) {
        let k = values.len();
        let (policy, reference): (Vec<f64>, Vec<f64>) = values.into_iter().unzip();
        let mut ranking: Vec<usize> = (0..k).collect();
        ranking.rotate_left((shuffle % k as u64) as usize);
        let typed = |e: &LossError| matches!(
            e,
            LossError::InvalidParameter { name: "beta", .. } | LossError::Overflow { .. }
        );
        match plackett_luce_loss_and_grad(beta, &policy, &reference, &ranking) {
            Ok((loss, grad)) => prop_assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite())),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
        match plackett_luce_loss(beta, &policy, &reference, &ranking) {
            Ok(loss) => prop_assert!(loss.is_finite()),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
    }

    /// Bradley–Terry's log-probability is never NaN and never positive from finite rewards
    /// (−∞ only when $r_1 - r_2 < -$`f64::MAX`, where the exact value is below it).
    #[test]
    fn bradley_terry_is_a_log_probability(r1 in finite_wild(), r2 in finite_wild()) {
        let lp = bradley_terry_log_prob(r1, r2);
        prop_assert!(!lp.is_nan() && lp <= 0.0);
        if (r1 - r2).is_finite() {
            prop_assert!(lp.is_finite());
        }
    }

    /// Sequence log-probabilities and their gradient from logits of any magnitude: finite and
    /// ≤ 0, or a typed error (non-finite logits named, overflow named).
    #[test]
    fn sequence_logps_are_finite_or_typed(
        logits in vec(wild(), 6),
        labels in vec(0i64..3, 2),
        upstream in finite_wild(),
    ) {
        let logits = Array3::from_shape_vec((1, 2, 3), logits).unwrap();
        let labels = Array2::from_shape_vec((1, 2), labels).unwrap();
        let opts = LogpOptions::default().with_shift(false);
        let finite = logits.iter().all(|x| x.is_finite());
        match sequence_logps(logits.view(), labels.view(), None, &opts) {
            Ok(s) => {
                prop_assert!(s.logps[0] <= 0.0);
                if finite {
                    prop_assert!(s.logps[0].is_finite());
                }
            }
            Err(e) => prop_assert!(matches!(
                e,
                LogpError::NonFinite { .. } | LogpError::NegInfRow { .. } | LogpError::Overflow { .. }
            ), "{e:?}"),
        }
        let up = Array1::from_elem(1, upstream);
        match sequence_logps_grad(logits.view(), labels.view(), None, &opts, up.view()) {
            Ok(g) => prop_assert!(g.iter().all(|x| x.is_finite())),
            Err(e) => prop_assert!(matches!(
                e,
                LogpError::NonFinite { .. } | LogpError::NegInfRow { .. }
            ), "{e:?}"),
        }
    }

    /// Random problems from any reward scale and β: typed errors before allocating, and the
    /// optimal policy of every accepted problem is finite with rows summing to 1.
    #[test]
    fn random_problems_are_valid_or_typed(
        scale in wild(),
        beta in any_beta(),
        seed in any::<u64>(),
    ) {
        match Problem::random(2, 3, scale, beta, seed) {
            Ok(p) => {
                let opt = optimal_policy(&p);
                prop_assert!(opt.log_pi.iter().all(|v| v.is_finite() && *v <= 0.0));
                prop_assert!(opt.log_z.iter().all(|v| v.is_finite()));
                for row in opt.log_pi.rows() {
                    let sum: f64 = row.iter().map(|v| v.exp()).sum();
                    prop_assert!((sum - 1.0).abs() < 1e-12, "{sum}");
                }
            }
            Err(e) => prop_assert!(matches!(
                e,
                ProblemError::InvalidRewardScale(_)
                    | ProblemError::NonFiniteBeta(_)
                    | ProblemError::NonPositiveBeta(_)
                    | ProblemError::RewardOverBetaOverflow { .. }
            ), "{e:?}"),
        }
    }

    /// Problems from any rewards: accepted ones have a finite optimal policy.
    #[test]
    fn problems_from_any_rewards(
        rewards in vec(wild(), 4),
        beta in any_beta(),
    ) {
        let pi = Array2::from_elem((2, 2), 0.5);
        let r = Array2::from_shape_vec((2, 2), rewards).unwrap();
        match Problem::new(&pi, r, beta) {
            Ok(p) => {
                let opt = optimal_policy(&p);
                prop_assert!(opt.log_pi.iter().all(|v| v.is_finite() && *v <= 0.0));
            }
            Err(e) => prop_assert!(matches!(
                e,
                ProblemError::NonFiniteReward { .. }
                    | ProblemError::NonFiniteBeta(_)
                    | ProblemError::NonPositiveBeta(_)
                    | ProblemError::RewardOverBetaOverflow { .. }
            ), "{e:?}"),
        }
    }

    /// Problems from any log-reference (far below -700 included): accepted ones keep rows
    /// that are distributions and have a finite optimal policy.
    #[test]
    fn problems_from_any_log_reference(
        log_ref in vec(wild(), 2),
        reward in vec(-1e3f64..1e3, 2),
        beta in any_beta(),
    ) {
        let l = Array2::from_shape_vec((1, 2), log_ref).unwrap();
        let r = Array2::from_shape_vec((1, 2), reward).unwrap();
        match Problem::from_log_reference(l, r, beta) {
            Ok(p) => {
                let sum: f64 = p.log_ref().iter().map(|v| v.exp()).sum();
                prop_assert!((sum - 1.0).abs() < 1e-12, "{sum}");
                let opt = optimal_policy(&p);
                prop_assert!(opt.log_pi.iter().all(|v| v.is_finite() && *v <= 0.0));
            }
            Err(e) => prop_assert!(matches!(
                e,
                ProblemError::ZeroReferenceProbability { .. }
                    | ProblemError::InvalidReferenceProbability { .. }
                    | ProblemError::RowNotNormalised { .. }
                    | ProblemError::NonFiniteBeta(_)
                    | ProblemError::NonPositiveBeta(_)
                    | ProblemError::RewardOverBetaOverflow { .. }
            ), "{e:?}"),
        }
    }

    /// The DPO loss on a policy and its closed-form gradient: finite or a typed error.
    #[test]
    fn dpo_loss_is_finite_or_typed(
        logits in vec(-1e3f64..1e3, 2),
        log_ref in vec(finite_wild(), 2),
        beta in any_beta(),
        weight in prop_oneof![Just(1.0), wild()],
    ) {
        let policy = TabularPolicy::new(&Array2::from_shape_vec((1, 2), logits).unwrap()).unwrap();
        let log_ref = Array2::from_shape_vec((1, 2), log_ref).unwrap();
        let pairs = [Pair { prompt: 0, chosen: 0, rejected: 1, weight }];
        let theta = policy.params().to_vec();
        let typed = |e: &DpoError| matches!(
            e,
            DpoError::Beta(_) | DpoError::InvalidWeight { .. } | DpoError::Overflow { .. }
        );
        match dpo_loss(&policy, &theta, &log_ref, &pairs, beta) {
            Ok(l) => prop_assert!(l.is_finite() && l >= 0.0, "{l}"),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
        match dpo_gradient_closed_form(&policy, &theta, &log_ref, &pairs, beta) {
            Ok(g) => prop_assert!(g.iter().all(|x| x.is_finite()), "{g:?}"),
            Err(e) => prop_assert!(typed(&e), "{e:?}"),
        }
    }
}
