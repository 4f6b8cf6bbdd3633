//! The checker and the loader on good and bad input: every bad input is a typed error naming the
//! file, the position and the problem.

use dpo_oracle::fixtures::check::{check_files, check_text};
use dpo_oracle::fixtures::{Fixture, FixtureError, Outcome};
use serde_json::{json, Map, Value};

const SIGMOID: &str = "fixtures/dpo_sigmoid_test.json";

fn sigmoid_text() -> String {
    std::fs::read_to_string(SIGMOID).unwrap()
}

/// A candidate that reports exactly the expected values (and an error for invalid tests).
fn perfect_candidate(f: &Fixture) -> Map<String, Value> {
    f.cases()
        .map(|(_, t)| {
            let v = match t.result {
                Outcome::Invalid => json!({"error": "rejected"}),
                _ => Value::Object(t.expected.clone()),
            };
            (t.tc_id.to_string(), v)
        })
        .collect()
}

fn run(candidate: Value) -> Result<dpo_oracle::fixtures::check::Report, FixtureError> {
    check_text("candidate.json", &candidate.to_string(), |file| {
        Fixture::load(format!("fixtures/{file}"))
    })
}

#[test]
fn a_perfect_candidate_passes_every_group() {
    let f = Fixture::load(SIGMOID).unwrap();
    let report = run(json!({"dpo_sigmoid_test.json": perfect_candidate(&f)})).unwrap();
    assert!(report.passed());
    let passed: usize = report.groups.iter().map(|g| g.passed).sum();
    assert_eq!(passed, f.number_of_tests);
    assert!(report.groups.iter().all(|g| g.worst_ulps == 0));
    assert!(report
        .render()
        .contains(&format!("{passed} passed, 0 failed")));
}

#[test]
fn an_error_beyond_the_tolerance_fails_that_test_only() {
    let f = Fixture::load(SIGMOID).unwrap();
    let (g, t) = f.valid_cases().next().unwrap();
    let loss = t.expected["loss"].as_f64().unwrap();
    let tol = g.tolerance();
    let mut c = perfect_candidate(&f);
    // Just inside, then just outside, the group's tolerance.
    let inside = loss + 0.5 * (tol.atol + tol.rtol * loss.abs());
    c[&t.tc_id.to_string()]["loss"] = json!(inside);
    assert!(run(json!({"dpo_sigmoid_test.json": c.clone()}))
        .unwrap()
        .passed());
    let outside = loss + 2.0 * (tol.atol + tol.rtol * loss.abs());
    c[&t.tc_id.to_string()]["loss"] = json!(outside);
    let report = run(json!({"dpo_sigmoid_test.json": c})).unwrap();
    assert!(!report.passed());
    let failed: Vec<u64> = report
        .groups
        .iter()
        .flat_map(|g| g.failed.clone())
        .collect();
    assert_eq!(failed, vec![t.tc_id]);
    assert!(report.groups[0].worst_ulps > 0);
}

#[test]
fn invalid_tests_need_an_error_and_acceptable_tests_accept_either() {
    let f = Fixture::load("fixtures/logps_from_logits_test.json").unwrap();
    let mut c = perfect_candidate(&f);
    let (_, inv) = f
        .cases()
        .find(|(_, t)| t.result == Outcome::Invalid)
        .unwrap();
    let (_, acc) = f
        .cases()
        .find(|(_, t)| t.result == Outcome::Acceptable)
        .unwrap();
    // The other empty-response rule: 0 instead of NaN (or NaN instead of 0).
    let other = if acc.expected["logps"][0] == json!("NaN") {
        json!([0.0])
    } else {
        json!(["NaN"])
    };
    c[&acc.tc_id.to_string()] = json!({ "logps": other });
    let report = run(json!({"logps_from_logits_test.json": c.clone()})).unwrap();
    assert!(report.passed());
    assert_eq!(
        report
            .groups
            .iter()
            .map(|g| g.acceptable_differs)
            .sum::<usize>(),
        1
    );
    c[&inv.tc_id.to_string()] = json!({ "logps": [0.0] });
    let report = run(json!({"logps_from_logits_test.json": c})).unwrap();
    assert!(!report.passed());
}

#[test]
fn omitted_tests_are_missing_not_failed() {
    let report = run(json!({"ipo_test.json": {"1": {"loss": 1e300}, "2": {}}})).unwrap();
    assert!(!report.passed());
    let missing: usize = report.groups.iter().map(|g| g.missing).sum();
    let n = Fixture::load("fixtures/ipo_test.json")
        .unwrap()
        .number_of_tests;
    assert_eq!(missing, n - 2);
}

