//! Batched pair losses on the GPU (kernels in `kernels/losses.cu`).
//!
//! With the log-ratios $\ell_w = \log\pi_\theta(y_w) - \log\pi_{ref}(y_w)$,
//! $\ell_l = \log\pi_\theta(y_l) - \log\pi_{ref}(y_l)$, $h = \ell_w - \ell_l$ and $z = \beta h$, per pair:
//! the loss $\ell$ of a [`LossSpec`] (sigmoid, cDPO, robust, IPO, hinge: [`SUPPORTED`]), the rewards
//! $\beta(\log\pi_\theta(y_w) - \log\pi_{ref}(y_w))$ and $\beta(\log\pi_\theta(y_l) - \log\pi_{ref}(y_l))$,
//! and $\partial \bar\ell / \partial$ each of the four inputs, $\bar\ell = \frac1n\sum_i \ell_i$.
//! The batch mean is summed in f64 in two stages of fixed order (per-block partials, then one
//! block). The grid is as many blocks as the device holds at once (one wave, no partial second
//! wave), so the order depends on the batch size and the device: the same bits on every run on
//! one device.

use super::{arg, download, poison, CudaError, Gpu, Result};
use crate::loss::{LossOutput, LossSpec, LossType, PairLogps};
use cust::memory::{bytemuck::Pod, DeviceBuffer, DeviceCopy, DevicePointer};

/// Checks a loss for the kernels: valid parameters ([`CudaError::Loss`]) and a loss they
/// implement ([`CudaError::UnsupportedLoss`]); returns the kernel's code for it. Sigmoid with
/// ε > 0 is cDPO (as in [`crate::loss::compute`]); the kernels compute every loss the authors'
/// way (summed log-probabilities). Needs no device.
pub fn check_loss(spec: &LossSpec) -> Result<i32> {
    spec.validate().map_err(CudaError::Loss)?;
    match spec.loss_type() {
        LossType::Sigmoid | LossType::Cdpo => Ok(1),
        LossType::Robust => Ok(2),
        LossType::Ipo => Ok(3),
        LossType::Hinge => Ok(4),
        other => Err(CudaError::UnsupportedLoss { loss: other }),
    }
}

/// The loss types the kernels implement.
pub const SUPPORTED: [LossType; 5] = [
    LossType::Sigmoid,
    LossType::Cdpo,
    LossType::Robust,
    LossType::Ipo,
    LossType::Hinge,
];

/// Floating-point types the pair-loss kernels take: f32 and f64.
pub trait PairFloat: DeviceCopy + Pod + Default + Copy + Into<f64> {
    /// Kernel of this precision.
    const KERNEL: &'static str;
    /// Device fill kernel of this precision.
    const FILL: &'static str;
}
impl PairFloat for f32 {
    const KERNEL: &'static str = "pair_losses_f32";
    const FILL: &'static str = "fill_uniform_f32";
}
impl PairFloat for f64 {
    const KERNEL: &'static str = "pair_losses_f64";
    const FILL: &'static str = "fill_uniform_f64";
}

/// Which outputs a launch writes (the batch mean is always computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairOutputs {
    /// Per-pair losses.
    pub losses: bool,
    /// Chosen and rejected rewards.
    pub rewards: bool,
    /// Gradient of the mean with respect to the four inputs.
    pub gradients: bool,
}

impl PairOutputs {
    /// Every output.
    pub const ALL: PairOutputs = PairOutputs {
        losses: true,
        rewards: true,
        gradients: true,
    };
}

/// Checks the lengths of the four arrays (policy chosen, policy rejected, reference chosen,
/// reference rejected): equal and not zero. Returns the batch size. Needs no device.
pub fn check_lengths(lengths: &[usize; 4]) -> Result<usize> {
    let n = lengths[0];
    let names = ["policy_rejected", "reference_chosen", "reference_rejected"];
    for (what, &got) in names.into_iter().zip(&lengths[1..]) {
        if got != n {
            return Err(CudaError::LengthMismatch {
                what,
                expected: n,
                got,
            });
        }
    }
    if n == 0 {
        return Err(CudaError::EmptyBatch);
    }
    Ok(n)
}

/// Largest number of blocks of the first stage (the grid is at most what the device holds at
/// once, and this bounds the partial sums' buffer).
const MAX_BLOCKS: usize = 4096;
const BLOCK: usize = 256;

