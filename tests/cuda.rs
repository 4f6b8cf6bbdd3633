//! The GPU kernels against the CPU oracle, on fresh random inputs each run (the seed is printed;
//! set `DPO_CUDA_SEED` to replay one). Every output buffer is poisoned with NaN before a launch,
//! so an element a kernel fails to write fails the comparison.
//!
//! Without a usable driver (the link-time stub library, no device) each GPU test prints a skip
//! line and passes; the input checks that need no device run everywhere.
#![cfg(feature = "cuda")]

use dpo_oracle::cuda::logps::{check_inputs, Accumulation, DeviceLogits, LogitsType, LogpsPlan};
use dpo_oracle::cuda::losses::{
    check_lengths, check_loss, PairBatch, PairFloat, PairOutputs, SUPPORTED,
};
use dpo_oracle::cuda::{Bf16, CudaError, Gpu};
use dpo_oracle::logps::{sequence_logps, sequence_logps_grad, EmptyRule, LogpOptions, Reduction};
use dpo_oracle::loss::{compute, LossError, LossSpec, LossType, PairLogps};
use dpo_oracle::prec::{
    BF16_UNIT_ROUNDOFF, F32_UNIT_ROUNDOFF, GPU_LOGPS_K, GPU_PAIR_LOSS_K, UNIT_ROUNDOFF,
};
use dpo_oracle::scalar::Real;
use ndarray::{ArrayView1, ArrayView2, ArrayView3};

/// splitmix64: small, seedable, good enough for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