#[test]
fn candidate_errors_name_file_path_and_problem() {
    // Wrong array length.
    let e =
        run(json!({"dpo_sigmoid_test.json": {"1": {"losses": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}}}))
            .unwrap_err();
    match &e {
        FixtureError::LengthMismatch {
            file, path, found, ..
        } => {
            assert_eq!(file, "candidate.json");
            assert_eq!(path, "$[\"dpo_sigmoid_test.json\"][\"1\"][\"losses\"]");
            assert_eq!(*found, 6);
        }
        other => panic!("{other:?}"),
    }
    assert!(e
        .to_string()
        .starts_with("candidate.json: at $[\"dpo_sigmoid_test.json\"]"));
    // A tcId the file does not have.
    let e = run(json!({"dpo_sigmoid_test.json": {"99999": {}}})).unwrap_err();
    assert!(
        matches!(e, FixtureError::Unknown { ref path, .. } if path.contains("99999")),
        "{e:?}"
    );
    // An output the test does not have.
    let e = run(json!({"dpo_sigmoid_test.json": {"1": {"lose": 0.5}}})).unwrap_err();
    assert!(
        matches!(e, FixtureError::Unknown { ref what, .. } if what.contains("lose")),
        "{e:?}"
    );
    // A string where a number belongs.
    let e = run(json!({"dpo_sigmoid_test.json": {"1": {"loss": "0.5"}}})).unwrap_err();
    assert!(
        matches!(e, FixtureError::Structure { ref path, .. } if path.ends_with("[\"loss\"]")),
        "{e:?}"
    );
    // A fixture file that does not exist (the candidate's problem, at its key), and one
    // outside the folder.
    let e = run(json!({"nope_test.json": {}})).unwrap_err();
    assert!(
        matches!(e, FixtureError::Unknown { ref file, ref what, at: Some((1, 2)), .. }
            if file == "candidate.json" && what.contains("nope_test.json")),
        "{e:?}"
    );
    let e = run(json!({"../Cargo.json": {}})).unwrap_err();
    assert!(matches!(e, FixtureError::Unknown { .. }), "{e:?}");
    // Not an object.
    let e = run(json!([1, 2])).unwrap_err();
    assert!(
        matches!(e, FixtureError::Structure { ref path, .. } if path == "$"),
        "{e:?}"
    );
    // Truncated and malformed candidate text.
    let e = check_text("c.json", "{\"ipo_test.json\": {\"1\": {\"loss\": 0.", |f| {
        Fixture::load(format!("fixtures/{f}"))
    })
    .unwrap_err();
    assert!(
        matches!(e, FixtureError::Truncated { line: 1, .. }),
        "{e:?}"
    );
    let e = check_text("c.json", "{\n  \"ipo_test.json\": {,}\n}", |f| {
        Fixture::load(format!("fixtures/{f}"))
    })
    .unwrap_err();
    assert!(
        matches!(
            e,
            FixtureError::Syntax {
                line: 2,
                column: 21,
                ..
            }
        ),
        "{e:?}"
    );
    // The candidate file itself missing.
    let e = check_files(
        std::path::Path::new("no/such/candidate.json"),
        std::path::Path::new("fixtures"),
    )
    .unwrap_err();
    assert!(matches!(e, FixtureError::Io { .. }), "{e:?}");
}

#[test]
fn fixture_errors_name_file_position_and_problem() {
    let text = sigmoid_text();
    // Truncated.
    let e = Fixture::parse("f.json", &text[..text.len() / 2]).unwrap_err();
    assert!(
        matches!(e, FixtureError::Truncated { ref file, line, .. } if file == "f.json" && line > 1),
        "{e:?}"
    );
    // Malformed.
    let e = Fixture::parse(
        "f.json",
        &text.replacen("\"algorithm\":", "\"algorithm\"", 1),
    )
    .unwrap_err();
    assert!(matches!(e, FixtureError::Syntax { line: 2, .. }), "{e:?}");
    // Wrong version.
    let e = Fixture::parse(
        "f.json",
        &text.replacen(
            "\"schemaVersion\": \"1.0\"",
            "\"schemaVersion\": \"2.0\"",
            1,
        ),
    )
    .unwrap_err();
    assert!(
        matches!(e, FixtureError::UnsupportedVersion { ref found, .. } if found == "2.0"),
        "{e:?}"
    );
    let mut v: Value = serde_json::from_str(&text).unwrap();
    // Missing tcId.
    let mut no_id = v.clone();
    no_id["testGroups"][1]["tests"][0]
        .as_object_mut()
        .unwrap()
        .remove("tcId");
    let e = Fixture::parse("f.json", &no_id.to_string()).unwrap_err();
    match &e {
        FixtureError::Structure { path, problem, .. } => {
            assert_eq!(path, "$.testGroups[1].tests[0]");
            assert!(problem.contains("tcId"));
        }
        other => panic!("{other:?}"),
    }
    // tcIds out of order.
    let mut swapped = v.clone();
    swapped["testGroups"][0]["tests"][1]["tcId"] = json!(7);
    let e = Fixture::parse("f.json", &swapped.to_string()).unwrap_err();
    assert!(
        matches!(
            e,
            FixtureError::TcIdOutOfOrder {
                expected: 2,
                found: 7,
                ..
            }
        ),
        "{e:?}"
    );
    // A flag without a note.
    let mut flag = v.clone();
    flag["testGroups"][0]["tests"][0]["flags"] = json!(["Unexplained"]);
    let e = Fixture::parse("f.json", &flag.to_string()).unwrap_err();
    assert!(
        matches!(e, FixtureError::Structure { ref path, .. } if path == "$.testGroups[0].tests[0].flags[0]"),
        "{e:?}"
    );
    // numberOfTests wrong.
    v["numberOfTests"] = json!(3);
    let e = Fixture::parse("f.json", &v.to_string()).unwrap_err();
    assert!(
        matches!(e, FixtureError::CountMismatch { declared: 3, .. }),
        "{e:?}"
    );
    // A bad tolerance.
    let mut tol: Value = serde_json::from_str(&text).unwrap();
    tol["testGroups"][2]["params"]["tolerance"]["atol"] = json!("small");
    let e = Fixture::parse("f.json", &tol.to_string()).unwrap_err();
    assert!(
        matches!(e, FixtureError::Structure { ref path, .. } if path == "$.testGroups[2].params.tolerance.atol"),
        "{e:?}"
    );
    assert!(e
        .to_string()
        .starts_with("f.json: at $.testGroups[2].params.tolerance.atol: expected a number"));
}

