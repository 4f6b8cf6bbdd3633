//! GPU benchmark: achieved bandwidth of the pair-loss and log-probability kernels as a share of
//! a device-to-device copy measured in the same run (bytes read plus bytes written, GB/s).
//!
//! Each timing is the median of many runs between CUDA events, after warm-up; inputs are drawn
//! on the device (uniform, never zeros) and are far larger than the L2 cache.
//! Run: `cargo bench --features cuda --bench gpu` (on a machine with a GPU).

use dpo_oracle::cuda::logps::{Accumulation, DeviceLogits, LogitsType, LogpsPlan};
use dpo_oracle::cuda::losses::{PairBatch, PairFloat, PairOutputs};
use dpo_oracle::cuda::{copy_bandwidth, time_median, CudaError, Gpu, Result, Timing};
use dpo_oracle::logps::LogpOptions;
use dpo_oracle::loss::{LossSpec, LossType};

const WARMUP: usize = 5;
const RUNS: usize = 40;

/// One line of the final table.
struct Row {
    work: String,
    timing: Timing,
    bytes: f64,
    /// Required share of the copy bandwidth, if any.
    target: Option<f64>,
}

impl Row {
    fn gbps(&self) -> f64 {
        self.bytes / (self.timing.median_us * 1e-6) / 1e9
    }
}

fn pair_rows<T: PairFloat>(gpu: &Gpu, name: &str, n: usize, rows: &mut Vec<Row>) -> Result<()> {
    let mut batch = PairBatch::<T>::random(gpu, n, 7, -400.0, -1.0)?;
    let spec = LossSpec::new(LossType::Sigmoid, 0.1);
    let size = std::mem::size_of::<T>() as f64 * n as f64;
    let variants = [
        (
            "loss, rewards, 4 gradients",
            PairOutputs::ALL,
            11.0,
            Some(0.90),
        ),
        (
            "loss, rewards",
            PairOutputs {
                losses: true,
                rewards: true,
                gradients: false,
            },
            7.0,
            Some(0.90),
        ),
        (
            "batch mean only",
            PairOutputs {
                losses: false,
                rewards: false,
                gradients: false,
            },
            4.0,
            Some(0.90),
        ),
    ];
    for (what, outputs, arrays, target) in variants {
        let timing = time_median(gpu, WARMUP, RUNS, || batch.launch(&spec, outputs))?;
        rows.push(Row {
            work: format!("pair losses {name} B=2^{}: {what}", n.trailing_zeros()),
            timing,
            bytes: arrays * size,
            target,
        });
    }
    Ok(())
}

/// Times forward and backward at each block size; reports the default block and the best.
fn logps_rows(
    gpu: &Gpu,
    dtype: LogitsType,
    shape: [usize; 3],
    acc: Accumulation,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let logits = DeviceLogits::random(gpu, dtype, shape, 11, -8.0, 8.0)?;
    let [b, t, v] = shape;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let labels: Vec<i64> = (0..b * t)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % v as u64) as i64
        })
        .collect();
    let opts = LogpOptions::default();
    let mut plan = LogpsPlan::new(gpu, &logits, &labels, None, opts, acc, true)?;
    plan.set_upstream(&vec![1.0; b])?;
    let elem = (logits.bytes() / (b * t * v)) as f64;
    let scored = plan.scored_rows() as f64;
    let row_bytes = v as f64 * elem;
    let label = format!("logps {:?} {b}x{t}x{v} acc {:?}", dtype, acc).to_lowercase();
    let fast = acc == Accumulation::F32;
    let blocks: &[u32] = if fast { &[128, 256, 512, 1024] } else { &[256] };
    let mut best: [Option<(u32, Timing)>; 2] = [None, None];
    for &asked in blocks {
        let (block, back) = plan.block_used(asked)?;
        if (block, back) != (asked, asked) {
            println!("  {label}: block {asked} runs as {block} (forward), {back} (backward)");
        }
        let f = time_median(gpu, WARMUP, RUNS, || plan.launch_forward(&logits, block))?;
        let g = time_median(gpu, WARMUP, RUNS, || plan.launch_backward(&logits, back))?;
        println!(
            "  {label} block {block}: forward {:.1} µs, backward {:.1} µs",
            f.median_us, g.median_us
        );
        for (slot, timing) in best.iter_mut().zip([f, g]) {
            if slot
                .as_ref()
                .is_none_or(|(_, s)| timing.median_us < s.median_us)
            {
                *slot = Some((block, timing));
            }
        }
    }
    let [Some((fb, f)), Some((gb, g))] = best else {
        return Ok(());
    };
    rows.push(Row {
        work: format!("{label} forward (block {fb})"),
        timing: f,
        bytes: scored * row_bytes,
        target: fast.then_some(0.85),
    });
    rows.push(Row {
        work: format!("{label} backward (block {gb})"),
        timing: g,
        bytes: (scored + (b * t) as f64) * row_bytes,
        target: fast.then_some(0.80),
    });
    Ok(())
}