/// A batch of pairs resident on the device, with room for every output.
pub struct PairBatch<'g, T: PairFloat> {
    gpu: &'g Gpu,
    n: usize,
    /// Policy chosen, policy rejected, reference chosen, reference rejected.
    inputs: [DeviceBuffer<T>; 4],
    losses: DeviceBuffer<T>,
    rewards: [DeviceBuffer<T>; 2],
    grads: [DeviceBuffer<T>; 4],
    partials: DeviceBuffer<f64>,
    mean: DeviceBuffer<f64>,
    /// Blocks of the first stage that the device runs at once.
    resident: usize,
}

impl<'g, T: PairFloat> PairBatch<'g, T> {
    /// Device bytes a batch of `n` pairs occupies.
    pub fn device_bytes(n: usize) -> usize {
        n.saturating_mul(11 * std::mem::size_of::<T>())
            .saturating_add((MAX_BLOCKS + 1) * 8)
    }

    fn allocate(gpu: &'g Gpu, n: usize, inputs: [DeviceBuffer<T>; 4]) -> Result<Self> {
        Ok(PairBatch {
            gpu,
            n,
            inputs,
            losses: gpu.buffer(n)?,
            rewards: [gpu.buffer(n)?, gpu.buffer(n)?],
            grads: [
                gpu.buffer(n)?,
                gpu.buffer(n)?,
                gpu.buffer(n)?,
                gpu.buffer(n)?,
            ],
            partials: gpu.buffer(MAX_BLOCKS)?,
            mean: gpu.buffer(1)?,
            resident: gpu.resident_blocks(&gpu.losses, T::KERNEL, BLOCK as u32)?,
        })
    }

    /// Uploads the four log-probability arrays (all of one length n > 0).
    pub fn upload(
        gpu: &'g Gpu,
        policy_chosen: &[T],
        policy_rejected: &[T],
        reference_chosen: &[T],
        reference_rejected: &[T],
    ) -> Result<Self> {
        let n = check_lengths(&[
            policy_chosen.len(),
            policy_rejected.len(),
            reference_chosen.len(),
            reference_rejected.len(),
        ])?;
        gpu.ensure_free(Self::device_bytes(n))?;
        let inputs = [
            gpu.upload(policy_chosen)?,
            gpu.upload(policy_rejected)?,
            gpu.upload(reference_chosen)?,
            gpu.upload(reference_rejected)?,
        ];
        Self::allocate(gpu, n, inputs)
    }

