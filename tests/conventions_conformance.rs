//! The conventions as the trainers' own code computes them (TRL 0.28.0, 0.29.1, 1.x; Liger
//! 0.8.2): each disagreement found by running that code is pinned here with a value worked out
//! by hand from the trainer's formula.

use dpo_oracle::convention::{compute_as, metrics_as, Convention, LogSoftmaxPrecision};
use dpo_oracle::fixtures::{Fields, Fixture, Outcome, BUNDLED_DIR};
use dpo_oracle::loss::{LossError, LossSpec, LossType, PairLogps};

/// TRL 0.29 raises `Unknown loss type` for sigmoid_norm; TRL from 1.4 has it, on token means
/// clamped to ≥ 1: ℓ_w = 2 over 4 tokens, ℓ_l = −3 over 6, β = 1: −log σ(0.5 + 0.5) = softplus(−1).
#[test]
fn sigmoid_norm_is_trl_1_only() {
    let spec = LossSpec::new(LossType::SigmoidNorm, 1.0);
    let (pc, pr, rc, rr) = ([-8.0], [-13.0], [-10.0], [-10.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr).with_token_counts(&[4], &[6]);
    for c in [Convention::Trl028, Convention::Trl029] {
        assert!(matches!(
            compute_as(c, &spec, &b),
            Err(LossError::Unsupported { .. })
        ));
    }
    let loss = compute_as(Convention::Trl1, &spec, &b).unwrap().loss;
    let want = (-1.0f64).exp().ln_1p();
    assert!((loss - want).abs() <= 4.0 * f64::EPSILON * want, "{loss}");
    // TRL 1.x's fused LM head takes the log-softmax in f32 whatever the model dtype.
    assert_eq!(
        Convention::Trl1.choices().log_softmax,
        LogSoftmaxPrecision::Float32
    );
    assert_eq!(
        Convention::Trl029.choices().log_softmax,
        LogSoftmaxPrecision::ModelDtype
    );
}

/// TRL ≤ 0.28 averages IPO's log-probabilities before the loss, so its rewards are
/// β(log π/n − log π_ref/n) and its `logps/*` are log π/n; TRL 0.29 reports the sums.
/// β = 0.5; chosen −10 vs −6 over 4 tokens; rejected −9 vs −12 over 3 tokens.
#[test]
fn trl_028_ipo_rewards_and_logps_are_token_means() {
    let spec = LossSpec::new(LossType::Ipo, 0.5);
    let (pc, pr, rc, rr) = ([-10.0], [-9.0], [-6.0], [-12.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr).with_token_counts(&[4], &[3]);
    let t28 = compute_as(Convention::Trl028, &spec, &b).unwrap();
    assert_eq!(t28.chosen_rewards, [0.5 * (-10.0 / 4.0 + 6.0 / 4.0)]);
    assert_eq!(t28.rejected_rewards, [0.5 * (-9.0 / 3.0 + 12.0 / 3.0)]);
    // The loss is the same under both versions: ((−1 − 1) − 1)² = 9.
    let t29 = compute_as(Convention::Trl029, &spec, &b).unwrap();
    assert_eq!((t28.loss, t29.loss), (9.0, 9.0));
    assert_eq!(t29.chosen_rewards, [0.5 * (-10.0 + 6.0)]);
    let m28 = metrics_as(Convention::Trl028, &spec, &b).unwrap();
    assert_eq!((m28.logps_chosen, m28.logps_rejected), (-2.5, -3.0));
    assert_eq!(m28.rewards_margins, -0.5 - 0.5);
    assert_eq!(m28.rewards_accuracies, 0.0);
    let m29 = metrics_as(Convention::Trl029, &spec, &b).unwrap();
    assert_eq!((m29.logps_chosen, m29.rewards_chosen), (-10.0, -2.0));
}

/// An empty response: TRL ≤ 0.28 divides its IPO log-probabilities by the raw count, 0/0 = NaN;
/// the oracle refuses it. TRL from 0.29 clamps the count to 1 (0/1 = 0).
#[test]
fn trl_028_ipo_with_an_empty_response_is_refused() {
    let spec = LossSpec::new(LossType::Ipo, 0.5);
    let (pc, pr, rc, rr) = ([0.0, -4.0], [-9.0, -5.0], [0.0, -3.0], [-12.0, -6.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr).with_token_counts(&[0, 2], &[3, 2]);
    assert_eq!(
        compute_as(Convention::Trl028, &spec, &b),
        Err(LossError::ZeroTokenCount {
            pair: 0,
            field: "chosen"
        })
    );
    assert!(matches!(
        metrics_as(Convention::Trl028, &spec, &b),
        Err(LossError::ZeroTokenCount { .. })
    ));
    for c in [Convention::Trl029, Convention::Trl1] {
        let out = compute_as(c, &spec, &b).unwrap();
        // Pair 0: h = 0/1 − 3/3 = −1, (−1 − 1)² = 4.
        assert_eq!(out.losses[0], 4.0);
    }
}

/// TRL ≤ 0.28's bco_pair, sppo_hard, nca_pair, aot, aot_unpaired and discopop read the
/// reference whatever `reference_free` says: refused. Its sigmoid honours the flag.
#[test]
fn trl_028_refuses_reference_free_where_its_code_ignores_it() {
    let (pc, pr, rc, rr) = ([-4.0, -7.0], [-9.0, -5.0], [-3.0, -8.0], [-12.0, -6.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr);
    for ty in [
        LossType::BcoPair,
        LossType::SppoHard,
        LossType::NcaPair,
        LossType::Aot,
        LossType::AotUnpaired,
        LossType::Discopop,
    ] {
        let spec = LossSpec::new(ty, 0.1)
            .with_reference_free(true)
            .with_bco_delta(0.0);
        let spec = if ty == LossType::BcoPair {
            spec
        } else {
            LossSpec::new(ty, 0.1).with_reference_free(true)
        };
        match compute_as(Convention::Trl028, &spec, &b) {
            Err(LossError::Unsupported { convention, what }) => {
                assert_eq!(convention, "trl-0.28");
                assert!(
                    what.contains(ty.name()) && what.contains("reference"),
                    "{what}"
                );
            }
            other => panic!("{ty}: {other:?}"),
        }
        // With the reference, they compute.
        let with_ref = if ty == LossType::BcoPair {
            LossSpec::new(ty, 0.1).with_bco_delta(0.0)
        } else {
            LossSpec::new(ty, 0.1)
        };
        assert!(
            compute_as(Convention::Trl028, &with_ref, &b).is_ok(),
            "{ty}"
        );
    }
    let sigmoid = LossSpec::new(LossType::Sigmoid, 1.0).with_reference_free(true);
    let out = compute_as(Convention::Trl028, &sigmoid, &b).unwrap();
    // z = (−4) − (−9) = 5 with the reference ignored: softplus(−5).
    let want = (-5.0f64).exp().ln_1p();
    assert!(
        (out.losses[0] - want).abs() <= 4.0 * f64::EPSILON * want,
        "{out:?} {want}"
    );
    // Its rewards still subtract the reference: β(−4 − (−3)) = −1.
    assert_eq!(out.chosen_rewards[0], -1.0);
}

/// Liger without a reference model takes the reference log-probabilities as 0 everywhere,
/// rewards included: β log π.
#[test]
fn liger_reference_free_rewards_are_beta_log_pi() {
    let (pc, pr, rc, rr) = ([-4.0, -7.0], [-9.0, -5.0], [-3.0, -8.0], [-12.0, -6.0]);
    let b = PairLogps::new(&pc, &pr, &rc, &rr);
    let spec = LossSpec::new(LossType::Sigmoid, 0.5).with_reference_free(true);
    let out = compute_as(Convention::Liger, &spec, &b).unwrap();
    assert_eq!(out.chosen_rewards, [-2.0, -3.5]);
    assert_eq!(out.rejected_rewards, [-4.5, -2.5]);
    let m = metrics_as(Convention::Liger, &spec, &b).unwrap();
    assert_eq!((m.rewards_chosen, m.rewards_accuracies), (-2.75, 0.5));
    // The authors' reference-free mode keeps the reference in the rewards.
    let a = compute_as(Convention::Authors, &spec, &b).unwrap();
    assert_eq!(a.chosen_rewards, [-0.5, 0.5]);
    assert_eq!(a.losses, out.losses);
}

fn pair_files() -> Vec<Fixture> {
    std::fs::read_dir(BUNDLED_DIR)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Fixture::load(&p).ok())
        .filter(|f| f.test_groups.iter().any(|g| g.kind == "PairLossTest"))
        .collect()
}

/// No fixture gives a response of zero scored tokens a non-zero summed log-probability (an
/// empty response sums to 0 in every trainer).
#[test]
fn no_fixture_input_is_unreachable() {
    let files = pair_files();
    assert!(files.len() >= 15);
    let mut zero_counts = 0;
    for f in &files {
        for (_, t) in f.cases() {
            let (Ok(nc), Ok(nr)) = (
                t.inputs.counts("chosen_token_counts"),
                t.inputs.counts("rejected_token_counts"),
            ) else {
                continue;
            };
            for (counts, fields) in [
                (&nc, ["policy_chosen_logps", "reference_chosen_logps"]),
                (&nr, ["policy_rejected_logps", "reference_rejected_logps"]),
            ] {
                for field in fields {
                    let Ok(v) = t.inputs.vector(field) else {
                        continue;
                    };
                    for (n, x) in counts.iter().zip(&v) {
                        if *n == 0 {
                            zero_counts += 1;
                            assert_eq!(*x, 0.0, "{} tcId {} {field}", f.algorithm, t.tc_id);
                        }
                    }
                }
            }
        }
    }
    assert!(zero_counts > 0, "the zero-count cases are still there");
}

/// Every pair-loss group's convention is a named one, sigmoid_norm's groups are trl-1's, and
/// trl-0.28's IPO empty-response case is an invalid ZeroTokenCount case.
#[test]
fn fixture_groups_follow_the_conventions() {
    let names: Vec<&str> = Convention::ALL.iter().map(|c| c.name()).collect();
    for f in pair_files() {
        for g in &f.test_groups {
            assert!(names.contains(&g.convention.as_str()), "{}", g.convention);
            if g.params.loss_type.as_deref() == Some("sigmoid_norm") {
                assert_eq!(g.convention, "trl-1", "{}", g.name);
            }
            if g.params.loss_type.as_deref() == Some("ipo") && g.convention == "trl-0.28" {
                for t in g
                    .tests
                    .iter()
                    .filter(|t| t.flags.iter().any(|x| x == "ZeroTokenCount"))
                {
                    assert_eq!(t.result, Outcome::Invalid);
                    assert_eq!(t.expected["error"], "ZeroTokenCount");
                }
            }
        }
    }
}

/// softplus(x) = log(1 + e^x), stable.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// exo_pair as TRL ≥ 0.29 and Liger run it in float64 with ε a float32 tensor: log(1 − ε) and
/// log ε are f32 values. Such a peer misses the group's own f64 tolerance on some case and
/// passes within the `peerFloat32` tolerance the group states for those outputs.
#[test]
fn an_f32_epsilon_peer_passes_its_exo_pair_group() {
    let f = Fixture::load(format!("{BUNDLED_DIR}/exo_pair_test.json")).unwrap();
    let mut outside_plain = 0;
    let mut checked = 0;
    for g in f.test_groups.iter().filter(|g| {
        ["trl-0.29", "trl-1", "liger"].contains(&g.convention.as_str())
            && g.params.precision == "f64"
    }) {
        assert!(
            g.params
                .peer_float32
                .iter()
                .any(|q| q.quantity == "epsilon"),
            "{} {}",
            g.convention,
            g.name
        );
        let beta = g.params.beta.unwrap();
        let eps = g.params.epsilon.unwrap() as f32;
        let a = f64::from((-eps).ln_1p());
        let c = f64::from(eps.ln());
        for t in g.tests.iter().filter(|t| t.result == Outcome::Valid) {
            let x = |n: &str| t.inputs.vector(n).unwrap();
            let (pc, pr, rc, rr) = (
                x("policy_chosen_logps"),
                x("policy_rejected_logps"),
                x("reference_chosen_logps"),
                x("reference_rejected_logps"),
            );
            let want = t.expected.vector("losses").unwrap();
            for i in 0..pc.len() {
                let z = beta * ((pc[i] - pr[i]) - (rc[i] - rr[i]));
                let (log_qw, log_ql) = (-softplus(-z), -softplus(z));
                let peer = log_qw.exp() * (log_qw - a) + log_ql.exp() * (log_ql - c);
                assert!(
                    g.tolerance_for("losses").accepts(peer, want[i]),
                    "tcId {}: {peer} vs {}",
                    t.tc_id,
                    want[i]
                );
                checked += 1;
                if !g.tolerance().accepts(peer, want[i]) {
                    outside_plain += 1;
                }
            }
        }
    }
    assert!(checked > 20);
    assert!(outside_plain > 0, "the f32 ε is within the plain tolerance");
}

/// TRL's `rewards/accuracies` is a float32 mean: k/n rounded to f32 passes every TRL group.
#[test]
fn an_f32_accuracy_passes_every_trl_group() {
    let mut inexact = 0;
    for f in pair_files() {
        for g in f
            .test_groups
            .iter()
            .filter(|g| g.convention.starts_with("trl-"))
        {
            for t in g.tests.iter().filter(|t| t.result == Outcome::Valid) {
                let want = t.expected.scalar("rewards/accuracies").unwrap();
                let peer = f64::from(want as f32);
                assert!(g.tolerance_for("rewards/accuracies").accepts(peer, want));
                if peer != want {
                    inexact += 1;
                }
            }
        }
    }
    assert!(inexact > 0);
}

/// DiscoPOP as TRL and Liger write it, −log σ(z)(1 − m) + e^{−z} m with m = σ(z/τ), is NaN
/// once e^{−z} overflows (m is then 0): at the thresholds the fixture states, in f32 and in
/// f64. The fixture's values there are finite (exactly softplus(−z), the tail being e^{−19|z|}).
#[test]
fn discopop_overflow_thresholds_and_fixture_values() {
    let naive64 = |z: f64| {
        let m = 1.0 / (1.0 + (-z / 0.05).exp());
        softplus(-z) * (1.0 - m) + (-z).exp() * m
    };
    let naive32 = |z: f32| {
        let m = 1.0 / (1.0 + (-z / 0.05).exp());
        let sp = (-z).max(0.0) + (-z.abs()).exp().ln_1p();
        sp * (1.0 - m) + (-z).exp() * m
    };
    let t32 = -f64::from(f32::MAX).ln();
    let t64 = -f64::MAX.ln();
    assert!(naive32((t32 + 1e-3) as f32).is_finite());
    assert!(naive32((t32 - 1e-3) as f32).is_nan());
    assert!(naive64(t64 + 1e-9).is_finite());
    assert!(naive64(t64 - 1e-9).is_nan());
    let f = Fixture::load(format!("{BUNDLED_DIR}/discopop_test.json")).unwrap();
    let groups: Vec<_> = f
        .test_groups
        .iter()
        .filter(|g| g.name == "bug:discopop-exp-overflow")
        .collect();
    let convs: Vec<&str> = groups.iter().map(|g| g.convention.as_str()).collect();
    assert_eq!(convs, ["trl-0.28", "trl-0.29", "trl-1", "liger"]);
    for g in groups {
        let beta = g.params.beta.unwrap();
        for t in &g.tests {
            let x = |n: &str| t.inputs.vector(n).unwrap()[0];
            assert!(x("policy_chosen_logps") <= 0.0 && x("policy_rejected_logps") <= 0.0);
            let h = (x("policy_chosen_logps") - x("reference_chosen_logps"))
                - (x("policy_rejected_logps") - x("reference_rejected_logps"));
            let z = beta * h;
            assert!(z < t32 && naive32(z as f32).is_nan());
            assert_eq!(naive64(z).is_nan(), z < t64);
            let want = t.expected.scalar("loss").unwrap();
            assert!(want.is_finite());
            assert!((want - softplus(-z)).abs() <= 4.0 * f64::EPSILON * want);
        }
    }
}