/// Runs every benchmark; `None` when there is no usable driver, else whether every target is met.
fn run() -> Result<Option<bool>> {
    let gpu = match Gpu::new() {
        Ok(gpu) => gpu,
        Err(e @ CudaError::DriverUnavailable { .. }) => {
            println!("SKIP gpu bench: {e}");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let (free, total) = gpu.memory()?;
    println!(
        "device: {} ({} SMs, {:.1} GiB free of {:.1} GiB)",
        gpu.device_name(),
        gpu.multiprocessors(),
        free as f64 / (1u64 << 30) as f64,
        total as f64 / (1u64 << 30) as f64
    );
    let (copy, copy_timing) = copy_bandwidth(&gpu, 2 << 30, WARMUP, RUNS)?;
    println!(
        "device-to-device copy of 2 GiB: {:.1} µs median, {copy:.0} GB/s (read + write)",
        copy_timing.median_us
    );
    let mut rows = Vec::new();
    pair_rows::<f32>(&gpu, "f32", 1 << 26, &mut rows)?;
    pair_rows::<f64>(&gpu, "f64", 1 << 26, &mut rows)?;
    for v in [32000, 128256] {
        for dtype in [LogitsType::F32, LogitsType::Bf16] {
            logps_rows(&gpu, dtype, [4, 2048, v], Accumulation::F32, &mut rows)?;
        }
    }
    logps_rows(
        &gpu,
        LogitsType::F32,
        [4, 2048, 32000],
        Accumulation::F64,
        &mut rows,
    )?;
    logps_rows(
        &gpu,
        LogitsType::Bf16,
        [4, 2048, 32000],
        Accumulation::F64,
        &mut rows,
    )?;

    println!();
    println!("| work | median µs | GB/s | share of copy | target | |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| device-to-device copy (2 GiB) | {:.1} | {copy:.0} | 100% | | |",
        copy_timing.median_us
    );
    let mut all_met = true;
    for r in &rows {
        let share = r.gbps() / copy;
        let (target, verdict) = match r.target {
            Some(t) if share >= t => (format!("≥ {:.0}%", t * 100.0), "met"),
            Some(t) => {
                all_met = false;
                (format!("≥ {:.0}%", t * 100.0), "MISSED")
            }
            None => (String::new(), ""),
        };
        println!(
            "| {} | {:.1} | {:.0} | {:.1}% | {target} | {verdict} |",
            r.work,
            r.timing.median_us,
            r.gbps(),
            share * 100.0
        );
    }
    Ok(Some(all_met))
}

fn main() {
    match run() {
        Ok(None) => println!("gpu bench: skipped, nothing measured"),
        Ok(Some(true)) => println!("gpu bench: every target met"),
        Ok(Some(false)) => println!("gpu bench: some targets missed (see MISSED)"),
        Err(e) => {
            println!("gpu bench failed: {e}");
            std::process::exit(1);
        }
    }
}
