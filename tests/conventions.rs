//! The named conventions: their recorded choices, agreement with the authors' semantics where
//! the choices do not matter, and refusal (never substitution) where they lack something.

use dpo_oracle::convention::{
    compute_as, CausalShift, Convention, IpoLogRatios, LabelSmoothing, LogSoftmaxPrecision,
    ReferenceFreeRewards,
};
use dpo_oracle::logps::{EmptyRule, Reduction};
use dpo_oracle::loss::anchored::RunningMean;
use dpo_oracle::loss::{compute, LossError, LossSpec, LossType};
use dpo_oracle::verify::losses::{variants, OwnedBatch};

#[test]
fn recorded_choices() {
    let t28 = Convention::Trl028.choices();
    let t29 = Convention::Trl029.choices();
    assert_eq!(t28.label_smoothing, LabelSmoothing::Honoured);
    assert_eq!(t29.label_smoothing, LabelSmoothing::Ignored);
    assert_eq!(t28.ipo, IpoLogRatios::TokenMeanLogps);
    assert_eq!(t29.ipo, IpoLogRatios::TokenMean);
    assert_eq!(Convention::Authors.choices().ipo, IpoLogRatios::Summed);
    assert_eq!(Convention::Openrlhf.choices().ipo, IpoLogRatios::Summed);
    assert!(t28.reference_free && !t29.reference_free);
    assert!(t28.bco_running_mean && !t29.bco_running_mean);
    assert_eq!(t28.empty_response, EmptyRule::Nan);
    assert_eq!(t29.empty_response, EmptyRule::ClampToOne);
    assert_eq!(Convention::Authors.choices().empty_response, EmptyRule::Nan);
    assert_eq!(Convention::Liger.choices().shift, CausalShift::Caller);
    assert!(!Convention::Liger.logp_options(Reduction::Sum).shift);
    assert_eq!(
        Convention::Authors.choices().log_softmax,
        LogSoftmaxPrecision::Float32
    );
    assert_eq!(
        Convention::Torchtune.choices().log_softmax,
        LogSoftmaxPrecision::ModelDtype
    );
    let names: Vec<&str> = Convention::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "authors",
            "trl-0.28",
            "trl-0.29",
            "torchtune",
            "openrlhf",
            "liger",
            "trl-1"
        ]
    );
}

/// Every convention × every variant either refuses with `Unsupported`/`MissingParameter`, or
/// computes exactly what the authors' semantics give, except IPO under TRL (token means).
#[test]
fn every_convention_agrees_or_refuses() {
    let b = OwnedBatch::sample(5, 30);
    for c in Convention::ALL {
        for v in variants().into_iter().filter(|v| v.convention.is_none()) {
            let reference = compute(&v.spec, &b.view()).unwrap();
            match compute_as(c, &v.spec, &b.view()) {
                Ok(out) => {
                    assert!(c.choices().losses.contains(&v.spec.loss_type()));
                    let token_mean = v.spec.loss_type() == LossType::Ipo
                        && matches!(
                            c.choices().ipo,
                            IpoLogRatios::TokenMean | IpoLogRatios::TokenMeanLogps
                        );
                    let policy_only = v.spec.reference_free()
                        && c.choices().reference_free_rewards == ReferenceFreeRewards::PolicyOnly;
                    if token_mean {
                        assert_ne!(out.losses, reference.losses);
                    } else if policy_only {
                        // Liger without a reference: the same loss, rewards β log π.
                        assert_eq!(out.losses, reference.losses, "{c} {}", v.label);
                        let pc = &b.logps[0];
                        let want: Vec<f64> = pc.iter().map(|p| 0.1 * p).collect();
                        assert_eq!(out.chosen_rewards, want, "{c} {}", v.label);
                    } else {
                        assert_eq!(out, reference, "{c} {}", v.label);
                    }
                }
                Err(LossError::Unsupported { convention, .. }) => {
                    assert_eq!(convention, c.name())
                }
                Err(LossError::MissingParameter { .. }) => {
                    assert_eq!(
                        (c, v.spec.loss_type()),
                        (Convention::Trl028, LossType::BcoPair)
                    )
                }
                Err(e) => panic!("{c} {}: {e}", v.label),
            }
        }
    }
}

/// TRL up to 0.28's bco_pair: δ is the running mean of per-step mean rewards; at the first step
/// it is that step's mean reward.
#[test]
fn bco_running_mean_first_steps() {
    let mut running = RunningMean::default();
    let d1 = running.update(&[0.2, 0.4], &[-0.1, 0.3]);
    assert!((d1 - 0.2).abs() <= 1e-15);
    let d2 = running.update(&[1.0], &[0.0]);
    assert!((d2 - 0.35).abs() <= 1e-15);
    // The mean read back is the mean of the two step samples, 0.2 and 0.5, summed here
    // independently (the initial count 1e-24 perturbs it by ~1e-25, below this tolerance).
    let samples = [(0.2 + 0.4 - 0.1 + 0.3) / 4.0, (1.0 + 0.0) / 2.0];
    let independent = samples.iter().sum::<f64>() / samples.len() as f64;
    assert!((running.mean() - independent).abs() <= 1e-15);
    assert_eq!(running.mean(), d2);
    assert_eq!(RunningMean::default().mean(), 0.0);
    let spec = LossSpec::new(LossType::BcoPair, 0.1).with_bco_delta(d2);
    let b = OwnedBatch::sample(2, 31);
    let out = compute_as(Convention::Trl028, &spec, &b.view()).unwrap();
    assert_eq!(out, compute(&spec, &b.view()).unwrap());
}

/// Fixtures record the convention and its choices as JSON.
#[test]
fn choices_serialise_for_fixtures() {
    let json = serde_json::to_value(Convention::Trl028.choices()).unwrap();
    assert_eq!(json["name"], "trl-0.28");
    assert_eq!(json["ipo"], "token_mean_logps");
    assert_eq!(json["empty_response"], "nan");
    assert_eq!(json["float32"][0], "rewards_accuracies");
    assert_eq!(json["reference_free_ignored_by"][0], "bco_pair");
    assert_eq!(json["log_softmax"], "model_dtype");
    assert_eq!(json["losses"][0], "sigmoid");
    assert_eq!(serde_json::to_value(Convention::Liger).unwrap(), "liger");
    let spec = serde_json::to_value(LossSpec::new(LossType::AotUnpaired, 0.1)).unwrap();
    assert_eq!(spec["loss_type"], "aot_unpaired");
    assert_eq!(spec["beta"], 0.1);
}
