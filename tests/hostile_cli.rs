//! The command line under hostile input, run as a user runs it (the built binary, in temporary
//! folders). Each case asserts its specific outcome: the exact exit status (0 pass, 1 a failing
//! verdict, 2 an error), the message naming the problem and where it is, and, for every file of
//! the user's, that it is byte-identical afterwards.
//!
//! Cases running `check` are fast; cases running `fixtures` regenerate every family (seconds
//! each), so there are fewer of them, each aimed at one promise of `dpo-oracle fixtures`.

#![cfg(unix)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use dpo_oracle::fixtures::{Fixture, Outcome};
use serde_json::{json, Value};

/// What a run of the binary did.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_in(cwd: &Path, args: &[&OsStr], stdout: Option<Stdio>) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dpo-oracle"));
    cmd.args(args).current_dir(cwd).stderr(Stdio::piped());
    cmd.stdout(stdout.unwrap_or_else(Stdio::piped));
    let out = cmd.output().expect("the binary runs");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&OsStr]) -> Ran {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, None)
}

/// A fresh, empty folder of its own for each case.
fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "dpo-oracle-hostile-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn ipo() -> Fixture {
    Fixture::load(bundled("ipo_test.json")).unwrap()
}

/// tcId 1 of the IPO file's expected outputs, as a JSON object.
fn ipo_expected_1() -> Value {
    Value::Object(ipo().test_groups[0].tests[0].expected.clone())
}

/// How many files a fixtures folder holds: every family and its schema.
fn n_files() -> usize {
    2 * std::fs::read_dir(bundled(""))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_test.json"))
        .count()
}

fn first_invalid_ipo() -> u64 {
    ipo()
        .cases()
        .find(|(_, t)| t.result == Outcome::Invalid)
        .unwrap()
        .1
        .tc_id
}

/// Runs `check` on a candidate holding `bytes`, against the bundled fixtures (or `fixtures`).
fn check_bytes_with(bytes: &[u8], fixtures: Option<&Path>) -> (Ran, PathBuf) {
    let dir = temp("check");
    let cand = dir.join("candidate.json");
    std::fs::write(&cand, bytes).unwrap();
    let mut args: Vec<&OsStr> = vec![OsStr::new("check"), cand.as_os_str()];
    if let Some(f) = fixtures {
        args.push(OsStr::new("--fixtures"));
        args.push(f.as_os_str());
    }
    let ran = run(&args);
    // The candidate is never altered.
    assert_eq!(std::fs::read(&cand).unwrap(), bytes);
    (ran, cand)
}

fn check_text(text: &str) -> (Ran, PathBuf) {
    check_bytes_with(text.as_bytes(), None)
}

