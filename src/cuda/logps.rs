//! Fused sequence log-probabilities on the GPU (kernels in `kernels/logps.cu`).
//!
//! For logits $x \in \mathbb{R}^{B\times T\times V}$ and labels $y \in \mathbb{Z}^{B\times T}$, with the
//! causal shift (position $t$ predicts label $t+1$) the sequence log-probability is
//! $\log p_b = \sum_{t \in S_b} \big(x_{b,t,y_{b,t+1}} - \mathrm{lse}(x_{b,t,:})\big)$ over the scored
//! positions $S_b$ (label ≠ `ignore_index` and mask true), divided by $|S_b|$ under
//! [`Reduction::Mean`]. One block reads each scored row once with an online log-sum-exp; unscored
//! rows are not read. The backward pass writes
//! $\partial(\sum_b g_b \log p_b)/\partial x_{b,t,v} = g_b\\,(\mathrm{softmax}(x_{b,t,:})\_v - [v = y_{b,t+1}])$
//! (divided by $|S_b|$ under the mean) on scored rows and 0 elsewhere, from the row's
//! log-sum-exp saved by the forward pass: it reads the logits once and writes the gradient once.

use super::error::driver;
use super::{arg, download, poison, Bf16, CudaError, Gpu, Result};
use crate::logps::{scored_tokens, EmptyRule, LogpError, LogpOptions, Reduction};
use cust::memory::DeviceBuffer;
use ndarray::ArrayView2;

/// Precision of the kernels' arithmetic and accumulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accumulation {
    /// f32 throughout (exponentials as `exp2f(d·log2 e)`: about 2 ulp, plus about $2.2u|d|$
    /// relative from rounding the argument $d = x - \max$).
    F32,
    /// f64 throughout (logits widened exactly on load).
    F64,
}

/// Storage type of logits on the device (the gradient has the same type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsType {
    /// IEEE single precision.
    F32,
    /// bfloat16.
    Bf16,
}

enum LogitsData {
    F32(DeviceBuffer<f32>),
    Bf16(DeviceBuffer<u16>),
}

/// Logits `[batch, time, vocab]` resident on the device.
pub struct DeviceLogits<'g> {
    data: LogitsData,
    shape: [usize; 3],
    /// The buffer lives in `Gpu`'s context, so it must not outlive it.
    _gpu: std::marker::PhantomData<&'g Gpu>,
}

fn check_shape(shape: [usize; 3]) -> Result<usize> {
    let [b, t, v] = shape;
    if b == 0 || t == 0 {
        return Err(CudaError::EmptyBatch);
    }
    if v == 0 {
        return Err(CudaError::EmptyVocabulary);
    }
    if v > i32::MAX as usize {
        return Err(CudaError::TooLarge {
            what: "vocabulary",
            value: v,
            limit: i32::MAX as usize,
        });
    }
    let rows = b.saturating_mul(t);
    if rows > i32::MAX as usize {
        return Err(CudaError::TooLarge {
            what: "batch × time",
            value: rows,
            limit: i32::MAX as usize,
        });
    }
    Ok(rows.saturating_mul(v))
}

fn elem_bytes(dtype: LogitsType) -> usize {
    match dtype {
        LogitsType::F32 => 4,
        LogitsType::Bf16 => 2,
    }
}

impl<'g> DeviceLogits<'g> {
    /// Checks `len` host values against `shape` and the device memory they need.
    fn check_upload(gpu: &Gpu, shape: [usize; 3], len: usize, dtype: LogitsType) -> Result<()> {
        let n = check_shape(shape)?;
        if len != n {
            return Err(CudaError::LengthMismatch {
                what: "logits",
                expected: n,
                got: len,
            });
        }
        gpu.ensure_free(n.saturating_mul(elem_bytes(dtype)))
    }

