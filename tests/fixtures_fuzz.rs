//! Fuzzing the fixture loader and the checker's candidate parser with proptest: arbitrary bytes
//! and mutations of valid files (byte flips, deletions, insertions, truncations) must give a
//! value or a typed error, never a panic. Case counts are modest to keep CI fast.

use dpo_oracle::fixtures::check::check_text;
use dpo_oracle::fixtures::Fixture;
use proptest::prelude::*;

/// A small valid fixture file (the smallest committed family) to mutate.
fn seed_fixture() -> String {
    std::fs::read_to_string("fixtures/preference_test.json").unwrap()
}

fn seed_candidate() -> String {
    r#"{"preference_test.json": {"1": {"bt_probability": 1.0, "pl_log_probability": [0.5]}, "2": {"error": "x"}, "3": {"pl_probability": "NaN"}}}"#.to_string()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                b"{".to_vec(),
                b"}".to_vec(),
                b"[".to_vec(),
                b"\"".to_vec(),
                b",".to_vec(),
                b"null".to_vec(),
                b"-1e999".to_vec(),
                b"\"NaN\"".to_vec(),
                b"1.5".to_vec(),
                b"\\u0000".to_vec(),
                b"\xff".to_vec(),
            ])
        )
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, ms: &[Mutation]) -> String {
    let mut b = text.as_bytes().to_vec();
    for m in ms {
        let n = b.len().max(1);
        match m {
            Mutation::Flip(i, x) => {
                if !b.is_empty() {
                    b[i % n] = *x;
                }
            }
            Mutation::Delete(i, k) => {
                let s = i % n;
                let e = (s + k).min(b.len());
                b.drain(s.min(b.len())..e);
            }
            Mutation::Insert(i, s) => {
                let at = i % (b.len() + 1);
                b.splice(at..at, s.iter().copied());
            }
            Mutation::Truncate(i) => b.truncate(i % n),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn check(text: &str) {
    let _ = check_text("candidate.json", text, |f| {
        Fixture::load(format!("fixtures/{f}"))
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn loader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Fixture::parse("fuzz.json", &text);
    }

    #[test]
    fn loader_never_panics_on_mutated_files(ms in prop::collection::vec(mutation(), 1..6)) {
        let text = apply(&seed_fixture(), &ms);
        if let Err(e) = Fixture::parse("fuzz.json", &text) {
            // Every error names the file.
            prop_assert!(e.to_string().starts_with("fuzz.json"), "{}", e);
        }
    }

    #[test]
    fn checker_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn checker_never_panics_on_mutated_candidates(ms in prop::collection::vec(mutation(), 1..6)) {
        check(&apply(&seed_candidate(), &ms));
    }
}
