//! Every expected value of the committed fixtures re-certified at twice the working precision:
//! the generator runs again with Ziv's strategy at doubled precisions (400, 800, … bits instead
//! of 200, 400, …), and the files it writes are the committed ones, byte for byte.

use std::path::Path;

use dpo_oracle::fixtures::arith::{recertifying, MAX_CERT_BITS};
use dpo_oracle::fixtures::generate::render_all;

#[test]
fn every_fixture_value_holds_at_twice_the_working_precision() {
    let generated = recertifying(render_all).unwrap_or_else(|e| {
        panic!("re-certification failed (limit 2 × {MAX_CERT_BITS} bits): {e}")
    });
    assert!(generated.len() >= 19);
    for (name, text) in &generated {
        let on_disk = std::fs::read_to_string(Path::new("fixtures").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            on_disk == *text,
            "{name}: a value differs when re-certified at twice the precision"
        );
    }
}

/// The values 200-bit arithmetic got wrong under cancellation, now right: each expected value
/// here is python's mpmath at 400 decimal digits on the file's inputs, rounded to the nearest
/// f64 (an independent route: another library, another precision, the naive formulas).
#[test]
fn values_once_lost_to_cancellation_are_the_nearest_f64() {
    use dpo_oracle::fixtures::{Fields, Fixture, BUNDLED_DIR};
    let value = |file: &str, tc_id: u64, field: &str, i: usize| {
        let f = Fixture::load(format!("{BUNDLED_DIR}/{file}")).unwrap();
        let (_, t) = f.cases().find(|(_, t)| t.tc_id == tc_id).unwrap();
        t.expected.vector(field).unwrap()[i]
    };
    let op = "optimal_policy_test.json";
    // log π_r(y) ≈ 0 for the dominant response: a − log Z cancels.
    assert_eq!(
        value(op, 6, "log_optimal_policy", 0),
        -1.8626742492132735e-51
    );
    assert_eq!(
        value(op, 40, "log_optimal_policy", 3),
        -8.055171463559528e-84
    );
    assert_eq!(
        value(op, 42, "log_optimal_policy", 0),
        -4.677565484528288e-68
    );
    // apo_down at β = 100: 1 − σ(z) with σ(z) = 1 − 5.7e-53.
    assert_eq!(
        value("apo_down_test.json", 51, "losses", 0),
        5.740418240255378e-53
    );
}