    /// Uploads f32 logits of the given shape.
    pub fn from_f32(gpu: &'g Gpu, host: &[f32], shape: [usize; 3]) -> Result<DeviceLogits<'g>> {
        Self::check_upload(gpu, shape, host.len(), LogitsType::F32)?;
        Ok(DeviceLogits {
            data: LogitsData::F32(gpu.upload(host)?),
            shape,
            _gpu: std::marker::PhantomData,
        })
    }

    /// Uploads bf16 logits of the given shape.
    pub fn from_bf16(gpu: &'g Gpu, host: &[Bf16], shape: [usize; 3]) -> Result<DeviceLogits<'g>> {
        Self::check_upload(gpu, shape, host.len(), LogitsType::Bf16)?;
        let bits: Vec<u16> = host.iter().map(|b| b.0).collect();
        Ok(DeviceLogits {
            data: LogitsData::Bf16(gpu.upload(&bits)?),
            shape,
            _gpu: std::marker::PhantomData,
        })
    }

    /// Logits drawn on the device, uniform in `[lo, hi)` (rounded to bf16 for that type).
    pub fn random(
        gpu: &'g Gpu,
        dtype: LogitsType,
        shape: [usize; 3],
        seed: u64,
        lo: f64,
        hi: f64,
    ) -> Result<DeviceLogits<'g>> {
        let n = check_shape(shape)?;
        gpu.ensure_free(n.saturating_mul(elem_bytes(dtype)))?;
        let data = match dtype {
            LogitsType::F32 => {
                let mut buf = gpu.buffer::<f32>(n)?;
                gpu.fill_uniform("fill_uniform_f32", &mut buf, seed, lo, hi)?;
                LogitsData::F32(buf)
            }
            LogitsType::Bf16 => {
                let mut buf = gpu.buffer::<u16>(n)?;
                gpu.fill_uniform("fill_uniform_bf16", &mut buf, seed, lo, hi)?;
                LogitsData::Bf16(buf)
            }
        };
        Ok(DeviceLogits {
            data,
            shape,
            _gpu: std::marker::PhantomData,
        })
    }

    /// `[batch, time, vocab]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Storage type.
    pub fn dtype(&self) -> LogitsType {
        match self.data {
            LogitsData::F32(_) => LogitsType::F32,
            LogitsData::Bf16(_) => LogitsType::Bf16,
        }
    }

    /// Bytes of the logits.
    pub fn bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * elem_bytes(self.dtype())
    }

    /// The logits, downloaded and widened exactly to f64.
    pub fn to_host(&self, gpu: &Gpu) -> Result<Vec<f64>> {
        gpu.synchronize()?;
        let n = self.shape.iter().product();
        Ok(match &self.data {
            LogitsData::F32(b) => download(b, n)?.into_iter().map(f64::from).collect(),
            LogitsData::Bf16(b) => download(b, n)?
                .into_iter()
                .map(|u| f64::from(Bf16(u).to_f32()))
                .collect(),
        })
    }
}

/// Sequence log-probabilities downloaded from the device.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSequenceLogps {
    /// Per sequence: the sum (or mean) of its scored tokens' log-probabilities.
    pub logps: Vec<f64>,
    /// Per sequence: the number of scored tokens.
    pub token_counts: Vec<usize>,
}

/// A prepared log-probability computation: validated targets on the device and every buffer
/// the forward and backward passes write, for logits of one shape and type.
pub struct LogpsPlan<'g> {
    gpu: &'g Gpu,
    shape: [usize; 3],
    dtype: LogitsType,
    opts: LogpOptions,
    accumulation: Accumulation,
    counts: Vec<usize>,
    targets: DeviceBuffer<i32>,
    row_logp: DeviceBuffer<f64>,
    row_lse: DeviceBuffer<f64>,
    seq: DeviceBuffer<f64>,
    seq_scale: DeviceBuffer<f64>,
    grad: Option<LogitsData>,
    forward_done: bool,
    upstream_set: bool,
}

/// Threads per block of the row kernels.
pub const DEFAULT_BLOCK: u32 = 256;

/// Checks labels `[B, T]` and mask `[B, T]` against logits of `shape` as
/// [`crate::logps::sequence_logps`] does, and returns the scored tokens per sequence. Needs no
/// device: [`LogpsPlan::new`] runs the same checks before it allocates or launches anything.
pub fn check_inputs(
    shape: [usize; 3],
    labels: &[i64],
    mask: Option<&[bool]>,
    opts: &LogpOptions,
) -> Result<Vec<usize>> {
    check_shape(shape)?;
    Ok(targets(labels, mask, shape, opts)?.1)
}

