//! Errors of the engine's reductions and array helpers.

use std::fmt;

/// Misuse of a reduction or an array helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutodiffError {
    /// A reduction that needs at least one element (to take its tape from) got none.
    EmptyInput {
        /// The operation that was called.
        op: &'static str,
    },
    /// Two operands whose shapes must agree do not.
    ShapeMismatch {
        /// The operation that was called.
        op: &'static str,
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
    },
    /// An index (a response, a component) outside `0..len`.
    IndexOutOfRange {
        /// The operation that was called.
        op: &'static str,
        /// The index given.
        index: usize,
        /// The number of elements indexed.
        len: usize,
    },
}

impl fmt::Display for AutodiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyInput { op } => write!(f, "{op}: empty input (at least one element needed)"),
            Self::ShapeMismatch { op, left, right } => {
                write!(
                    f,
                    "{op}: shape mismatch, left {left:?} against right {right:?}"
                )
            }
            Self::IndexOutOfRange { op, index, len } => {
                write!(f, "{op}: index {index} out of range 0..{len}")
            }
        }
    }
}

impl std::error::Error for AutodiffError {}