/// `check` exits 2 and its message starts with `candidate:LINE:COL` and holds `needle`.
fn assert_error_at(text: &str, line: usize, column: usize, needle: &str) {
    let (r, cand) = check_text(text);
    assert_eq!(r.code, Some(2), "{text}: {r:?}");
    let head = format!("error: {}:{line}:{column}: ", cand.display());
    assert!(
        r.stderr.starts_with(&head) && r.stderr.contains(needle),
        "{text}\nwanted {head}…{needle}\ngot {}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "no verdict is printed: {}", r.stdout);
}

/// `check` exits 2 and its message names the candidate and holds every needle.
fn assert_error(text: &[u8], needles: &[&str]) {
    let (r, cand) = check_bytes_with(text, None);
    assert_eq!(
        r.code,
        Some(2),
        "{:?}: {r:?}",
        String::from_utf8_lossy(text)
    );
    assert!(
        r.stderr.starts_with(&format!("error: {}", cand.display())),
        "{}",
        r.stderr
    );
    for n in needles {
        assert!(r.stderr.contains(n), "wanted {n:?} in {}", r.stderr);
    }
}

/// The 1-based column of the `nth` (from 0) occurrence of `needle` in one-line ASCII `text`.
fn col(text: &str, needle: &str, nth: usize) -> usize {
    text.match_indices(needle).nth(nth).unwrap().0 + 1
}

// ---------------------------------------------------------------------------------------------
// `check`: nothing compared is never a pass.

#[test]
fn check_fails_when_nothing_is_compared() {
    for (text, needle) in [
        ("{}", "nothing was compared"),
        ("{\"ipo_test.json\": {}}", "nothing was compared"),
        (
            "{\"ipo_test.json\": {}, \"cdpo_test.json\": {}}",
            "nothing was compared",
        ),
        (" \n{ }\n ", "nothing was compared"),
    ] {
        let (r, _) = check_text(text);
        assert_eq!(r.code, Some(1), "{text}: {r:?}");
        assert!(r.stdout.contains(needle), "{text}: {}", r.stdout);
        assert!(r.stdout.contains("0 passed, 0 failed"), "{}", r.stdout);
    }
}

#[test]
fn check_counts_an_empty_entry_as_not_reported_and_fails() {
    // One test named with no output.
    let (r, _) = check_text("{\"ipo_test.json\": {\"1\": {}}}");
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r
        .stdout
        .contains("named with no output (not reported): tcIds 1"));
    let n = ipo().number_of_tests;
    assert!(
        r.stdout
            .contains(&format!("0 passed, 0 failed ({n} not reported)")),
        "{}",
        r.stdout
    );
    // Every test of the file named with no output: never "all passed".
    let all: serde_json::Map<String, Value> = (1..=n).map(|i| (i.to_string(), json!({}))).collect();
    let (r, _) = check_text(&json!({ "ipo_test.json": all }).to_string());
    assert_eq!(r.code, Some(1));
    assert!(r
        .stdout
        .contains(&format!("0 passed, 0 failed ({n} not reported)")));
    assert!(r.stdout.contains("FAIL: nothing was compared"));
    // A correct test beside an empty one still fails, naming the empty one.
    let text = json!({"ipo_test.json": {"1": ipo_expected_1(), "2": {}}}).to_string();
    let (r, _) = check_text(&text);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("1 passed, 0 failed"), "{}", r.stdout);
    assert!(r.stdout.contains("tcIds 2"));
    assert!(r.stdout.contains("FAIL: 1 tests named with no output"));
    // An invalid test named with no output is not a pass either.
    let inv = first_invalid_ipo();
    let (r, _) = check_text(&format!("{{\"ipo_test.json\": {{\"{inv}\": {{}}}}}}"));
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains(&format!("tcIds {inv}")));
}

