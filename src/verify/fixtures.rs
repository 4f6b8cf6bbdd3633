//! Self-verification rows for the golden fixtures.

use super::ClaimCheck;
use crate::fixtures::generate::{worst_certification_error, CERT_ULPS};

/// The fixtures' expected values (200-bit, independent formulas) agree with the crate's `f64`
/// code on every case, within [`CERT_ULPS`] units of $u(|c| + S)$.
pub fn checks() -> Vec<ClaimCheck> {
    vec![ClaimCheck::new(
        "F-certified",
        "fixtures: crate f64 = 200-bit certified values on every case (scaled ulps)",
        [worst_certification_error()],
        CERT_ULPS,
    )]
}
