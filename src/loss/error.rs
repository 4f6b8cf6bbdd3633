//! Errors of the loss specification, the batch of log-probabilities and the conventions.

use std::fmt;

/// Why a loss could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum LossError {
    /// A parameter of the loss specification is outside its allowed range.
    InvalidParameter {
        /// The parameter (`beta`, `label_smoothing`, `tau`, `bco_delta`).
        name: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// One of the per-pair arrays has a different length from the batch (the length of
    /// `policy_chosen`, or of the batch a [`PreparedLoss`](super::PreparedLoss) was prepared
    /// for).
    LengthMismatch {
        /// The array whose length is wrong.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The number of pairs.
        expected: usize,
    },
    /// A quantity computed from finite inputs whose exact value lies beyond the range of `f64`
    /// (for example a loss $-\log\sigma(\beta h) \approx -\beta h > 1.8\times10^{308}$, or a
    /// reward $\beta(\log\pi_\theta - \log\pi_{\text{ref}})$ that large): never returned as
    /// $\pm\infty$ or NaN.
    Overflow {
        /// The quantity (`loss`, `chosen_rewards`, `grad_policy_chosen`, ...).
        quantity: &'static str,
        /// The index of the pair (or rank, for aot), or of the response for Plackett-Luce.
        pair: usize,
    },
    /// A batch of zero pairs (its mean is undefined).
    EmptyBatch,
    /// A NaN or infinite log-probability (unless the specification propagates them).
    NonFinite {
        /// The index of the pair.
        pair: usize,
        /// The array it is in (the value itself is `batch.field[pair]`).
        field: &'static str,
    },
    /// The loss needs per-response token counts and the batch has none.
    MissingTokenCounts {
        /// What needs them.
        needed_by: &'static str,
    },
    /// A token-averaged log-ratio over a response of zero scored tokens (0/0).
    ZeroTokenCount {
        /// The index of the pair.
        pair: usize,
        /// `chosen` or `rejected`.
        field: &'static str,
    },
    /// A parameter the convention needs and the specification does not give.
    MissingParameter {
        /// The parameter.
        name: &'static str,
        /// The convention (or loss) that needs it.
        needed_by: &'static str,
    },
    /// The convention does not implement what was asked (never silently replaced).
    Unsupported {
        /// The convention's name.
        convention: &'static str,
        /// What it lacks.
        what: String,
    },
    /// A Plackett–Luce ranking that is not a permutation of the responses, or a shape error
    /// among the rankings and the log-probabilities.
    Ranking(crate::preference::PreferenceError),
}

impl fmt::Display for LossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter {
                name,
                value,
                allowed,
            } => write!(f, "invalid {name} = {value}: allowed {allowed}"),
            Self::LengthMismatch {
                field,
                len,
                expected,
            } => write!(
                f,
                "{field} has {len} entries but the batch has {expected} pairs"
            ),
            Self::Overflow { quantity, pair } => write!(
                f,
                "{quantity} at index {pair} overflows f64 (its magnitude exceeds 1.8e308) \
                 although every input is finite"
            ),
            Self::EmptyBatch => write!(f, "empty batch: the mean over zero pairs is undefined"),
            Self::NonFinite { pair, field } => write!(
                f,
                "non-finite log-probability (NaN or infinite) in {field} at pair {pair} \
                 (opt in with with_propagate_non_finite(true) to propagate it)"
            ),
            Self::MissingTokenCounts { needed_by } => write!(
                f,
                "{needed_by} needs per-response token counts (PairLogps::with_token_counts)"
            ),
            Self::ZeroTokenCount { pair, field } => write!(
                f,
                "the {field} response of pair {pair} has zero scored tokens: its token mean is 0/0"
            ),
            Self::MissingParameter { name, needed_by } => {
                write!(f, "{needed_by} needs the parameter {name}")
            }
            Self::Unsupported { convention, what } => {
                write!(f, "convention {convention} does not implement {what}")
            }
            Self::Ranking(e) => write!(f, "Plackett–Luce ranking: {e}"),
        }
    }
}

impl std::error::Error for LossError {}

impl From<crate::preference::PreferenceError> for LossError {
    fn from(e: crate::preference::PreferenceError) -> Self {
        Self::Ranking(e)
    }
}
