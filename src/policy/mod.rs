//! Parametric policies $\pi_\theta(y|x)$ over a finite response set, small enough that every
//! expectation over responses is an exact sum.
//!
//! Each policy gives $\log\pi_\theta(y|x)$ for every response $y$ of a prompt $x$ as a generic
//! [`Real`], so one formula is evaluated with `f64`, differentiated on the tape and
//! cross-checked with dual numbers; and, as an independent route for the gradient checks, the
//! score $\nabla_\theta \log\pi_\theta(y|x)$ in closed form.
//!
//! - [`tabular`]: $\pi(\cdot|x) = \operatorname{softmax}(\theta_x)$, one parameter row per prompt.
//! - [`sequence`]: a toy autoregressive (bigram) policy over a small vocabulary with an end token
//!   and a length bound; every response is enumerated.
//! - [`loglinear`]: $\pi(y|x) \propto \exp(\theta\cdot\phi(x,y))$ with user features.

pub mod loglinear;
pub mod sequence;
pub mod tabular;

pub use loglinear::LogLinearPolicy;
pub use sequence::SequencePolicy;
pub use tabular::TabularPolicy;

use std::fmt;

use ndarray::Array2;

use crate::scalar::{log_softmax, Real};

/// Why a policy could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyError {
    /// A policy needs at least one prompt and one response (or content token).
    Empty,
    /// The parameter vector has the wrong length.
    ParameterCount {
        /// The length the shape requires.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Two policies that must share a shape do not.
    ShapeMismatch,
    /// The scale of random parameters must be finite and non-negative.
    InvalidScale(f64),
    /// A parameter or feature is NaN or infinite.
    NonFinite {
        /// Its flat index.
        index: usize,
    },
    /// The parameters, the table or the enumerated responses would exceed
    /// [`MAX_ENTRIES`](crate::limits::MAX_ENTRIES) entries (refused before allocating).
    TooLarge {
        /// What would be too large.
        what: &'static str,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "a policy needs at least one prompt and one response"),
            Self::ParameterCount { expected, got } => {
                write!(f, "expected {expected} parameters, got {got}")
            }
            Self::NonFinite { index } => write!(f, "parameter or feature {index} is not finite"),
            Self::ShapeMismatch => write!(f, "the two policies have different shapes"),
            Self::TooLarge { what } => write!(
                f,
                "the {what} would exceed the limit of {} entries",
                crate::limits::MAX_ENTRIES
            ),
            Self::InvalidScale(s) => {
                write!(
                    f,
                    "scale {s} of random parameters must be finite and non-negative"
                )
            }
        }
    }
}

impl std::error::Error for PolicyError {}

/// $\mathcal N(0, s^2)$, or the error naming a bad scale.
pub(crate) fn normal(scale: f64) -> Result<ndarray_rand::rand_distr::Normal<f64>, PolicyError> {
    if !(scale.is_finite() && scale >= 0.0) {
        return Err(PolicyError::InvalidScale(scale));
    }
    ndarray_rand::rand_distr::Normal::new(0.0, scale).map_err(|_| PolicyError::InvalidScale(scale))
}

/// [`PolicyError::Empty`] if a size is zero, [`PolicyError::TooLarge`] if their product exceeds
/// [`MAX_ENTRIES`](crate::limits::MAX_ENTRIES).
pub(crate) fn check_sizes(sizes: &[usize], what: &'static str) -> Result<usize, PolicyError> {
    if sizes.contains(&0) {
        return Err(PolicyError::Empty);
    }
    crate::limits::checked_entries(sizes).ok_or(PolicyError::TooLarge { what })
}

/// Checks that every value is finite.
pub(crate) fn check_finite<'a>(
    values: impl IntoIterator<Item = &'a f64>,
) -> Result<(), PolicyError> {
    match values.into_iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PolicyError::NonFinite { index }),
        None => Ok(()),
    }
}

/// A policy with a flat parameter vector $\theta$.
pub trait Policy {
    /// Number of prompts $X$.
    fn prompts(&self) -> usize;
    /// Number of responses $Y$ of every prompt.
    fn responses(&self) -> usize;
    /// The current parameters $\theta$ (flat).
    fn params(&self) -> &[f64];
    /// $\log\pi_\theta(y|x)$ for $y = 0, \dots, Y-1$, at parameters `theta` (not necessarily
    /// [`Policy::params`]); `theta.len()` must equal `self.params().len()`.
    ///
    /// # Panics
    /// If `x` is not a prompt of the policy or `theta` is shorter than its parameters
    /// ([`crate::dpo::dpo_loss`] checks both and returns an error instead).
    fn log_probs<R: Real>(&self, theta: &[R], x: usize) -> Vec<R>;
    /// The score $\nabla_\theta\log\pi_\theta(y|x)$ at `theta`, in closed form.
    ///
    /// # Panics
    /// As [`Policy::log_probs`], and if `y` is not a response.
    fn score(&self, theta: &[f64], x: usize, y: usize) -> Vec<f64>;

    /// $\log\pi_\theta(y|x)$ at the current parameters, prompts × responses.
    fn log_prob_table(&self) -> Array2<f64> {
        let rows: Vec<Vec<f64>> = (0..self.prompts())
            .map(|x| self.log_probs(self.params(), x))
            .collect();
        table(rows)
    }
}

/// Rows of equal length into a (rows × columns) array.
pub(crate) fn table(rows: Vec<Vec<f64>>) -> Array2<f64> {
    let cols = rows.first().map_or(0, Vec::len);
    let flat: Vec<f64> = rows.into_iter().flatten().collect();
    Array2::from_shape_vec((flat.len() / cols.max(1), cols), flat)
        .expect("rows of equal length form a table")
}

/// $\log\operatorname{softmax}$ of a non-empty slice (the policies never call it on an empty one).
pub(crate) fn log_softmax_nonempty<R: Real>(logits: &[R]) -> Vec<R> {
    log_softmax(logits).expect("a policy has at least one response")
}

/// $\operatorname{softmax}$ in `f64`, the probabilities behind a closed-form score.
pub(crate) fn softmax(logits: &[f64]) -> Vec<f64> {
    log_softmax_nonempty(logits)
        .into_iter()
        .map(f64::exp)
        .collect()
}
