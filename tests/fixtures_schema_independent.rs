//! Every fixture file validated against its JSON Schema by a maintained validator (the
//! `jsonschema` crate, draft 2020-12), so that the crate's own validator
//! (`fixtures::schema::validate`) is not the only judge of its schemas; and the two agree on
//! documents the schemas must reject.

use std::path::Path;

use dpo_oracle::fixtures::generate::schema_name;
use dpo_oracle::fixtures::schema::validate;
use serde_json::{json, Value};

const DIR: &str = "fixtures";

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files() -> Vec<(String, Value, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_test.json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let doc = read(&Path::new(DIR).join(&n));
            let schema = read(&Path::new(DIR).join(schema_name(&n)));
            (n, doc, schema)
        })
        .collect()
}

fn independent(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema).unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

#[test]
fn every_fixture_file_is_valid_under_an_independent_validator() {
    let all = files();
    assert!(all.len() >= 19);
    for (name, doc, schema) in &all {
        let v = independent(schema);
        let errors: Vec<String> = v.iter_errors(doc).map(|e| e.to_string()).take(3).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

/// Mutations each schema must reject; both validators reject each of them.
#[test]
fn both_validators_reject_the_same_broken_documents() {
    type Mutation = fn(&mut Value);
    let mutations: [(&str, Mutation); 6] = [
        ("a test without its result", |d| {
            d["testGroups"][0]["tests"][0]
                .as_object_mut()
                .unwrap()
                .remove("result");
        }),
        ("an unknown result", |d| {
            d["testGroups"][0]["tests"][0]["result"] = json!("maybe")
        }),
        ("a tcId of 0", |d| {
            d["testGroups"][0]["tests"][0]["tcId"] = json!(0)
        }),
        ("a negative tolerance", |d| {
            d["testGroups"][0]["params"]["tolerance"]["atol"] = json!(-1.0)
        }),
        ("an unknown precision", |d| {
            d["testGroups"][0]["params"]["precision"] = json!("f16")
        }),
        ("an unknown peerFloat32 quantity", |d| {
            d["testGroups"][0]["params"]["peerFloat32"] = json!([{
                "quantity": "beta", "outputs": ["loss"], "tolerance": {"atol": 0.0, "rtol": 0.0}
            }])
        }),
    ];
    for (name, doc, schema) in files() {
        let v = independent(&schema);
        for (what, mutate) in &mutations {
            let mut broken = doc.clone();
            mutate(&mut broken);
            assert!(!v.is_valid(&broken), "{name}: jsonschema accepts {what}");
            assert!(
                validate(&schema, &broken).is_err(),
                "{name}: the crate's validator accepts {what}"
            );
        }
    }
}

/// The `peerFloat32` entries the pair files carry pass both validators (they are in use).
#[test]
fn peer_float32_entries_are_schema_valid() {
    let (_, doc, schema) = files()
        .into_iter()
        .find(|(n, _, _)| n == "exo_pair_test.json")
        .unwrap();
    let used = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["params"].get("peerFloat32").is_some())
        .count();
    assert!(used > 0);
    assert!(independent(&schema).is_valid(&doc));
    assert!(validate(&schema, &doc).is_ok());
}
