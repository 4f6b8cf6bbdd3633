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

use ndarray::Array2;

use crate::scalar::{log_softmax, Real};

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
    fn log_probs<R: Real>(&self, theta: &[R], x: usize) -> Vec<R>;
    /// The score $\nabla_\theta\log\pi_\theta(y|x)$ at `theta`, in closed form.
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
