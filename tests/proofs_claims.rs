//! The claims of `proofs/` and the checks that cite them stay in step.
//!
//! A claim is defined as `**[ID]**` in `proofs/*.md` (IDs of the derivation chain start with
//! `C-`). A test cites it with a comment `// claim: ID` in `tests/*.rs`; the self-verification
//! table has a row with that ID in `src/verify/` (any file below it). This test fails if a claim has no citing
//! test or no table row, if a citation or row names an unknown claim, if a claim is defined
//! twice, or if a test named in `proofs/` (`tests/FILE.rs::function`) is missing or does not
//! cite the claim.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// `C-` then lowercase letters/digits, a hyphen and digits (for example `C-opt-3`).
fn is_chain_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("C-") else {
        return false;
    };
    let Some((area, number)) = rest.rsplit_once('-') else {
        return false;
    };
    !area.is_empty()
        && area
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

/// The longest run of ID characters starting at the beginning of `s`.
fn leading_token(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The files of extension `ext` directly under `dir`, by name, with their text.
fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        "",
        ext,
        false,
        &mut out,
    );
    out.sort();
    out
}

/// The files of extension `ext` anywhere under `dir`, by path relative to it, with their text.
fn files_recursive(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        "",
        ext,
        true,
        &mut out,
    );
    out.sort();
    out
}

fn collect(root: &Path, prefix: &str, ext: &str, recurse: bool, out: &mut Vec<(String, String)>) {
    for path in fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
    {
        let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() && recurse {
            collect(&path, &format!("{name}/"), ext, recurse, out);
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push((name, fs::read_to_string(&path).unwrap()));
        }
    }
}

/// Claim ID → (proofs file, text of its paragraph).
fn claims() -> (BTreeMap<String, (String, String)>, Vec<String>) {
    let mut defined = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, text) in files("proofs", "md") {
        for (i, _) in text.match_indices("**[") {
            let id = leading_token(&text[i + 3..]);
            if !is_chain_id(id) || !text[i + 3 + id.len()..].starts_with("]**") {
                continue;
            }
            let paragraph = text[i..].split("\n\n").next().unwrap_or("").to_string();
            if defined
                .insert(id.to_string(), (name.clone(), paragraph))
                .is_some()
            {
                problems.push(format!("{id} is defined twice"));
            }
        }
    }
    (defined, problems)
}

/// IDs following `claim:` in a test file.
fn test_citations(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, _) in text.match_indices("claim:") {
        let rest = text[i + "claim:".len()..].lines().next().unwrap_or("");
        for word in rest.split(|c: char| c == ',' || c.is_whitespace()) {
            if is_chain_id(word) {
                ids.push(word.to_string());
            }
        }
    }
    ids
}

/// IDs of string literals `"C-…"` in a verification source file.
fn row_ids(text: &str) -> Vec<String> {
    text.match_indices("\"C-")
        .map(|(i, _)| leading_token(&text[i + 1..]).to_string())
        .filter(|id| is_chain_id(id) && text.contains(&format!("\"{id}\"")))
        .collect()
}

#[test]
fn every_claim_is_tested_and_every_citation_is_known() {
    let (defined, mut problems) = claims();
    assert!(!defined.is_empty(), "no claims found under proofs/");
    let this_file = Path::new(file!()).file_name().unwrap().to_string_lossy();
    let tests: Vec<(String, String)> = files("tests", "rs")
        .into_iter()
        .filter(|(name, _)| *name != this_file)
        .collect();
    let mut cited: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in &tests {
        for id in test_citations(text) {
            if !defined.contains_key(&id) {
                problems.push(format!("tests/{name} cites unknown claim {id}"));
            }
            cited.entry(id).or_default().insert(name.clone());
        }
    }
    let mut rows = BTreeSet::new();
    for (name, text) in files_recursive("src/verify", "rs") {
        for id in row_ids(&text) {
            if !defined.contains_key(&id) {
                problems.push(format!(
                    "src/verify/{name} has a row for unknown claim {id}"
                ));
            }
            rows.insert(id);
        }
    }
    for (id, (file, paragraph)) in &defined {
        if !cited.contains_key(id) {
            problems.push(format!("{id} (proofs/{file}) has no test citing it"));
        }
        if !rows.contains(id) {
            problems.push(format!("{id} (proofs/{file}) has no self-verification row"));
        }
        // Every test the claim names exists and cites the claim.
        let mut named = 0;
        for (i, _) in paragraph.match_indices("tests/") {
            let reference = &paragraph[i + "tests/".len()..];
            let Some((file_name, rest)) = reference.split_once(".rs::") else {
                continue;
            };
            named += 1;
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let function = &rest[..end];
            let text = tests
                .iter()
                .find(|(n, _)| *n == format!("{file_name}.rs"))
                .map(|(_, t)| t.as_str());
            match text {
                None => problems.push(format!("{id} names missing file tests/{file_name}.rs")),
                Some(t) => {
                    if !t.contains(&format!("fn {function}(")) {
                        problems.push(format!(
                            "{id} names missing test {file_name}.rs::{function}"
                        ));
                    }
                    if !test_citations(t).contains(id) {
                        problems.push(format!(
                            "{id} names tests/{file_name}.rs, which does not cite it"
                        ));
                    }
                }
            }
        }
        if named == 0 {
            problems.push(format!("{id} (proofs/{file}) names no test"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn id_pattern() {
    assert!(is_chain_id("C-opt-3"));
    assert!(is_chain_id("C-thm1-12"));
    assert!(!is_chain_id("C-area-n"));
    assert!(!is_chain_id("E-exp-1"));
    assert!(!is_chain_id("C--3"));
}