fn rng(test: &str) -> Rng {
    let seed = std::env::var("DPO_CUDA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("{test}: seed {seed} (replay with DPO_CUDA_SEED={seed})");
    Rng(seed)
}

/// The GPU, or a printed skip where there is no driver. Any other failure is a test failure.
fn gpu_or_skip(test: &str) -> Option<Gpu> {
    match Gpu::new() {
        Ok(gpu) => {
            println!("{test}: on {}", gpu.device_name());
            Some(gpu)
        }
        Err(e @ CudaError::DriverUnavailable { .. }) => {
            println!("SKIP {test}: {e}");
            None
        }
        Err(e) => panic!("{test}: CUDA initialisation failed: {e}"),
    }
}

/// Largest of |got − want| / tol over the elements (NaN against a number is infinite; two NaNs
/// and exact equality count 0), with the index where it occurs.
fn worst(got: &[f64], want: &[f64], tol: &[f64]) -> (f64, usize) {
    assert_eq!(got.len(), want.len());
    let mut out = (0.0, 0);
    for i in 0..got.len() {
        let (g, w) = (got[i], want[i]);
        let r = if g.is_nan() && w.is_nan() || g == w {
            0.0
        } else if g.is_nan() || w.is_nan() || g.is_infinite() || w.is_infinite() {
            f64::INFINITY
        } else {
            (g - w).abs() / tol[i]
        };
        if r > out.0 || r.is_nan() {
            out = (r, i);
        }
    }
    out
}

fn assert_within(what: &str, got: &[f64], want: &[f64], tol: &[f64]) -> f64 {
    let (r, i) = worst(got, want, tol);
    assert!(
        r <= 1.0,
        "{what}[{i}]: GPU {} vs oracle {} (tolerance {:e}, {r:.3} of it)",
        got[i],
        want[i],
        tol[i]
    );
    r
}

// ---------------------------------------------------------------------------------------------
// Pair losses

/// The kernels' float types, with their unit roundoff.
trait TestFloat: PairFloat {
    const U: f64;
    /// Smallest normal number: below it results are subnormal, with absolute rounding error.
    const TINY: f64;
    fn from_f64(x: f64) -> Self;
}
impl TestFloat for f32 {
    const U: f64 = F32_UNIT_ROUNDOFF;
    const TINY: f64 = f32::MIN_POSITIVE as f64;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}
impl TestFloat for f64 {
    const U: f64 = UNIT_ROUNDOFF;
    const TINY: f64 = f64::MIN_POSITIVE;
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// A random supported loss: β log-uniform in [0.01, 10], ε where the loss uses it, sometimes
/// reference-free.
fn random_spec(rng: &mut Rng, loss: LossType) -> LossSpec {
    let beta = 10f64.powf(rng.uniform(-2.0, 1.0));
    let eps = match loss {
        LossType::Cdpo => rng.uniform(0.0, 1.0),
        LossType::Robust => rng.uniform(0.0, 0.45),
        _ => 0.0,
    };
    LossSpec::new(loss, beta)
        .with_label_smoothing(eps)
        .with_reference_free(rng.chance(0.25))
}

/// Log-probabilities of `n` pairs: typical summed log-probabilities in [−400, −1] with the
/// reference near the policy, and one pair in eight with an extreme margin |βh| up to 1e4.
fn random_pairs<T: TestFloat>(rng: &mut Rng, n: usize, beta: f64) -> [Vec<T>; 4] {
    let mut cols: [Vec<T>; 4] = Default::default();
    for _ in 0..n {
        let pr = rng.uniform(-400.0, -1.0);
        let rc = rng.uniform(-400.0, -1.0);
        let rr = pr + rng.uniform(-20.0, 20.0);
        let pc = if rng.chance(0.125) {
            let z = rng.uniform(-1e4, 1e4);
            z / beta + pr + rc - rr
        } else {
            rc + rng.uniform(-20.0, 20.0)
        };
        for (col, x) in cols.iter_mut().zip([pc, pr, rc, rr]) {
            col.push(T::from_f64(x));
        }
    }
    cols
}

/// Per-pair tolerances of the loss, the gradient of the mean and the two rewards (see
/// [`GPU_PAIR_LOSS_K`] for the model).
struct PairTolerances {
    loss: Vec<f64>,
    grad: Vec<f64>,
    chosen: Vec<f64>,
    rejected: Vec<f64>,
}

/// Every tolerance has the floor `K u TINY` (subnormal results round absolutely).
fn pair_tolerances(
    spec: &LossSpec,
    x: &[Vec<f64>; 4],
    dh: &[f64],
    u: f64,
    tiny: f64,
) -> PairTolerances {
    let n = x[0].len();
    let (beta, eps) = (spec.beta(), spec.label_smoothing());
    let k = GPU_PAIR_LOSS_K * u;
    let mut t = PairTolerances {
        loss: vec![],
        grad: vec![],
        chosen: vec![],
        rejected: vec![],
    };
    for i in 0..n {
        let [pc, pr, rc, rr] = [x[0][i], x[1][i], x[2][i], x[3][i]];
        let (h, s) = if spec.reference_free() {
            (pc - pr, pc.abs() + pr.abs())
        } else {
            (
                (pc - rc) - (pr - rr),
                pc.abs() + pr.abs() + rc.abs() + rr.abs(),
            )
        };
        let z = beta * h;
        let logistic = |div: f64| {
            let m = ((1.0 - eps) * (-z).softplus() + eps * z.softplus()) / div;
            let mg = beta * ((1.0 - eps) * (-z).sigmoid() + eps * z.sigmoid()) / div;
            (m, mg, beta * beta * z.sigmoid() * (-z).sigmoid())
        };
        // (magnitude of the loss's terms, of the derivative's terms, |second derivative|)
        let (m, mg, curv) = match spec.loss_type() {
            LossType::Robust => logistic(1.0 - 2.0 * eps),
            LossType::Ipo => {
                let d = h - 0.5 / beta;
                (
                    d * d + 2.0 * d.abs() * (h.abs() + 0.5 / beta),
                    2.0 * (h.abs() + 0.5 / beta),
                    2.0,
                )
            }
            LossType::Hinge => (1.0 + z.abs(), beta, 0.0),
            _ => logistic(1.0),
        };
        let floor = k * tiny;
        t.loss.push(k * (m + dh[i].abs() * s) + floor);
        let near_kink = spec.loss_type() == LossType::Hinge && (1.0 - z).abs() <= k * beta * s;
        t.grad.push(
            if near_kink {
                beta / n as f64
            } else {
                k * (mg + curv * s) / n as f64
            } + floor,
        );
        t.chosen.push(k * beta * (pc.abs() + rc.abs()) + floor);
        t.rejected.push(k * beta * (pr.abs() + rr.abs()) + floor);
    }
    t
}

fn widen<T: PairFloat>(v: &[T]) -> Vec<f64> {
    v.iter().map(|&x| x.into()).collect()
}

fn check_pair_losses<T: TestFloat>(test: &str) {
    let Some(gpu) = gpu_or_skip(test) else { return };
    let mut rng = rng(test);
    let mut worst_seen = 0.0f64;
    for &loss in &SUPPORTED {
        for _ in 0..3 {
            let spec = random_spec(&mut rng, loss);
            // Sizes not a multiple of the vector width, so the scalar tail runs too.
            let n = 2000 + rng.below(6000);
            let cols = random_pairs::<T>(&mut rng, n, spec.beta());
            let mut batch =
                PairBatch::upload(&gpu, &cols[0], &cols[1], &cols[2], &cols[3]).expect("upload");
            batch.poison_outputs().expect("poison");
            batch.launch(&spec, PairOutputs::ALL).expect("launch");
            let got = batch.read().expect("read");

            let x: [Vec<f64>; 4] = [
                widen(&cols[0]),
                widen(&cols[1]),
                widen(&cols[2]),
                widen(&cols[3]),
            ];
            let batch_logps = PairLogps::new(&x[0], &x[1], &x[2], &x[3]);
            let want = compute(&spec, &batch_logps).expect("oracle");
            let dh: Vec<f64> = want
                .grad_policy_chosen
                .iter()
                .map(|g| g * n as f64)
                .collect();
            let tol = pair_tolerances(&spec, &x, &dh, T::U, T::TINY);
            let what = |field: &str| format!("{test} {spec:?} n={n} {field}");
            let mut r = assert_within(
                &what("losses"),
                &widen(&got.losses),
                &want.losses,
                &tol.loss,
            );
            r = r.max(assert_within(
                &what("chosen_rewards"),
                &widen(&got.chosen_rewards),
                &want.chosen_rewards,
                &tol.chosen,
            ));
            r = r.max(assert_within(
                &what("rejected_rewards"),
                &widen(&got.rejected_rewards),
                &want.rejected_rewards,
                &tol.rejected,
            ));
            for (field, g, w) in [
                (
                    "grad_policy_chosen",
                    &got.grad_policy_chosen,
                    &want.grad_policy_chosen,
                ),
                (
                    "grad_policy_rejected",
                    &got.grad_policy_rejected,
                    &want.grad_policy_rejected,
                ),
                (
                    "grad_reference_chosen",
                    &got.grad_reference_chosen,
                    &want.grad_reference_chosen,
                ),
                (
                    "grad_reference_rejected",
                    &got.grad_reference_rejected,
                    &want.grad_reference_rejected,
                ),
            ] {
                r = r.max(assert_within(&what(field), &widen(g), w, &tol.grad));
            }
            // The mean: the per-pair bounds averaged, plus f64 summation (≤ n u |ℓ| on average).
            let mean_tol = tol.loss.iter().sum::<f64>() / n as f64
                + 2.0 * n as f64 * UNIT_ROUNDOFF * want.losses.iter().map(|l| l.abs()).sum::<f64>()
                    / n as f64;
            r = r.max(assert_within(
                &what("loss"),
                &[got.loss],
                &[want.loss],
                &[mean_tol],
            ));
            // The drop-in `compute` (f64) is the same launch: the same bits.
            if std::mem::size_of::<T>() == 8 {
                let drop_in =
                    dpo_oracle::cuda::losses::compute(&gpu, &spec, &batch_logps).expect("compute");
                assert_eq!(drop_in.losses, widen(&got.losses), "{}", what("compute"));
                assert_eq!(
                    drop_in.loss.to_bits(),
                    got.loss.to_bits(),
                    "{}",
                    what("compute")
                );
            }
            // Deterministic two-stage reduction: the same bits on a second launch.
            batch.launch(&spec, PairOutputs::ALL).expect("relaunch");
            let again = batch.read().expect("reread");
            assert_eq!(
                again.loss.to_bits(),
                got.loss.to_bits(),
                "{}",
                what("mean not reproducible")
            );
            worst_seen = worst_seen.max(r);
        }
    }
    println!("{test}: largest error {worst_seen:.3} of its tolerance");
}

#[test]
fn pair_losses_f64_match_the_oracle() {
    check_pair_losses::<f64>("pair_losses_f64");
}

#[test]
fn pair_losses_f32_match_the_oracle() {
    check_pair_losses::<f32>("pair_losses_f32");
}

// ---------------------------------------------------------------------------------------------
// Sequence log-probabilities

struct LogpsCase {
    shape: [usize; 3],
    /// The stored logits, widened exactly.
    logits: Vec<f64>,
    labels: Vec<i64>,
    mask: Option<Vec<bool>>,
    opts: LogpOptions,
}

/// Random logits (uniform of a random scale per row, sometimes one peaked entry, a few −inf
/// entries), labels with −100 and one fully masked sequence, sometimes an explicit mask.
fn random_case(rng: &mut Rng, dtype: LogitsType) -> LogpsCase {
    let vocabs = [5, 8, 1001, 2048, 3001, 4099];
    let (b, t, v) = (
        2 + rng.below(4),
        3 + rng.below(12),
        vocabs[rng.below(vocabs.len())],
    );
    let opts = LogpOptions::default()
        .with_shift(rng.chance(0.8))
        .with_reduction(if rng.chance(0.5) {
            Reduction::Sum
        } else {
            Reduction::Mean
        })
        .with_empty(if rng.chance(0.5) {
            EmptyRule::Nan
        } else {
            EmptyRule::ClampToOne
        });
    let masked = rng.below(b);
    let labels: Vec<i64> = (0..b * t)
        .map(|k| {
            if k / t == masked || rng.chance(0.15) {
                -100
            } else {
                rng.below(v) as i64
            }
        })
        .collect();
    let mask = rng
        .chance(0.3)
        .then(|| (0..b * t).map(|_| rng.chance(0.8)).collect::<Vec<_>>());
    let offset = usize::from(opts.shift);
    let store = |x: f64| match dtype {
        LogitsType::F32 => f64::from(x as f32),
        LogitsType::Bf16 => f64::from(Bf16::from_f32(x as f32).to_f32()),
    };
    let mut logits = Vec::with_capacity(b * t * v);
    for row in 0..b * t {
        let scale = [1.0, 10.0, 40.0][rng.below(3)];
        let label_pos = (row % t + offset < t).then(|| labels[row + offset]);
        let peak = rng.chance(0.2).then(|| rng.below(v));
        for tok in 0..v {
            let is_label = label_pos == Some(tok as i64);
            let x = if !is_label && v > 8 && rng.chance(0.01) {
                f64::NEG_INFINITY
            } else if peak == Some(tok) {
                30.0
            } else {
                rng.uniform(-scale, scale)
            };
            logits.push(store(x));
        }
    }
    LogpsCase {
        shape: [b, t, v],
        logits,
        labels,
        mask,
        opts,
    }
}

fn device_logits<'g>(gpu: &'g Gpu, case: &LogpsCase, dtype: LogitsType) -> DeviceLogits<'g> {
    match dtype {
        LogitsType::F32 => {
            let host: Vec<f32> = case.logits.iter().map(|&x| x as f32).collect();
            DeviceLogits::from_f32(gpu, &host, case.shape).expect("upload f32")
        }
        LogitsType::Bf16 => {
            let host: Vec<Bf16> = case
                .logits
                .iter()
                .map(|&x| Bf16::from_f32(x as f32))
                .collect();
            DeviceLogits::from_bf16(gpu, &host, case.shape).expect("upload bf16")
        }
    }
}