/// Per row of the logits: the index of the scored label, or −1. Checks every label.
fn targets(
    labels: &[i64],
    mask: Option<&[bool]>,
    shape: [usize; 3],
    opts: &LogpOptions,
) -> Result<(Vec<i32>, Vec<usize>)> {
    let [b, t, v] = shape;
    if labels.len() != b * t {
        return Err(CudaError::LengthMismatch {
            what: "labels",
            expected: b * t,
            got: labels.len(),
        });
    }
    if let Some(m) = mask {
        if m.len() != b * t {
            return Err(CudaError::LengthMismatch {
                what: "mask",
                expected: b * t,
                got: m.len(),
            });
        }
    }
    let labels = ArrayView2::from_shape((b, t), labels).map_err(|_| CudaError::LengthMismatch {
        what: "labels",
        expected: b * t,
        got: labels.len(),
    })?;
    let mask = mask.and_then(|m| ArrayView2::from_shape((b, t), m).ok());
    let scored = scored_tokens(&labels, mask.as_ref(), v, opts).map_err(|e| match e {
        LogpError::LabelOutOfRange {
            batch,
            pos,
            label,
            vocab,
        } => CudaError::LabelOutOfRange {
            batch,
            pos,
            label,
            vocab,
        },
        _ => CudaError::TooShortForShift { time: t },
    })?;
    let mut out = vec![-1i32; b * t];
    let counts = scored.iter().map(Vec::len).collect();
    for (seq, tokens) in scored.iter().enumerate() {
        for &(row, label) in tokens {
            // Labels were checked against V, which fits the kernels' i32 indices.
            out[seq * t + row] = label as i32;
        }
    }
    Ok((out, counts))
}

impl<'g> LogpsPlan<'g> {
    /// Validates labels (and mask) against the logits' shape as [`crate::logps::sequence_logps`]
    /// does (labels `[B, T]`, mask `[B, T]` aligned with the labels, `true` = scored), uploads the
    /// per-row targets and allocates the outputs. With `with_gradient`, also the gradient (as large as the logits),
    /// whose memory is checked here, before any launch.
    pub fn new(
        gpu: &'g Gpu,
        logits: &DeviceLogits<'_>,
        labels: &[i64],
        mask: Option<&[bool]>,
        opts: LogpOptions,
        accumulation: Accumulation,
        with_gradient: bool,
    ) -> Result<Self> {
        let shape = logits.shape;
        check_shape(shape)?;
        let (tg, counts) = targets(labels, mask, shape, &opts)?;
        let [b, t, _] = shape;
        let rows = b * t;
        let grad_bytes = if with_gradient { logits.bytes() } else { 0 };
        gpu.ensure_free(grad_bytes.saturating_add(rows * 20 + b * 16))?;
        let grad = if with_gradient {
            let n = shape.iter().product();
            Some(match logits.dtype() {
                LogitsType::F32 => LogitsData::F32(gpu.buffer(n)?),
                LogitsType::Bf16 => LogitsData::Bf16(gpu.buffer(n)?),
            })
        } else {
            None
        };
        Ok(LogpsPlan {
            gpu,
            shape,
            dtype: logits.dtype(),
            opts,
            accumulation,
            counts,
            targets: gpu.upload(&tg)?,
            row_logp: gpu.buffer(rows)?,
            row_lse: gpu.buffer(rows)?,
            seq: gpu.buffer(b)?,
            seq_scale: gpu.buffer(b)?,
            grad,
            forward_done: false,
            upstream_set: false,
        })
    }

    /// The threads per block a launch with `block` uses: the forward and backward kernels of
    /// this plan's type and accumulation, in that order.
    pub fn block_used(&self, block: u32) -> Result<(u32, u32)> {
        let m = &self.gpu.logps;
        Ok((
            self.gpu
                .fit_block(m, &format!("logps_forward_{}", self.suffix()), block)?,
            self.gpu
                .fit_block(m, &format!("logps_backward_{}", self.suffix()), block)?,
        ))
    }