    /// A batch of `n` pairs whose log-probabilities are drawn on the device, uniform in
    /// `[lo, hi)` (for benchmarks; [`PairBatch::inputs`] downloads them).
    pub fn random(gpu: &'g Gpu, n: usize, seed: u64, lo: f64, hi: f64) -> Result<Self> {
        check_lengths(&[n; 4])?;
        gpu.ensure_free(Self::device_bytes(n))?;
        let mut inputs = [
            gpu.buffer(n)?,
            gpu.buffer(n)?,
            gpu.buffer(n)?,
            gpu.buffer(n)?,
        ];
        for (k, buf) in inputs.iter_mut().enumerate() {
            gpu.fill_uniform(T::FILL, buf, seed.wrapping_add(k as u64), lo, hi)?;
        }
        Self::allocate(gpu, n, inputs)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the batch is empty (never: construction rejects it).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The four inputs, downloaded: policy chosen, policy rejected, reference chosen, reference rejected.
    pub fn inputs(&self) -> Result<[Vec<T>; 4]> {
        self.gpu.synchronize()?;
        Ok([
            download(&self.inputs[0], self.n)?,
            download(&self.inputs[1], self.n)?,
            download(&self.inputs[2], self.n)?,
            download(&self.inputs[3], self.n)?,
        ])
    }

    /// Fills every output with NaN, so that an element a launch fails to write shows.
    pub fn poison_outputs(&mut self) -> Result<()> {
        let PairBatch {
            losses,
            rewards,
            grads,
            partials,
            mean,
            ..
        } = self;
        for b in std::iter::once(losses)
            .chain(rewards.iter_mut())
            .chain(grads.iter_mut())
        {
            poison(b)?;
        }
        poison(partials)?;
        poison(mean)
    }

    /// Launches the kernels (asynchronously) for `spec`, writing the outputs selected (the
    /// others keep their contents). Non-finite inputs propagate (IEEE), as with
    /// [`LossSpec::with_propagate_non_finite`].
    pub fn launch(&mut self, spec: &LossSpec, outputs: PairOutputs) -> Result<()> {
        let kind = check_loss(spec)?;
        let vec = 16 / std::mem::size_of::<T>();
        let resident = self.resident.clamp(1, MAX_BLOCKS);
        let blocks = self.n.div_ceil(vec).div_ceil(BLOCK).clamp(1, resident) as u32;
        let pick = |on: bool, b: &DeviceBuffer<T>| {
            if on {
                b.as_device_ptr()
            } else {
                DevicePointer::null()
            }
        };
        let ptrs = [
            self.inputs[0].as_device_ptr(),
            self.inputs[1].as_device_ptr(),
            self.inputs[2].as_device_ptr(),
            self.inputs[3].as_device_ptr(),
            pick(outputs.losses, &self.losses),
            pick(outputs.rewards, &self.rewards[0]),
            pick(outputs.rewards, &self.rewards[1]),
            pick(outputs.gradients, &self.grads[0]),
            pick(outputs.gradients, &self.grads[1]),
            pick(outputs.gradients, &self.grads[2]),
            pick(outputs.gradients, &self.grads[3]),
        ];
        let n = self.n as u64;
        let (beta, eps) = (spec.beta(), spec.label_smoothing());
        let ref_free = i32::from(spec.reference_free());
        let partials = self.partials.as_device_ptr();
        let mean = self.mean.as_device_ptr();
        let (nblocks, scale) = (blocks, 1.0 / self.n as f64);
        // SAFETY: the argument list matches `pair_losses_*` (4 inputs, n, kind, β, ε,
        // reference-free, 7 outputs,
        // partials); every buffer holds n elements (partials MAX_BLOCKS ≥ grid), outputs not
        // selected are null and skipped by the kernel. `sum_partials` reads the `blocks`
        // partials the first launch wrote and writes one f64.
        unsafe {
            self.gpu.launch(
                &self.gpu.losses,
                T::KERNEL,
                blocks,
                BLOCK as u32,
                &[
                    arg(&ptrs[0]),
                    arg(&ptrs[1]),
                    arg(&ptrs[2]),
                    arg(&ptrs[3]),
                    arg(&n),
                    arg(&kind),
                    arg(&beta),
                    arg(&eps),
                    arg(&ref_free),
                    arg(&ptrs[4]),
                    arg(&ptrs[5]),
                    arg(&ptrs[6]),
                    arg(&ptrs[7]),
                    arg(&ptrs[8]),
                    arg(&ptrs[9]),
                    arg(&ptrs[10]),
                    arg(&partials),
                ],
            )?;
            self.gpu.launch(
                &self.gpu.losses,
                "sum_partials",
                1,
                1024,
                &[arg(&partials), arg(&nblocks), arg(&scale), arg(&mean)],
            )
        }
    }

    /// Waits for the launch and downloads every output.
    pub fn read(&self) -> Result<LossOutput<T>> {
        self.gpu.synchronize()?;
        let n = self.n;
        Ok(LossOutput {
            losses: download(&self.losses, n)?,
            chosen_rewards: download(&self.rewards[0], n)?,
            rejected_rewards: download(&self.rewards[1], n)?,
            loss: download(&self.mean, 1)?[0],
            grad_policy_chosen: download(&self.grads[0], n)?,
            grad_policy_rejected: download(&self.grads[1], n)?,
            grad_reference_chosen: download(&self.grads[2], n)?,
            grad_reference_rejected: download(&self.grads[3], n)?,
        })
    }
}

/// One-shot: uploads, launches for every output, and downloads.
pub fn pair_losses<T: PairFloat>(
    gpu: &Gpu,
    spec: &LossSpec,
    policy_chosen: &[T],
    policy_rejected: &[T],
    reference_chosen: &[T],
    reference_rejected: &[T],
) -> Result<LossOutput<T>> {
    check_loss(spec)?;
    let mut batch = PairBatch::upload(
        gpu,
        policy_chosen,
        policy_rejected,
        reference_chosen,
        reference_rejected,
    )?;
    batch.launch(spec, PairOutputs::ALL)?;
    batch.read()
}

/// [`crate::loss::compute`] on the GPU, in f64: the same [`LossOutput`] for the losses the
/// kernels implement. Non-finite log-probabilities propagate instead of being rejected.
pub fn compute(gpu: &Gpu, spec: &LossSpec, batch: &PairLogps) -> Result<LossOutput> {
    pair_losses(
        gpu,
        spec,
        batch.policy_chosen,
        batch.policy_rejected,
        batch.reference_chosen,
        batch.reference_rejected,
    )
}
