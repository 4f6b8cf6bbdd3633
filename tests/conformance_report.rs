//! The committed conformance report (`conformance/report.json`) was made from the committed
//! fixtures: its SHA-256 digest of the fixture files equals one recomputed here. When a fixture
//! changes, this fails until `scripts/conformance.sh` regenerates the report.
//!
//! Digest: SHA-256 over the files `fixtures/*_test.json` in name order, each contributing its
//! name, a NUL byte, its bytes and a NUL byte (the same as `conformance/dpo_conformance/fixtures.py`).

use std::path::Path;

use sha2::{Digest, Sha256};

fn fixture_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .filter(|n| n.ends_with("_test.json"))
        .collect();
    names.sort();
    names
}

fn digest(dir: &Path, names: &[String]) -> String {
    let mut h = Sha256::new();
    for name in names {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update(std::fs::read(dir.join(name)).expect("fixture file is readable"));
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn committed_report() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/report.json");
    let text = std::fs::read_to_string(&path).expect("conformance/report.json is committed");
    serde_json::from_str(&text).expect("conformance/report.json is JSON")
}

#[test]
fn report_digest_matches_the_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let names = fixture_names(&dir);
    let report = committed_report();
    let recorded = &report["fixtureDigest"];
    assert_eq!(recorded["algorithm"], "sha256");
    let recorded_files: Vec<String> = recorded["files"]
        .as_array()
        .expect("fixtureDigest.files is a list")
        .iter()
        .map(|v| v.as_str().expect("a file name").to_owned())
        .collect();
    assert_eq!(
        recorded_files, names,
        "the fixture files changed since the conformance report was made: run scripts/conformance.sh"
    );
    assert_eq!(
        recorded["value"].as_str(),
        Some(digest(&dir, &names).as_str()),
        "the fixtures changed since the conformance report was made: run scripts/conformance.sh"
    );
}

#[test]
fn digest_sees_a_one_byte_change() {
    // Independent of the committed files: two folders differing in one byte give different digests.
    let base = std::env::temp_dir().join(format!("dpo-oracle-digest-{}", std::process::id()));
    let (a, b) = (base.join("a"), base.join("b"));
    for (dir, body) in [(&a, "{\"x\": 1}"), (&b, "{\"x\": 2}")] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("one_test.json"), body).unwrap();
    }
    let names = vec!["one_test.json".to_owned()];
    assert_ne!(digest(&a, &names), digest(&b, &names));
    // The known SHA-256 of the empty input: no file at all.
    assert_eq!(
        digest(&a, &[]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    std::fs::remove_dir_all(&base).ok();
}
