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

/// How long the device is kept busy before each timed run: far longer than the host needs to
/// queue the start event, the work (a few launches, each checked first) and the stop event.
const HOLD_NS: u64 = 200_000;

/// Runs `work` (which launches device work on `gpu`'s stream) `warmup` times untimed, then
/// `runs` times, each between two events recorded on the stream; returns the median and range.
///
/// Before each timed run the stream is held busy for 200 µs by a kernel that waits on the
/// device's clock, so the device reaches the start event only after the host has queued the
/// work behind it: the events bracket the device's time for the work, without the host's time
/// spent checking and launching it.
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
        gpu.hold(HOLD_NS)?;
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

impl Gpu {
    /// Queues a kernel that keeps the stream busy for `ns` nanoseconds of device time.
    fn hold(&self, ns: u64) -> Result<()> {
        // SAFETY: `spin` takes one u64 and touches no memory.
        unsafe { self.launch(&self.timing, "spin", 1, 1, &[super::arg(&ns)]) }
    }
}