#[test]
fn check_passes_a_correct_candidate_and_fails_a_wrong_one() {
    let e = ipo_expected_1();
    let (r, _) = check_text(&json!({"ipo_test.json": {"1": e}}).to_string());
    assert_eq!(r.code, Some(0), "{r:?}");
    let n = ipo().number_of_tests;
    assert!(r
        .stdout
        .contains(&format!("1 passed, 0 failed ({} not reported)", n - 1)));
    assert!(r.stdout.trim_end().ends_with("PASS"));
    // With a byte-order mark (accepted and ignored).
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(json!({"ipo_test.json": {"1": e}}).to_string().bytes());
    let (r, _) = check_bytes_with(&bom, None);
    assert_eq!(r.code, Some(0), "{r:?}");
    // One value moved by far more than the tolerance.
    let mut wrong = e.clone();
    wrong["loss"] = json!(e["loss"].as_f64().unwrap() * (1.0 + 1e-6));
    let (r, _) = check_text(&json!({"ipo_test.json": {"1": wrong}}).to_string());
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("failed tcIds: 1"));
    // Python's bare tokens where a finite value is expected.
    for token in ["NaN", "Infinity", "-Infinity"] {
        let (r, _) = check_text(&format!(
            "{{\"ipo_test.json\": {{\"1\": {{\"loss\": {token}}}}}}}"
        ));
        assert_eq!(r.code, Some(1), "{token}");
        assert!(r.stdout.contains("failed tcIds: 1"), "{token}");
    }
    // A valid test answered with an error, an invalid one answered with values, and an invalid
    // one answered with an error.
    let (r, _) = check_text("{\"ipo_test.json\": {\"1\": {\"error\": \"no\"}}}");
    assert_eq!(r.code, Some(1));
    let inv = first_invalid_ipo();
    let (r, _) = check_text(&format!(
        "{{\"ipo_test.json\": {{\"{inv}\": {{\"loss\": 0.5}}}}}}"
    ));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains(&format!("failed tcIds: {inv}")));
    let (r, _) = check_text(&format!(
        "{{\"ipo_test.json\": {{\"{inv}\": {{\"error\": \"beta\"}}}}}}"
    ));
    assert_eq!(r.code, Some(0), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// `check`: keys must be exact.

#[test]
fn check_rejects_a_tc_id_written_other_than_canonically_at_its_position() {
    for key in [
        "01",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e0",
        "001",
        "1.00",
        "\\u0031\\u0030",
    ] {
        let text = format!("{{\"ipo_test.json\": {{\"{key}\": {{\"loss\": 1e300}}}}}}");
        let canonical = if key.starts_with("\\u") {
            None
        } else {
            Some("1")
        };
        let c = col(&text, &format!("\"{key}\""), 0);
        match canonical {
            Some(id) => assert_error_at(
                &text,
                1,
                c,
                &format!("is not a canonical tcId: write \"{id}\""),
            ),
            // "\u0031\u0030" is "10" spelled with escapes: the key is "10" itself, canonical.
            None => {
                let (r, _) = check_text(&text);
                assert_eq!(r.code, Some(1), "{r:?}");
                assert!(r.stdout.contains("failed tcIds: 10"), "{}", r.stdout);
            }
        }
    }
}

#[test]
fn check_rejects_a_key_naming_no_test_at_its_position() {
    let beyond = (ipo().number_of_tests + 1).to_string();
    for key in [
        "0",
        "-1",
        &beyond,
        "99999",
        "abc",
        "",
        "0x1",
        "1.5",
        "18446744073709551616",
        "NaN",
    ] {
        let text = format!("{{\"ipo_test.json\": {{\"{key}\": {{\"loss\": 0}}}}}}");
        assert_error_at(
            &text,
            1,
            col(&text, &format!("\"{key}\""), 0),
            "no such tcId",
        );
    }
}

#[test]
fn check_rejects_duplicate_keys_at_the_second_naming_the_first() {
    // The same tcId twice, the first failing: the last must not silently win.
    let text = "{\"ipo_test.json\": {\"1\": {\"loss\": 1e300}, \"1\": {\"loss\": 0}}}";
    assert_error_at(
        text,
        1,
        col(text, "\"1\"", 1),
        &format!("duplicate key \"1\" (first at 1:{})", col(text, "\"1\"", 0)),
    );
    // The same file twice, on separate lines.
    let text = "{\n\"ipo_test.json\": {},\n  \"ipo_test.json\": {}\n}";
    assert_error_at(text, 3, 3, "duplicate key \"ipo_test.json\" (first at 2:1)");
    // The same output twice.
    let text = "{\"ipo_test.json\": {\"1\": {\"loss\": 1, \"loss\": 2}}}";
    assert_error_at(text, 1, col(text, "\"loss\"", 1), "duplicate key \"loss\"");
    // A duplicate spelled with an escape.
    let text = "{\"ipo_test.json\": {\"1\": {\"loss\": 1, \"\\u006coss\": 2}}}";
    assert_error_at(
        text,
        1,
        col(text, "\"\\u006coss\"", 0),
        "duplicate key \"loss\"",
    );
    // Inside an array of objects too.
    let text = "{\"ipo_test.json\": {\"1\": {\"losses\": [{\"a\": 1, \"a\": 2}]}}}";
    assert_error_at(text, 1, col(text, "\"a\"", 1), "duplicate key \"a\"");
}

#[test]
fn check_names_the_candidate_for_an_unknown_file_at_its_key() {
    for file in [
        "nope_test.json",
        "IPO_TEST.json.json",
        "ipo_test.schema.json",
    ] {
        let text = format!("{{\"{file}\": {{\"1\": {{\"loss\": 0}}}}}}");
        assert_error_at(&text, 1, 2, &format!("no such fixture file \"{file}\""));
    }
    for file in [
        "../Cargo.json",
        "schema/ipo_test.schema.json",
        "/etc/passwd.json",
        "ipo_test",
        "ipo_test.json/",
        "..\\\\ipo_test.json",
    ] {
        let text = format!("{{\"{file}\": {{}}}}");
        assert_error_at(&text, 1, 2, "no such fixture file");
    }
}

#[test]
fn check_rejects_an_unknown_output_at_its_key() {
    let text = "{\"ipo_test.json\": {\"1\": {\"lose\": 0.5}}}";
    assert_error_at(text, 1, col(text, "\"lose\"", 0), "no such output \"lose\"");
    let text = "{\"ipo_test.json\": {\"1\": {\"loss\": 0.5, \"Loss\": 0.5}}}";
    assert_error_at(text, 1, col(text, "\"Loss\"", 0), "no such output \"Loss\"");
}

// ---------------------------------------------------------------------------------------------
// `check`: text that is not (quite) JSON.

#[test]
fn check_places_syntax_errors_exactly_even_after_non_finite_tokens() {
    for (text, line, column) in [
        ("{\"a\": [NaN, Infinity, -Infinity, x]}", 1, 34),
        ("{\"a\": [NaN, NaN, NaN, NaN,, 1]}", 1, 27),
        (
            "{\n  \"a\": [NaN],\n  \"b\": [-Infinity, Infinity] ]\n}",
            3,
            30,
        ),
        ("{\"ipo_test.json\": {,}}", 1, 20),
        ("{\"a\" 1}", 1, 6),
        ("{'a': 1}", 1, 2),
        ("{\"a\": [1 2]}", 1, 10),
        ("{\"a\": 01}", 1, 7),
        ("{\"a\": nan}", 1, 7),
        ("{\"a\": inf}", 1, 7),
        ("{\"a\": -NaN}", 1, 7),
        ("{\"a\": \"tab\there\"}", 1, 11),
        ("{\"a\": \"\\x\"}", 1, 9),
        ("{} {}", 1, 4),
        ("{\"a\": 1,}", 1, 9),
        ("{\"é\": [NaN x]}", 1, 12),
    ] {
        let (r, cand) = check_text(text);
        assert_eq!(r.code, Some(2), "{text:?}: {r:?}");
        let head = format!("error: {}:{line}:{column}: not valid JSON", cand.display());
        assert!(
            r.stderr.starts_with(&head),
            "{text:?}\nwanted {head}\ngot {}",
            r.stderr
        );
    }
}

#[test]
fn check_reports_truncated_text() {
    for text in [
        "",
        "   ",
        "{",
        "{\"ipo_test.json\": {\"1\": {\"loss\": 0.",
        "[NaN, Infin",
        "{\"a\": \"abc",
    ] {
        let (r, _) = check_text(text);
        assert_eq!(r.code, Some(2), "{text:?}");
        assert!(
            r.stderr.contains("truncated: the JSON ends early"),
            "{text:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn check_rejects_text_that_is_not_utf8_naming_the_encoding() {
    assert_error(
        b"\xFF\xFE{\0}\0",
        &["not UTF-8 text", "UTF-16 byte-order mark"],
    );
    assert_error(b"\xFE\xFF\0{\0}", &["UTF-16 byte-order mark"]);
    assert_error(b"\xFF\xFE\0\0{\0\0\0", &["UTF-32 byte-order mark"]);
    assert_error(b"{\0}\0", &["a NUL byte at 1:2", "UTF-16"]);
    assert_error(b"{\"a\":\n \"\xC3\x28\"}", &["invalid byte at 2:3"]);
    assert_error(b"\x89PNG\r\n\x1a\n", &["not UTF-8 text"]);
}

#[test]
fn check_rejects_a_json_value_of_the_wrong_shape() {
    for (text, needle) in [
        (
            "[]",
            "at $: expected an object keyed by fixture file name, found an array",
        ),
        ("\"ipo_test.json\"", "found a string"),
        ("42", "found a number"),
        ("null", "found null"),
        (
            "{\"ipo_test.json\": []}",
            "expected an object keyed by tcId, found an array",
        ),
        (
            "{\"ipo_test.json\": {\"1\": 0.5}}",
            "expected an object of outputs, found a number",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"loss\": \"0.5\"}}}",
            "expected a number",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"loss\": [0.5]}}}",
            "expected a number",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"losses\": 0.5}}}",
            "expected an array of 3 values",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"losses\": [1, 2]}}}",
            "array of length 2 where the fixture has 3",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"loss\": 1e999}}}",
            "invalid number",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"loss\": null}}}",
            "found null",
        ),
        (
            "{\"ipo_test.json\": {\"1\": {\"loss\": true}}}",
            "found a boolean",
        ),
    ] {
        assert_error(text.as_bytes(), &[needle]);
    }
}

#[test]
fn check_survives_deep_nesting_and_long_keys() {
    let deep = "[".repeat(100_000);
    assert_error(deep.as_bytes(), &["nested more than 128 levels deep"]);
    let deep = format!("{}{}", "{\"a\":".repeat(50_000), "1");
    assert_error(deep.as_bytes(), &["nested more than 128 levels deep"]);
    let long = format!("{{\"{}\": {{}}}}", "x".repeat(1 << 20));
    assert_error(long.as_bytes(), &["no such fixture file"]);
}

#[test]
fn check_refuses_a_candidate_too_large_before_reading_it() {
    let dir = temp("large");
    let cand = dir.join("big.json");
    // A sparse file: 17 MiB of size, no data, so this test is cheap.
    let f = std::fs::File::create(&cand).unwrap();
    f.set_len(17 << 20).unwrap();
    drop(f);
    let r = run(&[OsStr::new("check"), cand.as_os_str()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "{}: 17825792 bytes, more than the 16777216 bytes",
            cand.display()
        )),
        "{}",
        r.stderr
    );
    // Just under the limit it is read (and is not JSON: NUL bytes).
    std::fs::File::create(&cand)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let r = run(&[OsStr::new("check"), cand.as_os_str()]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("a NUL byte at 1:1"), "{}", r.stderr);
}

#[test]
fn check_rejects_a_candidate_that_is_not_a_readable_file() {
    let dir = temp("notfile");
    let r = run(&[OsStr::new("check"), dir.as_os_str()]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("is a folder, not a file"), "{}", r.stderr);
    let missing = dir.join("missing.json");
    let r = run(&[OsStr::new("check"), missing.as_os_str()]);
    assert_eq!(r.code, Some(2));
    assert!(r
        .stderr
        .contains(&format!("{}: cannot read", missing.display())));
}

// ---------------------------------------------------------------------------------------------
// `check` against a fixtures folder that was edited or damaged.

/// A fixtures folder holding the IPO file with `edit` applied to its first group's params.
fn edited_fixtures(edit: impl Fn(&mut Value)) -> PathBuf {
    let dir = temp("fixtures");
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(bundled("ipo_test.json")).unwrap()).unwrap();
    edit(&mut v["testGroups"][0]["params"]);
    std::fs::write(dir.join("ipo_test.json"), v.to_string()).unwrap();
    dir
}

#[test]
fn check_refuses_fixtures_with_a_tolerance_that_is_not_finite_and_non_negative() {
    let cand = json!({"ipo_test.json": {"1": {"loss": 1e300}}}).to_string();
    for (field, value) in [
        ("atol", json!(-1e-9)),
        ("atol", json!("Infinity")),
        ("atol", json!("NaN")),
        ("rtol", json!(-0.5)),
        ("rtol", json!("Infinity")),
        ("rtol", json!("-Infinity")),
    ] {
        let dir = edited_fixtures(|p| p["tolerance"][field] = value.clone());
        let before = std::fs::read(dir.join("ipo_test.json")).unwrap();
        let (r, _) = check_bytes_with(cand.as_bytes(), Some(&dir));
        assert_eq!(r.code, Some(2), "{field} {value}: {r:?}");
        let want = format!(
            "{}: at $.testGroups[0].params.tolerance.{field}: tolerance",
            dir.join("ipo_test.json").display()
        );
        assert!(r.stderr.contains(&want), "wanted {want}\ngot {}", r.stderr);
        assert!(r.stderr.contains("is not a finite non-negative number"));
        assert_eq!(std::fs::read(dir.join("ipo_test.json")).unwrap(), before);
    }
    // Zero tolerances are legitimate (exact comparison): loaded, and 1e300 fails.
    let dir = edited_fixtures(|p| p["tolerance"] = json!({"atol": 0.0, "rtol": 0.0}));
    let (r, _) = check_bytes_with(cand.as_bytes(), Some(&dir));
    assert_eq!(r.code, Some(1), "{r:?}");
}

#[test]
fn check_names_a_damaged_fixture_file_and_where() {
    let dir = temp("damaged");
    let text = std::fs::read_to_string(bundled("ipo_test.json")).unwrap();
    let cand = json!({"ipo_test.json": {"1": {"loss": 0}}}).to_string();
    for (damaged, needle) in [
        (text[..text.len() / 3].to_string(), "truncated"),
        (
            text.replacen("\"algorithm\":", "\"algorithm\":\"x\",\"algorithm\":", 1),
            "duplicate key \"algorithm\"",
        ),
        (
            text.replacen("\"schemaVersion\": \"1.0\"", "\"schemaVersion\": \"9\"", 1),
            "version \"9\" is not supported",
        ),
        (
            text.replacen("\"loss\":", "\"loss\": NaN, \"x\":", 1),
            "not valid JSON",
        ),
        (String::new(), "truncated"),
    ] {
        std::fs::write(dir.join("ipo_test.json"), &damaged).unwrap();
        let (r, _) = check_bytes_with(cand.as_bytes(), Some(&dir));
        assert_eq!(r.code, Some(2), "{needle}: {r:?}");
        let file = dir.join("ipo_test.json").display().to_string();
        assert!(
            r.stderr.starts_with(&format!("error: {file}")),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    // A fixtures folder that does not exist: the candidate's key names a file not there.
    let missing = dir.join("no-such-folder");
    let (r, cand_path) = check_bytes_with(cand.as_bytes(), Some(&missing));
    assert_eq!(r.code, Some(2));
    assert!(r
        .stderr
        .starts_with(&format!("error: {}:1:2: ", cand_path.display())));
    assert!(r.stderr.contains("no-such-folder"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Standard output closed or full: a message and exit 2, never a panic.

fn full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

#[test]
fn a_full_or_unwritable_stdout_is_an_error_not_a_panic() {
    if !Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here: the full-disk cases are not run");
        return;
    }
    let dir = temp("stdout");
    let cand = dir.join("c.json");
    std::fs::write(
        &cand,
        json!({"ipo_test.json": {"1": ipo_expected_1()}}).to_string(),
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases: Vec<(Vec<&OsStr>, &str)> = vec![
        (vec![OsStr::new("check"), cand.as_os_str()], "check"),
        (
            vec![
                OsStr::new("fixtures"),
                OsStr::new("--check"),
                OsStr::new("fixtures"),
            ],
            "fixtures --check",
        ),
    ];
    for (args, what) in &cases {
        let r = run_in(root, args, Some(full()));
        assert_eq!(r.code, Some(2), "{what} with a full stdout: {r:?}");
        assert!(
            r.stderr
                .starts_with("error: cannot write to standard output: No space left on device"),
            "{what}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    // A pipe whose reader has gone: the write fails (SIGPIPE is ignored), a message, exit 2.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpo-oracle"))
        .args([OsStr::new("check"), cand.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: cannot write to standard output: Broken pipe"),
        "{err}"
    );
    // Help and version too.
    for flag in ["--help", "--version"] {
        let r = run_in(root, &[OsStr::new(flag)], Some(full()));
        assert_eq!(r.code, Some(2), "{flag}: {r:?}");
        assert!(
            r.stderr
                .starts_with("error: cannot write to standard output"),
            "{flag}: {r:?}"
        );
        let r = run_in(root, &[OsStr::new(flag)], None);
        assert_eq!(r.code, Some(0), "{flag}: {r:?}");
        assert!(r.stdout.contains("dpo-oracle"), "{flag}: {}", r.stdout);
    }
    // A usage error goes to standard error, exit 2, whatever standard output is.
    let r = run_in(root, &[OsStr::new("check")], Some(full()));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("<CANDIDATE>"), "{}", r.stderr);
    // A failing verdict with a full stdout is still exit 2 (the verdict could not be told).
    std::fs::write(&cand, "{}").unwrap();
    let r = run_in(root, &[OsStr::new("check"), cand.as_os_str()], Some(full()));
    assert_eq!(r.code, Some(2), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// `fixtures DIR`: nothing of the user's is ever replaced or removed.

fn fixtures_into(dir: &Path) -> Ran {
    run(&[OsStr::new("fixtures"), dir.as_os_str()])
}

/// Every entry of `dir` (recursively, links not followed) with its bytes (or link target).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((p, t.into_os_string().into_encoded_bytes()));
            } else if m.is_dir() {
                out.push((p.clone(), b"<dir>".to_vec()));
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `fixtures DIR` is refused with exit 2 and `needle`, and `dir` is exactly as it was.
fn assert_refused(dir: &Path, needle: &str) {
    let before = snapshot(dir);
    let r = fixtures_into(dir);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains(needle),
        "wanted {needle:?} in {}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing was written"), "{}", r.stderr);
    assert_eq!(snapshot(dir), before, "the folder changed");
}

#[test]
fn fixtures_refuses_a_binary_or_utf16_file_of_a_fixtures_name() {
    let dir = temp("binary");
    std::fs::write(dir.join("ipo_test.json"), b"\x00\x01\x02\xff\xfe binary").unwrap();
    assert_refused(
        &dir,
        &format!(
            "{} exists and was not written by dpo-oracle",
            dir.join("ipo_test.json").display()
        ),
    );
    let dir = temp("utf16");
    let utf16: Vec<u8> = "\u{feff}{\"generator\": {\"name\": \"dpo-oracle\"}}"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::create_dir(dir.join("schema")).unwrap();
    std::fs::write(dir.join("schema/cdpo_test.schema.json"), utf16).unwrap();
    assert_refused(
        &dir,
        "cdpo_test.schema.json exists and was not written by dpo-oracle",
    );
}

#[test]
fn fixtures_refuses_links_folders_and_empty_files_at_a_fixtures_name() {
    let outside = temp("outside");
    std::fs::write(outside.join("precious.txt"), "the user's").unwrap();
    // A link to a file outside, a dangling link, a folder, an empty file.
    let dir = temp("link");
    std::os::unix::fs::symlink(outside.join("precious.txt"), dir.join("ipo_test.json")).unwrap();
    assert_refused(&dir, "ipo_test.json is a symbolic link");
    let dir = temp("dangling");
    std::os::unix::fs::symlink(outside.join("nothing"), dir.join("hinge_test.json")).unwrap();
    assert_refused(&dir, "hinge_test.json is a symbolic link");
    let dir = temp("folder");
    std::fs::create_dir_all(dir.join("cdpo_test.json/inside")).unwrap();
    assert_refused(&dir, "cdpo_test.json is a folder or special file");
    let dir = temp("empty");
    std::fs::write(dir.join("aot_test.json"), "").unwrap();
    assert_refused(
        &dir,
        "aot_test.json exists and was not written by dpo-oracle",
    );
    // schema/ as a file, and as a link to a folder outside (nothing may be written there).
    let dir = temp("schema-file");
    std::fs::write(dir.join("schema"), "mine").unwrap();
    assert_refused(&dir, "schema exists and is not a folder");
    let dir = temp("schema-link");
    std::os::unix::fs::symlink(&outside, dir.join("schema")).unwrap();
    assert_refused(&dir, "schema is a symbolic link");
    assert_eq!(snapshot(&outside).len(), 1, "nothing written outside");
    // DIR itself a file.
    let file = outside.join("precious.txt");
    let r = fixtures_into(&file);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("exists and is not a folder"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "the user's");
}

#[test]
fn fixtures_never_writes_through_or_removes_a_file_of_the_old_temporary_name() {
    let outside = temp("tmp-target");
    std::fs::write(outside.join("victim.txt"), "do not touch").unwrap();
    let dir = temp("tmp-names");
    std::os::unix::fs::symlink(outside.join("victim.txt"), dir.join("ipo_test.json.tmp")).unwrap();
    std::fs::write(dir.join("cdpo_test.json.tmp"), "a user's file").unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let r = fixtures_into(&dir);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "{} files created, 0 replaced, 0 unchanged",
            n_files()
        )),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("victim.txt")).unwrap(),
        "do not touch"
    );
    assert_eq!(
        std::fs::read_link(dir.join("ipo_test.json.tmp")).unwrap(),
        outside.join("victim.txt")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("cdpo_test.json.tmp")).unwrap(),
        "a user's file"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    // The fixtures equal the bundled ones, and no temporary file is left.
    for name in [
        "ipo_test.json",
        "cdpo_test.json",
        "schema/ipo_test.schema.json",
    ] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            std::fs::read(bundled(name)).unwrap(),
            "{name}"
        );
    }
    let stray: Vec<_> = snapshot(&dir)
        .into_iter()
        .filter(|(p, _)| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    // A second run replaces nothing; an edited file of ours is replaced, the rest unchanged.
    let r = fixtures_into(&dir);
    assert!(
        r.stdout.contains(&format!(
            "0 files created, 0 replaced, {} unchanged",
            n_files()
        )),
        "{}",
        r.stdout
    );
    let ours = dir.join("ipo_test.json");
    let edited = std::fs::read_to_string(&ours).unwrap().replacen(
        "\"comment\": \"",
        "\"comment\": \"edited: ",
        1,
    );
    std::fs::write(&ours, edited).unwrap();
    let r = fixtures_into(&dir);
    assert!(
        r.stdout.contains(&format!(
            "0 files created, 1 replaced, {} unchanged",
            n_files() - 1
        )),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        std::fs::read(bundled("ipo_test.json")).unwrap()
    );
}

#[test]
fn two_fixtures_runs_into_one_folder_at_once_both_succeed() {
    let dir = temp("concurrent");
    for round in 0..2 {
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_dpo-oracle"))
                .arg("fixtures")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let r = run(&[
            OsStr::new("fixtures"),
            OsStr::new("--check"),
            dir.as_os_str(),
        ]);
        assert_eq!(r.code, Some(0), "round {round}: {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// `fixtures --check DIR` (the main job's comparison): writes nothing, names every difference.

/// A copy of the bundled fixtures folder.
fn copy_of_fixtures() -> PathBuf {
    let dir = temp("copy");
    std::fs::create_dir(dir.join("schema")).unwrap();
    for sub in ["", "schema"] {
        for e in std::fs::read_dir(bundled(sub)).unwrap().flatten() {
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    dir
}

fn check_folder(dir: &Path) -> Ran {
    let before = snapshot(dir);
    let r = run(&[
        OsStr::new("fixtures"),
        OsStr::new("--check"),
        dir.as_os_str(),
    ]);
    assert_eq!(snapshot(dir), before, "--check wrote something");
    r
}

#[test]
fn fixtures_check_lists_exactly_the_files_that_differ_and_writes_nothing() {
    let dir = copy_of_fixtures();
    let r = check_folder(&dir);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "all {} files byte-identical to a regeneration",
            n_files()
        )),
        "{}",
        r.stdout
    );
    // An uncommitted edit, a schema edit, a deleted file and a stale family.
    let edit = |name: &str| {
        let p = dir.join(name);
        let t = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, t.replacen('1', "2", 1)).unwrap();
    };
    edit("ipo_test.json");
    edit("schema/hinge_test.schema.json");
    std::fs::remove_file(dir.join("cdpo_test.json")).unwrap();
    std::fs::write(dir.join("old_test.json"), "{}").unwrap();
    std::fs::write(dir.join("README.txt"), "a user's note").unwrap();
    let r = check_folder(&dir);
    assert_eq!(r.code, Some(1), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(
        lines,
        [
            "  differs: ipo_test.json",
            "  differs: schema/hinge_test.schema.json",
            "  missing: cdpo_test.json",
            "  not generated by this version: old_test.json",
        ],
        "{}",
        r.stdout
    );
    let n = n_files();
    assert!(r.stdout.contains(&format!(
        "({} of {n} files identical); nothing was written",
        n - 3
    )));
    assert!(r.stdout.contains(&format!(
        "to regenerate it deliberately: dpo-oracle fixtures {}",
        dir.display()
    )));
    // A folder that does not exist is said to be missing.
    let missing = dir.join("nothing-here");
    let r = run(&[
        OsStr::new("fixtures"),
        OsStr::new("--check"),
        missing.as_os_str(),
    ]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains(&format!("{}: no such folder", missing.display())),
        "{}",
        r.stderr
    );
    assert!(!missing.exists());
}

// ---------------------------------------------------------------------------------------------
// The main job: checks the claims and compares the crate's own fixtures/, writing nothing.

#[test]
fn the_main_job_compares_fixtures_and_writes_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let before = snapshot(&root.join("fixtures"));
    let r = run_in(root, &[], None);
    assert_eq!(
        snapshot(&root.join("fixtures")),
        before,
        "the main job wrote into fixtures/"
    );
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "fixtures/: all {} files byte-identical to a regeneration",
            n_files()
        )),
        "{}",
        r.stdout
    );
}