/// Per row: (whether scored, the label, the magnitude bound `mag` of [`GPU_LOGPS_K`]).
fn row_info(case: &LogpsCase) -> Vec<(bool, usize, f64)> {
    let [b, t, v] = case.shape;
    let offset = usize::from(case.opts.shift);
    (0..b * t)
        .map(|row| {
            let pos = row % t + offset;
            let k = row + offset;
            let scored = pos < t
                && case.labels[k] != case.opts.ignore_index
                && case.mask.as_ref().is_none_or(|m| m[k]);
            let x = &case.logits[row * v..(row + 1) * v];
            let max = x
                .iter()
                .filter(|a| a.is_finite())
                .fold(0.0f64, |m, a| m.max(a.abs()));
            let label = if scored { case.labels[k] as usize } else { 0 };
            (
                scored,
                label,
                x[label].abs() + 4.0 * max + (v as f64).ln() + 1.0,
            )
        })
        .collect()
}

fn check_logps(test: &str, dtype: LogitsType, acc: Accumulation) {
    let Some(gpu) = gpu_or_skip(test) else { return };
    let mut rng = rng(test);
    let (mut worst_fwd, mut worst_bwd) = (0.0f64, 0.0f64);
    for _ in 0..6 {
        let case = random_case(&mut rng, dtype);
        let [b, t, v] = case.shape;
        let block = [32u32, 64, 128, 256, 512, 1024][rng.below(6)];
        let logits = device_logits(&gpu, &case, dtype);
        let mut plan = LogpsPlan::new(
            &gpu,
            &logits,
            &case.labels,
            case.mask.as_deref(),
            case.opts,
            acc,
            true,
        )
        .expect("plan");
        let (block, _) = plan.block_used(block).expect("block");
        plan.poison_outputs().expect("poison");
        plan.launch_forward(&logits, block).expect("forward");
        let got = plan.read_forward().expect("read forward");

        let x = ArrayView3::from_shape((b, t, v), &case.logits).unwrap();
        let labels = ArrayView2::from_shape((b, t), &case.labels).unwrap();
        let mask = case
            .mask
            .as_ref()
            .map(|m| ArrayView2::from_shape((b, t), m).unwrap());
        let want = sequence_logps(x, labels, mask, &case.opts).expect("oracle");
        assert_eq!(
            got.token_counts,
            want.token_counts.to_vec(),
            "{test}: token counts"
        );

        // Tolerances (GPU_LOGPS_K): the chain length k and the positional sum length L.
        let u = match acc {
            Accumulation::F32 => F32_UNIT_ROUNDOFF,
            Accumulation::F64 => UNIT_ROUNDOFF,
        };
        let k = match acc {
            Accumulation::F32 => (v as f64 / f64::from(block)).ceil() * 8.0 + 32.0,
            Accumulation::F64 => v as f64 + 32.0,
        };
        let info = row_info(&case);
        let tol: Vec<f64> = (0..b)
            .map(|s| {
                let rows = &info[s * t..(s + 1) * t];
                let count = want.token_counts[s].max(1) as f64;
                let l = match acc {
                    Accumulation::F32 => (t as f64).log2().ceil() + 1.0,
                    Accumulation::F64 => count + 1.0,
                };
                let sum: f64 = rows.iter().filter(|r| r.0).map(|r| k + l * r.2).sum();
                let div = if case.opts.reduction == Reduction::Mean {
                    count
                } else {
                    1.0
                };
                GPU_LOGPS_K * u * sum / div
            })
            .collect();
        let what = format!(
            "{test} shape {:?} block {block} {:?}",
            case.shape, case.opts
        );
        worst_fwd = worst_fwd.max(assert_within(
            &format!("{what} logps"),
            &got.logps,
            want.logps.as_slice().unwrap(),
            &tol,
        ));

        let upstream: Vec<f64> = (0..b).map(|_| rng.uniform(-2.0, 2.0)).collect();
        plan.set_upstream(&upstream).expect("upstream");
        plan.launch_backward(&logits, block).expect("backward");
        let grad = plan.read_gradient().expect("read gradient");
        let want_grad =
            sequence_logps_grad(x, labels, mask, &case.opts, ArrayView1::from(&upstream))
                .expect("oracle gradient");
        let want_grad = want_grad.as_slice().unwrap();
        let store_u = match dtype {
            LogitsType::F32 => F32_UNIT_ROUNDOFF,
            LogitsType::Bf16 => BF16_UNIT_ROUNDOFF,
        };
        let mut gtol = vec![0.0; b * t * v];
        for (row, &(scored, label, mag)) in info.iter().enumerate() {
            if !scored {
                continue; // exact zeros required
            }
            let s = row / t;
            let w = match case.opts.reduction {
                Reduction::Sum => upstream[s],
                Reduction::Mean => upstream[s] / want.token_counts[s].max(1) as f64,
            };
            for tok in 0..v {
                let i = row * v + tok;
                let onehot = if tok == label { 1.0 } else { 0.0 };
                let p = onehot - want_grad[i] / w;
                let xv = case.logits[i].abs();
                let xv = if xv.is_finite() { xv } else { 0.0 };
                gtol[i] = GPU_LOGPS_K * u * w.abs() * (p * (k + mag + xv) + onehot)
                    // Storage rounding, down to the subnormals of the output type (a bf16
                    // below f32::MIN_POSITIVE has spacing 2^-133 = 2^-8 · 2 f32::MIN_POSITIVE).
                    + store_u * want_grad[i].abs().max(2.0 * f64::from(f32::MIN_POSITIVE))
                    + 2.0 * w.abs() * f64::from(f32::MIN_POSITIVE);
            }
        }
        worst_bwd = worst_bwd.max(assert_within(
            &format!("{what} gradient"),
            &grad,
            want_grad,
            &gtol,
        ));
    }
    println!("{test}: largest error {worst_fwd:.3} (forward), {worst_bwd:.3} (backward) of the tolerance");
}

