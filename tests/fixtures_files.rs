//! The committed fixture files: byte-identical to a regeneration, valid against their schemas,
//! large enough, small enough, and covering every bug class.

use std::path::Path;

use dpo_oracle::fixtures::generate::{render_all, schema_name};
use dpo_oracle::fixtures::schema::validate;
use dpo_oracle::fixtures::{Fixture, Outcome};
use serde_json::Value;

const DIR: &str = "fixtures";

fn fixture_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_test.json"))
        .collect();
    names.sort();
    names
}

#[test]
fn committed_files_equal_a_regeneration() {
    let generated = render_all().expect("generation certifies every case");
    for (name, text) in &generated {
        let on_disk = std::fs::read_to_string(Path::new(DIR).join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (run `cargo run --release -- fixtures`)"));
        assert!(
            on_disk == *text,
            "{name} differs from a regeneration: run `cargo run --release -- fixtures`"
        );
    }
    // No stale fixture file that the generator no longer writes.
    for name in fixture_files() {
        assert!(
            generated.iter().any(|(n, _)| *n == name),
            "{name} is not generated any more"
        );
    }
}

#[test]
fn every_file_validates_against_its_schema() {
    for name in fixture_files() {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(Path::new(DIR).join(&name)).unwrap())
                .unwrap();
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(DIR).join(schema_name(&name))).unwrap(),
        )
        .unwrap();
        if let Err(e) = validate(&schema, &doc) {
            panic!("{name}: {e}");
        }
        // And a mutation the schema must catch: a test without its result.
        let mut broken = doc.clone();
        broken["testGroups"][0]["tests"][0]
            .as_object_mut()
            .unwrap()
            .remove("result");
        let e = validate(&schema, &broken).unwrap_err();
        assert_eq!(e.path, "$.testGroups[0].tests[0]", "{name}");
    }
}

#[test]
fn coverage_size_and_bug_classes() {
    let mut tests = 0;
    let mut bytes = 0;
    let mut group_names = Vec::new();
    let mut outcomes = [0usize; 3];
    for name in fixture_files() {
        let path = Path::new(DIR).join(&name);
        bytes += std::fs::metadata(&path).unwrap().len();
        let f = Fixture::load(&path).unwrap();
        tests += f.number_of_tests;
        for (g, t) in f.cases() {
            outcomes[match t.result {
                Outcome::Valid => 0,
                Outcome::Invalid => 1,
                Outcome::Acceptable => 2,
            }] += 1;
            assert!(!t.comment.is_empty() && !g.name.is_empty());
        }
        group_names.extend(f.test_groups.iter().map(|g| g.name.clone()));
    }
    assert!(tests >= 500, "{tests} tests");
    assert!(bytes < 5 << 20, "{bytes} bytes");
    assert!(
        outcomes.iter().all(|&n| n > 0),
        "valid, invalid and acceptable all present: {outcomes:?}"
    );
    // One named group per bug class of the conventions sheet (§6).
    for bug in [
        "bug:ipo-sum-vs-token-mean",
        "bug:empty-completion-mean",
        "bug:naive-log-sigmoid-overflow",
        "bug:padding-or-prompt-counted",
        "bug:eos-equals-pad",
        "bug:label-smoothing-ignored",
        "bug:reference-from-wrong-model",
        "bug:reference-in-lower-precision",
        "bug:accuracy-zero-at-initialisation",
        "bug:robust-loss-negative",
        "bug:unshifted-mask-count",
    ] {
        assert!(group_names.iter().any(|g| g == bug), "no group {bug}");
    }
}

#[test]
fn every_pair_convention_and_loss_is_covered() {
    use dpo_oracle::convention::Convention;
    for conv in Convention::ALL {
        for ty in conv.choices().losses {
            let file = std::fs::read_dir(DIR)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter_map(|p| Fixture::load(&p).ok())
                .find(|f| {
                    f.test_groups.iter().any(|g| {
                        g.params.loss_type.as_deref() == Some(ty.name())
                            && g.convention == conv.name()
                    })
                });
            assert!(
                file.is_some(),
                "{} under {} has no group",
                ty.name(),
                conv.name()
            );
        }
    }
}

/// The expected value of `field` in the first test of the group named `group` (and, if given,
/// of that convention) in `file`.
fn bug_value(file: &str, group: &str, convention: Option<&str>, field: &str) -> Value {
    let f = Fixture::load(Path::new(DIR).join(file)).unwrap();
    let g = f
        .test_groups
        .iter()
        .find(|g| g.name == group && convention.is_none_or(|c| g.convention == c))
        .unwrap_or_else(|| panic!("{file}: no group {group}"));
    g.tests[0].expected[field].clone()
}

