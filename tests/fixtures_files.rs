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
            outcomes[t.result as usize] += 1;
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
    let _ = Outcome::Valid;
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