#[test]
fn logps_f32_logits_f32_accumulation() {
    check_logps("logps_f32_acc32", LogitsType::F32, Accumulation::F32);
}

#[test]
fn logps_f32_logits_f64_accumulation() {
    check_logps("logps_f32_acc64", LogitsType::F32, Accumulation::F64);
}

#[test]
fn logps_bf16_logits_f32_accumulation() {
    check_logps("logps_bf16_acc32", LogitsType::Bf16, Accumulation::F32);
}

#[test]
fn logps_bf16_logits_f64_accumulation() {
    check_logps("logps_bf16_acc64", LogitsType::Bf16, Accumulation::F64);
}

// ---------------------------------------------------------------------------------------------
// Bad input: typed errors before any launch

#[test]
fn bad_logps_inputs_are_typed_errors_without_a_device() {
    let opts = LogpOptions::default();
    let labels = vec![1i64; 6];
    assert_eq!(
        check_inputs([2, 3, 0], &labels, None, &opts),
        Err(CudaError::EmptyVocabulary)
    );
    assert_eq!(
        check_inputs([0, 3, 4], &[], None, &opts),
        Err(CudaError::EmptyBatch)
    );
    assert_eq!(
        check_inputs([2, 3, 4], &labels[..5], None, &opts),
        Err(CudaError::LengthMismatch {
            what: "labels",
            expected: 6,
            got: 5
        })
    );
    assert_eq!(
        check_inputs([2, 3, 4], &labels, Some(&[true; 4]), &opts),
        Err(CudaError::LengthMismatch {
            what: "mask",
            expected: 6,
            got: 4
        })
    );
    assert_eq!(
        check_inputs([2, 1, 4], &labels[..2], None, &opts),
        Err(CudaError::TooShortForShift { time: 1 })
    );
    let mut bad = labels.clone();
    bad[4] = 4;
    assert_eq!(
        check_inputs([2, 3, 4], &bad, None, &opts),
        Err(CudaError::LabelOutOfRange {
            batch: 1,
            pos: 1,
            label: 4,
            vocab: 4
        })
    );
    bad[4] = -7;
    // A masked label must still be a token (only the ignore index is exempt).
    assert_eq!(
        check_inputs([2, 3, 4], &bad, Some(&[false; 6]), &opts),
        Err(CudaError::LabelOutOfRange {
            batch: 1,
            pos: 1,
            label: -7,
            vocab: 4
        })
    );
    assert!(matches!(
        check_inputs([1 << 16, 1 << 16, 4], &[], None, &opts),
        Err(CudaError::TooLarge {
            what: "batch × time",
            ..
        })
    ));
    // The ignore index and the shift: position 0 is never scored, position 2 is ignored.
    let ok = vec![3, 1, -100, 0, 2, 3];
    assert_eq!(check_inputs([2, 3, 4], &ok, None, &opts), Ok(vec![1, 2]));
}

