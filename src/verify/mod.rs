//! The main job: every claim of the chain checked on built-in problems, one row per claim.
//!
//! Each area of the crate contributes a function returning its [`ClaimCheck`]s; [`run_all`]
//! collects them in the order of the derivation. `cargo run --release` prints the table and
//! exits non-zero if any row fails.

use std::fmt::Write as _;

/// The outcome of checking one claim on the built-in problems.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimCheck {
    /// Stable identifier, as cited in `proofs/` (for example `C-opt-3`).
    pub id: &'static str,
    /// The claim in one line.
    pub statement: &'static str,
    /// The worst error seen over every built-in problem (NaN counts as infinite).
    pub worst_error: f64,
    /// The tolerance the claim is held to.
    pub tolerance: f64,
}

impl ClaimCheck {
    /// A row from the errors observed (their maximum is kept; any NaN makes it infinite).
    pub fn new(
        id: &'static str,
        statement: &'static str,
        errors: impl IntoIterator<Item = f64>,
        tolerance: f64,
    ) -> Self {
        let worst_error =
            errors.into_iter().fold(
                0.0_f64,
                |w, e| {
                    if e.is_nan() {
                        f64::INFINITY
                    } else {
                        w.max(e)
                    }
                },
            );
        Self {
            id,
            statement,
            worst_error,
            tolerance,
        }
    }

    /// Whether the worst error is within the tolerance.
    pub fn passed(&self) -> bool {
        self.worst_error <= self.tolerance
    }
}

/// Every claim, in the order of the derivation.
pub fn run_all() -> Vec<ClaimCheck> {
    let mut rows = Vec::new();
    rows.extend(engine::checks());
    rows.extend(chain::checks());
    rows.extend(losses::checks());
    rows.extend(fixtures::checks());
    rows.extend(frontier::checks());
    rows
}

/// The table printed by the main job.
pub fn render_table(rows: &[ClaimCheck]) -> String {
    let id_w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    let st_w = rows
        .iter()
        .map(|r| r.statement.chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<id_w$}  {:<st_w$}  {:>11}  {:>11}  result",
        "id", "statement", "worst error", "tolerance"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<id_w$}  {:<st_w$}  {:>11.3e}  {:>11.3e}  {}",
            r.id,
            r.statement,
            r.worst_error,
            r.tolerance,
            if r.passed() { "pass" } else { "FAIL" }
        );
    }
    let failed = rows.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(out, "{} passed, {} failed", rows.len() - failed, failed);
    out
}

pub mod chain;
pub mod engine;
pub mod fixtures;
pub mod frontier;
pub mod losses;
