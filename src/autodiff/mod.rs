//! A small reverse-mode automatic differentiation engine over `f64` scalars.
//!
//! - `tape`: the Wengert list, its `Copy` variable [`Var`] and the one-sweep backward pass.
//! - [`elementary`]: every elementary function as *(value, derivative)*, written once.
//! - Reductions (`sum`, max-shifted `logsumexp`) are single n-ary nodes; see
//!   [`crate::scalar::Real`], the trait through which formulas are written once and evaluated
//!   with `f64`, this tape, or forward-mode duals.
//!
//! What it deliberately does **not** do: higher-order derivatives (no tape of the backward
//! pass), vector- or matrix-valued nodes (arrays are arrays of scalar nodes; fine for tabular
//! and toy sequence policies, not for real models), checkpointing or freeing parts of a tape,
//! in-place mutation, control flow capture (a tape records one evaluation; branches are taken on
//! values), complex numbers, and thread sharing (a tape is `!Sync`). Non-finite inputs are not
//! rejected: they propagate through values and gradients like IEEE arithmetic, and a zero
//! adjoint never multiplies an infinite partial.

pub mod elementary;
mod error;
mod tape;

pub use error::AutodiffError;
pub use tape::{with_tape, Gradients, Tape, Var};