#[test]
fn bad_pair_inputs_are_typed_errors_without_a_device() {
    assert_eq!(
        check_lengths(&[4, 4, 3, 4]),
        Err(CudaError::LengthMismatch {
            what: "reference_chosen",
            expected: 4,
            got: 3
        })
    );
    assert_eq!(check_lengths(&[0; 4]), Err(CudaError::EmptyBatch));
    assert_eq!(
        check_loss(&LossSpec::new(LossType::ExoPair, 0.1).with_label_smoothing(0.1)),
        Err(CudaError::UnsupportedLoss {
            loss: LossType::ExoPair
        })
    );
    assert!(matches!(
        check_loss(&LossSpec::new(LossType::Sigmoid, 0.0)),
        Err(CudaError::Loss(LossError::InvalidParameter {
            name: "beta",
            ..
        }))
    ));
    assert!(matches!(
        check_loss(&LossSpec::new(LossType::Robust, 0.1).with_label_smoothing(0.5)),
        Err(CudaError::Loss(LossError::InvalidParameter {
            name: "label_smoothing",
            ..
        }))
    ));
    assert_eq!(check_loss(&LossSpec::new(LossType::Ipo, 0.1)), Ok(3));
}

#[test]
fn device_errors_are_typed_and_come_before_launch() {
    let Some(gpu) = gpu_or_skip("device_errors") else {
        return;
    };
    let (free, _) = gpu.memory().expect("memory");
    // A pair batch larger than the free device memory: one of its eleven arrays alone exceeds
    // it, so the check cannot pass even if other work frees memory meanwhile.
    let n = free / 8 + 1;
    assert!(matches!(
        PairBatch::<f64>::random(&gpu, n, 1, -1.0, 0.0),
        Err(CudaError::InsufficientDeviceMemory { .. })
    ));
    // Logits larger than the free device memory (4 · 2^14 · 2^14 · V bytes = V GiB), by at
    // least the free memory again.
    let v = 2 * (free >> 30) + 2;
    assert!(matches!(
        DeviceLogits::random(&gpu, LogitsType::F32, [1 << 14, 1 << 14, v], 1, -1.0, 1.0),
        Err(CudaError::InsufficientDeviceMemory { .. })
    ));
    // Logits with an empty vocabulary, and mismatched lengths.
    assert_eq!(
        DeviceLogits::from_f32(&gpu, &[], [2, 3, 0],).err(),
        Some(CudaError::EmptyVocabulary)
    );
    assert_eq!(
        DeviceLogits::from_f32(&gpu, &[0.0; 5], [1, 2, 3]).err(),
        Some(CudaError::LengthMismatch {
            what: "logits",
            expected: 6,
            got: 5
        })
    );
    // A plan used out of order, or with logits of another shape.
    let logits = DeviceLogits::from_f32(&gpu, &[0.5; 24], [2, 3, 4]).expect("logits");
    let other = DeviceLogits::from_f32(&gpu, &[0.5; 12], [1, 3, 4]).expect("logits");
    let opts = LogpOptions::default();
    let mut plan = LogpsPlan::new(
        &gpu,
        &logits,
        &[0, 1, 2, 3, 0, 1],
        None,
        opts,
        Accumulation::F32,
        true,
    )
    .expect("plan");
    assert_eq!(
        plan.launch_backward(&logits, 256),
        Err(CudaError::MissingStep {
            needed: "the forward pass"
        })
    );
    assert_eq!(
        plan.launch_forward(&other, 256),
        Err(CudaError::ShapeMismatch {
            expected: [2, 3, 4],
            got: [1, 3, 4]
        })
    );
    plan.launch_forward(&logits, 256).expect("forward");
    assert_eq!(
        plan.set_upstream(&[1.0]),
        Err(CudaError::LengthMismatch {
            what: "upstream",
            expected: 2,
            got: 1
        })
    );
    // Uniform logits: every token has log-probability −ln 4; two scored tokens per sequence.
    let out = plan.read_forward().expect("read");
    for lp in out.logps {
        assert!(
            (lp + 2.0 * 4f64.ln()).abs() <= 8.0 * F32_UNIT_ROUNDOFF * 4.0,
            "{lp}"
        );
    }
}
