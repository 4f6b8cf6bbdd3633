//! The `fixtures` and `check` subcommands, run as a user runs them.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpo-oracle"))
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dpo-oracle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn fixtures_writes_the_committed_files_and_nothing_else() {
    let dir = temp_dir("fixtures");
    std::fs::write(dir.join("mine.txt"), "a user's file").unwrap();
    let out = bin().arg("fixtures").arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("total"));
    let committed = std::fs::read_to_string("fixtures/ipo_test.json").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("ipo_test.json")).unwrap(),
        committed
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "a user's file"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fixtures_refuses_to_overwrite_a_file_it_did_not_write() {
    let dir = temp_dir("overwrite");
    // A user's own file that happens to share a fixture's name.
    std::fs::write(dir.join("ipo_test.json"), "{\"mine\": true}").unwrap();
    let out = bin().arg("fixtures").arg(&dir).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ipo_test.json") && err.contains("refusing to overwrite"),
        "{err}"
    );
    // Nothing was written: the user's file is intact and no other fixture appeared.
    assert_eq!(
        std::fs::read_to_string(dir.join("ipo_test.json")).unwrap(),
        "{\"mine\": true}"
    );
    assert!(!dir.join("cdpo_test.json").exists());
    // Once the user's file is moved away, a run succeeds, and so does a second one over the
    // files the first wrote.
    std::fs::remove_file(dir.join("ipo_test.json")).unwrap();
    for run in 1..=2 {
        let out = bin().arg("fixtures").arg(&dir).output().unwrap();
        assert!(out.status.success(), "run {run}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The main job writes into `fixtures/` only in this crate's own repository (the folder the
/// crate ships): another project's `fixtures/`, even with a `schema/` inside, is not it.
#[test]
fn the_main_job_recognises_only_its_own_fixtures_folder() {
    use dpo_oracle::fixtures::is_bundled_dir;
    use std::path::Path;
    let dir = temp_dir("elsewhere");
    std::fs::create_dir_all(dir.join("fixtures/schema")).unwrap();
    assert!(!is_bundled_dir(&dir.join("fixtures")));
    assert!(!is_bundled_dir(&dir.join("missing")));
    // Tests run from the crate's root, where `fixtures/` is the bundled folder.
    assert!(is_bundled_dir(Path::new("fixtures")));
    assert!(is_bundled_dir(Path::new("./fixtures/../fixtures")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_exits_zero_on_pass_one_on_failure_two_on_bad_input() {
    let dir = temp_dir("check");
    let candidate = dir.join("candidate.json");
    // tcId 1 of the IPO file, exactly as expected, and reported in Python's style.
    let f = dpo_oracle::fixtures::Fixture::load("fixtures/ipo_test.json").unwrap();
    let expected = serde_json::Value::Object(f.test_groups[0].tests[0].expected.clone());
    std::fs::write(
        &candidate,
        format!("{{\"ipo_test.json\": {{\"1\": {expected}}}}}"),
    )
    .unwrap();
    let out = bin().arg("check").arg(&candidate).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed, 0 failed"));
    std::fs::write(&candidate, r#"{"ipo_test.json": {"1": {"loss": NaN}}}"#).unwrap();
    let out = bin().arg("check").arg(&candidate).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("failed tcIds: 1"));
    std::fs::write(
        &candidate,
        r#"{"ipo_test.json": {"1": {"losses": [1, 2, 3, 4, 5, 6, 7]}}}"#,
    )
    .unwrap();
    let out = bin().arg("check").arg(&candidate).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "candidate.json: at $[\"ipo_test.json\"][\"1\"][\"losses\"]: array of length 7"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
