//! Timing on the device with CUDA events, and the device-to-device copy that serves as the
//! bandwidth ceiling of every memory-bound kernel.

use super::error::driver;
use super::{Gpu, Result};
use cust::event::{Event, EventFlags};
use cust::memory::AsyncCopyDestination;

/// Times of repeated runs of one piece of device work, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Median over the timed runs.
    pub median_us: f64,
    /// Fastest timed run.
    pub min_us: f64,
    /// Slowest timed run.
    pub max_us: f64,
    /// Number of timed runs.
    pub runs: usize,
}

/// Runs `work` (which launches device work on `gpu`'s stream) `warmup` times untimed, then
/// `runs` times, each between two events recorded on the stream; returns the median and range.
pub fn time_median(
    gpu: &Gpu,
    warmup: usize,
    runs: usize,
    mut work: impl FnMut() -> Result<()>,
) -> Result<Timing> {
    for _ in 0..warmup {
        work()?;
    }
    gpu.synchronize()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Event::new(EventFlags::DEFAULT).map_err(driver("cuEventCreate"))?;
        let stop = Event::new(EventFlags::DEFAULT).map_err(driver("cuEventCreate"))?;
        start.record(&gpu.stream).map_err(driver("cuEventRecord"))?;
        work()?;
        stop.record(&gpu.stream).map_err(driver("cuEventRecord"))?;
        stop.synchronize().map_err(driver("cuEventSynchronize"))?;
        let ms = stop
            .elapsed_time_f32(&start)
            .map_err(driver("cuEventElapsedTime"))?;
        times.push(f64::from(ms) * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(Timing {
        median_us: times[times.len() / 2],
        min_us: times[0],
        max_us: times[times.len() - 1],
        runs: times.len(),
    })
}

/// Bandwidth of a device-to-device copy of `bytes` bytes, counting bytes read plus bytes
/// written, in GB/s (10⁹ bytes per second), from the median of `runs` timed copies.
pub fn copy_bandwidth(
    gpu: &Gpu,
    bytes: usize,
    warmup: usize,
    runs: usize,
) -> Result<(f64, Timing)> {
    let words = bytes / 4;
    gpu.ensure_free(2 * words * 4)?;
    let mut src = gpu.buffer::<u32>(words)?;
    src.set_8(0x5A).map_err(driver("cuMemsetD8"))?;
    let mut dst = gpu.buffer::<u32>(words)?;
    let timing = time_median(gpu, warmup, runs, || {
        // SAFETY: both buffers are live, of equal length, and the copy is ordered on the stream
        // before any later use of either.
        unsafe { dst.async_copy_from(&src, &gpu.stream) }.map_err(driver("cuMemcpyDtoDAsync"))
    })?;
    gpu.synchronize()?;
    let gbps = 2.0 * (words * 4) as f64 / (timing.median_us * 1e-6) / 1e9;
    Ok((gbps, timing))
}