    /// Scored tokens per sequence.
    pub fn token_counts(&self) -> &[usize] {
        &self.counts
    }

    /// Number of scored rows (each read once by the forward and backward passes).
    pub fn scored_rows(&self) -> usize {
        self.counts.iter().sum()
    }

    fn check(&self, logits: &DeviceLogits<'_>) -> Result<()> {
        if logits.shape != self.shape {
            return Err(CudaError::ShapeMismatch {
                expected: self.shape,
                got: logits.shape,
            });
        }
        if logits.dtype() != self.dtype {
            return Err(CudaError::LogitsTypeMismatch);
        }
        Ok(())
    }

    fn suffix(&self) -> &'static str {
        match (self.dtype, self.accumulation) {
            (LogitsType::F32, Accumulation::F32) => "f32_acc32",
            (LogitsType::F32, Accumulation::F64) => "f32_acc64",
            (LogitsType::Bf16, Accumulation::F32) => "bf16_acc32",
            (LogitsType::Bf16, Accumulation::F64) => "bf16_acc64",
        }
    }

    /// Fills the per-row, per-sequence and gradient outputs with NaN.
    pub fn poison_outputs(&mut self) -> Result<()> {
        poison(&mut self.row_logp)?;
        poison(&mut self.row_lse)?;
        poison(&mut self.seq)?;
        match &mut self.grad {
            Some(LogitsData::F32(g)) => poison(g),
            Some(LogitsData::Bf16(g)) => poison(g),
            None => Ok(()),
        }
    }

    /// Launches the forward pass (asynchronously) with `block` threads per row (rounded to a
    /// multiple of 32 the kernel can run with; see [`LogpsPlan::block_used`]).
    pub fn launch_forward(&mut self, logits: &DeviceLogits<'_>, block: u32) -> Result<()> {
        self.check(logits)?;
        let [b, t, v] = self.shape;
        let (rows, v64, t32) = ((b * t) as u32, v as u64, t as u32);
        let x = match &logits.data {
            LogitsData::F32(d) => d.as_device_ptr().as_raw(),
            LogitsData::Bf16(d) => d.as_device_ptr().as_raw(),
        };
        let tg = self.targets.as_device_ptr();
        let (rl, rs, sq) = (
            self.row_logp.as_device_ptr(),
            self.row_lse.as_device_ptr(),
            self.seq.as_device_ptr(),
        );
        let forward = format!("logps_forward_{}", self.suffix());
        let block = self.gpu.fit_block(&self.gpu.logps, &forward, block)?;
        let sum = match self.accumulation {
            Accumulation::F32 => "logps_sequence_sum_acc32",
            Accumulation::F64 => "logps_sequence_sum_acc64",
        };
        // SAFETY: `logps_forward_*` takes (logits, target, V, row_logp, row_lse); block r reads
        // row r of the logits (b·t rows of v elements, as the shape checked above) and writes
        // element r of both row buffers (b·t elements). `logps_sequence_sum_*` takes
        // (row_logp, T, seq) and block s reads rows s·t .. s·t + t, writing seq[s].
        unsafe {
            self.gpu.launch(
                &self.gpu.logps,
                &forward,
                rows,
                block,
                &[arg(&x), arg(&tg), arg(&v64), arg(&rl), arg(&rs)],
            )?;
            self.gpu.launch(
                &self.gpu.logps,
                sum,
                b as u32,
                256,
                &[arg(&rl), arg(&t32), arg(&sq)],
            )?;
        }
        self.forward_done = true;
        Ok(())
    }

    /// Waits for the forward pass and downloads the sequence log-probabilities.
    pub fn read_forward(&self) -> Result<GpuSequenceLogps> {
        if !self.forward_done {
            return Err(CudaError::MissingStep {
                needed: "the forward pass",
            });
        }
        self.gpu.synchronize()?;
        let sums = download(&self.seq, self.shape[0])?;
        let logps = sums
            .iter()
            .zip(&self.counts)
            .map(|(&s, &c)| match (self.opts.reduction, c, self.opts.empty) {
                (Reduction::Sum, _, _) => s,
                (Reduction::Mean, 0, EmptyRule::Nan) => f64::NAN,
                (Reduction::Mean, 0, EmptyRule::ClampToOne) => s,
                (Reduction::Mean, c, _) => s / c as f64,
            })
            .collect();
        Ok(GpuSequenceLogps {
            logps,
            token_counts: self.counts.clone(),
        })
    }

    /// Sets the upstream gradient $g_b = \partial L / \partial \log p_b$ (one per sequence).
    pub fn set_upstream(&mut self, upstream: &[f64]) -> Result<()> {
        let b = self.shape[0];
        if upstream.len() != b {
            return Err(CudaError::LengthMismatch {
                what: "upstream",
                expected: b,
                got: upstream.len(),
            });
        }
        let scale: Vec<f64> = upstream
            .iter()
            .zip(&self.counts)
            .map(|(&g, &c)| match self.opts.reduction {
                Reduction::Mean if c > 0 => g / c as f64,
                _ => g,
            })
            .collect();
        use cust::memory::CopyDestination;
        self.seq_scale
            .copy_from(&scale[..])
            .map_err(driver("cuMemcpyHtoD"))?;
        self.upstream_set = true;
        Ok(())
    }

    /// Launches the backward pass (asynchronously) with `block` threads per row (rounded as for
    /// [`LogpsPlan::launch_forward`]).
    pub fn launch_backward(&mut self, logits: &DeviceLogits<'_>, block: u32) -> Result<()> {
        self.check(logits)?;
        if !self.forward_done {
            return Err(CudaError::MissingStep {
                needed: "the forward pass",
            });
        }
        if !self.upstream_set {
            return Err(CudaError::MissingStep {
                needed: "set_upstream",
            });
        }
        let [b, t, v] = self.shape;
        let (rows, v64, t32) = ((b * t) as u32, v as u64, t as u32);
        let x = match &logits.data {
            LogitsData::F32(d) => d.as_device_ptr().as_raw(),
            LogitsData::Bf16(d) => d.as_device_ptr().as_raw(),
        };
        let g = match &self.grad {
            Some(LogitsData::F32(d)) => d.as_device_ptr().as_raw(),
            Some(LogitsData::Bf16(d)) => d.as_device_ptr().as_raw(),
            None => {
                return Err(CudaError::MissingStep {
                    needed: "a plan made with_gradient",
                })
            }
        };
        let tg = self.targets.as_device_ptr();
        let rs = self.row_lse.as_device_ptr();
        let sc = self.seq_scale.as_device_ptr();
        let backward = format!("logps_backward_{}", self.suffix());
        let block = self.gpu.fit_block(&self.gpu.logps, &backward, block)?;
        // SAFETY: `logps_backward_*` takes (logits, target, row_lse, seq_scale, V, T, grad);
        // block r reads row r of the logits and target/row_lse[r], seq_scale[r / T], and writes
        // row r of the gradient, which has the logits' shape and type (checked above).
        unsafe {
            self.gpu.launch(
                &self.gpu.logps,
                &backward,
                rows,
                block,
                &[
                    arg(&x),
                    arg(&tg),
                    arg(&rs),
                    arg(&sc),
                    arg(&v64),
                    arg(&t32),
                    arg(&g),
                ],
            )
        }
    }

    /// Waits for the backward pass and downloads the gradient, widened exactly to f64.
    pub fn read_gradient(&self) -> Result<Vec<f64>> {
        self.gpu.synchronize()?;
        let n = self.shape.iter().product();
        match &self.grad {
            Some(LogitsData::F32(g)) => Ok(download(g, n)?.into_iter().map(f64::from).collect()),
            Some(LogitsData::Bf16(g)) => Ok(download(g, n)?
                .into_iter()
                .map(|u| f64::from(Bf16(u).to_f32()))
                .collect()),
            None => Err(CudaError::MissingStep {
                needed: "a plan made with_gradient",
            }),
        }
    }
}