#[test]
fn typed_access_reports_the_field() {
    use dpo_oracle::fixtures::Fields;
    let f = Fixture::load(SIGMOID).unwrap();
    let (_, t) = f.valid_cases().next().unwrap();
    assert!(t.inputs.vector("policy_chosen_logps").is_ok());
    let e = t.inputs.vector("policy_chosen").unwrap_err();
    assert!(matches!(e, FixtureError::Field { ref field, .. } if field == "policy_chosen"));
    let e = t.expected.scalar("losses").unwrap_err();
    assert!(
        matches!(e, FixtureError::Field { ref problem, .. } if problem.contains("array")),
        "{e:?}"
    );
}

#[test]
fn typed_vectors_read_every_valid_case() {
    for (file, kind) in [
        ("fixtures/ipo_test.json", "pair"),
        ("fixtures/logps_from_logits_test.json", "logps"),
    ] {
        let f = Fixture::load(file).unwrap();
        for (_, t) in f.valid_cases() {
            if kind == "pair" {
                let x = t.pair_inputs().unwrap();
                let e = t.pair_expected().unwrap();
                assert_eq!(x.policy_chosen_logps.len(), e.losses.len());
                assert_eq!(e.metrics.len(), 6);
            } else {
                let x = t.logits_inputs().unwrap();
                assert_eq!(x.logits.len(), x.labels.len());
            }
        }
    }
    // A test of the other family has no pair inputs: the error names the field.
    let f = Fixture::load("fixtures/preference_test.json").unwrap();
    let e = f.test_groups[0].tests[0].pair_inputs().unwrap_err();
    assert!(
        matches!(e, FixtureError::Field { ref field, .. } if field == "policy_chosen_logps"),
        "{e:?}"
    );
}

/// The crate's Plackett–Luce loss run as a user of the fixtures would run any implementation:
/// read each case through the loader's typed fields, compute, and compare under the group's
/// tolerance; invalid cases must be rejected.
#[test]
fn plackett_luce_loss_passes_its_fixture() {
    use dpo_oracle::fixtures::Fields;
    use dpo_oracle::loss::plackett_luce::plackett_luce_loss_and_grad;
    let f = Fixture::load("fixtures/plackett_luce_loss_test.json").unwrap();
    let mut checked = 0;
    for (g, t) in f.cases() {
        let beta = g.params.beta.expect("every group has a beta");
        let got = plackett_luce_loss_and_grad(
            beta,
            &t.inputs.vector("policy_logps").unwrap(),
            &t.inputs.vector("reference_logps").unwrap(),
            &t.inputs.counts("ranking").unwrap(),
        );
        match (t.result, got) {
            (Outcome::Invalid, Err(_)) => {}
            (Outcome::Valid, Ok((loss, grad))) => {
                let tol = g.tolerance();
                let want = t.expected.vector("grad_policy_logps").unwrap();
                assert!(
                    tol.accepts(loss, t.expected.scalar("loss").unwrap()),
                    "tcId {}",
                    t.tc_id
                );
                for (a, e) in grad.iter().zip(&want) {
                    assert!(tol.accepts(*a, *e), "tcId {}: gradient {a} vs {e}", t.tc_id);
                }
            }
            (r, other) => panic!("tcId {} ({r:?}): {other:?}", t.tc_id),
        }
        checked += 1;
    }
    assert_eq!(checked, f.number_of_tests);
}

/// `Fixture::bundled` reads the crate's own files by name, from wherever the caller runs; a name
/// that is not there is a typed I/O error naming the path.
#[test]
fn bundled_fixtures_load_by_name() {
    use dpo_oracle::fixtures::BUNDLED_DIR;
    for name in ["dpo_sigmoid_test.json", "plackett_luce_loss_test.json"] {
        let bundled = Fixture::bundled(name).unwrap();
        let here = Fixture::load(format!("fixtures/{name}")).unwrap();
        assert_eq!(bundled.number_of_tests, here.number_of_tests, "{name}");
        assert_eq!(bundled.algorithm, here.algorithm, "{name}");
    }
    let e = Fixture::bundled("no_such_test.json").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(BUNDLED_DIR) && text.contains("no_such_test.json"),
        "{text}"
    );
}
