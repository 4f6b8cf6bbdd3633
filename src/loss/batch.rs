//! The input of a batched loss: summed log-probabilities of each pair's responses under the
//! policy and the reference ([`PairLogps`]), optionally with token counts ([`TokenCounts`]).

use super::LossError;

/// Per-response token counts (scored tokens), for token-averaged log-ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenCounts<'a> {
    /// Scored tokens of each chosen response.
    pub chosen: &'a [usize],
    /// Scored tokens of each rejected response.
    pub rejected: &'a [usize],
}

/// A batch of pairs: summed log-probabilities of each response under the policy and the
/// reference, and optionally the scored-token counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairLogps<'a> {
    /// $\log\pi_\theta(y_w|x)$ per pair.
    pub policy_chosen: &'a [f64],
    /// $\log\pi_\theta(y_l|x)$ per pair.
    pub policy_rejected: &'a [f64],
    /// $\log\pi_{\text{ref}}(y_w|x)$ per pair.
    pub reference_chosen: &'a [f64],
    /// $\log\pi_{\text{ref}}(y_l|x)$ per pair.
    pub reference_rejected: &'a [f64],
    /// Scored-token counts, if given.
    pub token_counts: Option<TokenCounts<'a>>,
}

impl<'a> PairLogps<'a> {
    /// The four arrays of a batch (same length, one entry per pair).
    pub fn new(
        policy_chosen: &'a [f64],
        policy_rejected: &'a [f64],
        reference_chosen: &'a [f64],
        reference_rejected: &'a [f64],
    ) -> PairLogps<'a> {
        PairLogps {
            policy_chosen,
            policy_rejected,
            reference_chosen,
            reference_rejected,
            token_counts: None,
        }
    }

    /// Adds the scored-token counts of each chosen and rejected response.
    pub fn with_token_counts(self, chosen: &'a [usize], rejected: &'a [usize]) -> PairLogps<'a> {
        PairLogps {
            token_counts: Some(TokenCounts { chosen, rejected }),
            ..self
        }
    }

    /// The number of pairs (the length of `policy_chosen`).
    pub fn len(&self) -> usize {
        self.policy_chosen.len()
    }

    /// Whether the batch has no pairs.
    pub fn is_empty(&self) -> bool {
        self.policy_chosen.is_empty()
    }

    /// The four arrays with their names, in the order of [`PairLogps::new`].
    pub fn fields(&self) -> [(&'static str, &'a [f64]); 4] {
        [
            ("policy_chosen", self.policy_chosen),
            ("policy_rejected", self.policy_rejected),
            ("reference_chosen", self.reference_chosen),
            ("reference_rejected", self.reference_rejected),
        ]
    }

    /// Checks the lengths (the four arrays and the token counts agree), that the batch is not
    /// empty, and (unless `propagate`) that every log-probability is finite.
    pub fn check(&self, propagate: bool) -> Result<(), LossError> {
        let expected = self.len();
        let mut lengths: Vec<(&'static str, usize)> =
            self.fields().iter().map(|(n, a)| (*n, a.len())).collect();
        if let Some(tc) = self.token_counts {
            lengths.push(("token_counts.chosen", tc.chosen.len()));
            lengths.push(("token_counts.rejected", tc.rejected.len()));
        }
        if let Some(&(field, len)) = lengths.iter().find(|(_, len)| *len != expected) {
            return Err(LossError::LengthMismatch {
                field,
                len,
                expected,
            });
        }
        if expected == 0 {
            return Err(LossError::EmptyBatch);
        }
        if !propagate {
            first_non_finite(&self.fields())?;
        }
        Ok(())
    }
}

/// [`LossError::NonFinite`] for the first NaN or infinite entry, scanning pair by pair (all
/// arrays of pair 0, then of pair 1, …); the arrays have equal lengths.
pub(crate) fn first_non_finite(fields: &[(&'static str, &[f64])]) -> Result<(), LossError> {
    let n = fields.first().map_or(0, |(_, a)| a.len());
    for pair in 0..n {
        for &(field, values) in fields {
            if !values[pair].is_finite() {
                return Err(LossError::NonFinite { pair, field });
            }
        }
    }
    Ok(())
}
