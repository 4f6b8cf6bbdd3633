//! The kernels' PTX, generated from `kernels/*.cu` by `scripts/gen-ptx.sh` and committed.

/// Batched pair losses and the two-stage batch mean.
pub(crate) const LOSSES: &str = include_str!("kernels/losses.ptx");
/// Fused sequence log-probabilities, forward and backward.
pub(crate) const LOGPS: &str = include_str!("kernels/logps.ptx");
/// Device-side pseudo-random fills for benchmark inputs.
pub(crate) const RANDOM: &str = include_str!("kernels/random.ptx");
/// A kernel that keeps the device busy for a given time (for timing with events).
pub(crate) const TIMING: &str = include_str!("kernels/timing.ptx");