/// The bug-class cases hold the values their closed forms give (computed here by hand, not by
/// the generator).
#[test]
fn bug_class_cases_hold_their_closed_form_values() {
    let num = |v: Value| v.as_f64().unwrap();
    let ln2 = std::f64::consts::LN_2;
    // IPO: (5 − 1)² = 16 on summed log-ratios, (8/2 − 3/3 − 1)² = 4 on token means (β = 0.5).
    assert_eq!(
        num(bug_value(
            "ipo_test.json",
            "bug:ipo-sum-vs-token-mean",
            Some("authors"),
            "loss"
        )),
        16.0
    );
    assert_eq!(
        num(bug_value(
            "ipo_test.json",
            "bug:ipo-sum-vs-token-mean",
            Some("trl-0.29"),
            "loss"
        )),
        4.0
    );
    // At initialisation: loss ln 2, rewards 0, accuracy 0 (strict).
    for group in [
        "bug:accuracy-zero-at-initialisation",
        "bug:reference-from-wrong-model",
        "bug:reference-in-lower-precision",
    ] {
        assert_eq!(
            num(bug_value("dpo_sigmoid_test.json", group, None, "loss")),
            ln2,
            "{group}"
        );
        assert_eq!(
            num(bug_value(
                "dpo_sigmoid_test.json",
                group,
                None,
                "rewards/accuracies"
            )),
            0.0,
            "{group}"
        );
        let rewards = bug_value("dpo_sigmoid_test.json", group, None, "chosen_rewards");
        assert!(
            rewards
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r.as_f64() == Some(0.0)),
            "{group}"
        );
    }
    // −log σ(−1000) = 1000 + log1p(e^−1000) = 1000 exactly in f64.
    assert_eq!(
        num(bug_value(
            "dpo_sigmoid_test.json",
            "bug:naive-log-sigmoid-overflow",
            None,
            "loss"
        )),
        1000.0
    );
    // cDPO at z = 0.5, ε = 0.3: 0.7 softplus(−0.5) + 0.3 softplus(0.5).
    let sp = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    let cdpo = num(bug_value(
        "cdpo_test.json",
        "bug:label-smoothing-ignored",
        None,
        "loss",
    ));
    assert!((cdpo - (0.7 * sp(-0.5) + 0.3 * sp(0.5))).abs() < 1e-15);
    // Robust at z = 5, ε = 0.4: (0.6 softplus(−5) − 0.4 softplus(5)) / 0.2 < 0.
    let robust = num(bug_value(
        "robust_test.json",
        "bug:robust-loss-negative",
        None,
        "loss",
    ));
    assert!((robust - (0.6 * sp(-5.0) - 0.4 * sp(5.0)) / 0.2).abs() < 1e-14 && robust < 0.0);
    // Token counts: EOS = PAD keeps the real EOS (4), padding and prompt are not counted (3),
    // the shifted mask scores 5 of 6 labels.
    let count =
        |group| bug_value("logps_from_logits_test.json", group, None, "token_counts")[0].as_u64();
    assert_eq!(count("bug:eos-equals-pad"), Some(4));
    assert_eq!(count("bug:padding-or-prompt-counted"), Some(3));
    assert_eq!(count("bug:unshifted-mask-count"), Some(5));
    // Empty completion under the mean: NaN (authors), 0 (count clamped to 1, TRL).
    let empty = |c| {
        bug_value(
            "logps_from_logits_test.json",
            "bug:empty-completion-mean",
            Some(c),
            "logps",
        )[0]
        .clone()
    };
    assert_eq!(empty("authors"), Value::from("NaN"));
    assert_eq!(empty("trl-0.29"), Value::from(0.0));
}

/// The f32 and bf16 tolerances are met by an implementation other than the emulation that set
/// them: the crate's own reduced-precision log-probabilities (log-softmax in f32 on f32 or bf16
/// logits, per-token values stored in the tier).
#[test]
fn reduced_precision_logps_meet_their_tier_tolerance() {
    use dpo_oracle::fixtures::Fields;
    use dpo_oracle::logps::{
        sequence_logps_with_precision, EmptyRule, LogpOptions, Precision, Reduction,
    };
    use ndarray::{Array2, Array3};
    let f = Fixture::load(Path::new(DIR).join("logps_from_logits_test.json")).unwrap();
    let mut checked = 0;
    for (g, t) in f.valid_cases() {
        let precision = match g.params.precision.as_str() {
            "f32" => Precision::F32,
            "bf16" => Precision::Bf16,
            _ => continue,
        };
        let x = t.logits_inputs().unwrap();
        let (b, tt, v) = (x.logits.len(), x.logits[0].len(), x.logits[0][0].len());
        let logits = Array3::from_shape_vec((b, tt, v), x.logits.concat().concat()).unwrap();
        let labels = Array2::from_shape_vec((b, tt), x.labels.concat()).unwrap();
        let mask = x
            .mask
            .map(|m| Array2::from_shape_vec((b, tt), m.concat()).unwrap());
        let p = &g.params;
        let opts = LogpOptions::default()
            .with_reduction(if p.reduction.as_deref() == Some("mean") {
                Reduction::Mean
            } else {
                Reduction::Sum
            })
            .with_shift(p.shift.unwrap_or(true))
            .with_ignore_index(p.ignore_index.unwrap_or(-100))
            .with_empty(if p.empty_rule.as_deref() == Some("clamp-to-one") {
                EmptyRule::ClampToOne
            } else {
                EmptyRule::Nan
            });
        let got = sequence_logps_with_precision(
            logits.view(),
            labels.view(),
            mask.as_ref().map(|m| m.view()),
            &opts,
            precision,
        )
        .unwrap();
        for (a, e) in got.logps.iter().zip(t.expected.vector("logps").unwrap()) {
            assert!(
                g.tolerance().accepts(*a, e),
                "tcId {}: {a} vs {e} under {:?}",
                t.tc_id,
                g.tolerance()
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
}
