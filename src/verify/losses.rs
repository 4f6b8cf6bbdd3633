//! Claims about the losses, the sequence log-probabilities and Plackett–Luce: every variant's
//! closed-form gradient agrees with the reverse tape (the same generic formula with `Var`) and
//! with Richardson finite differences; Plackett–Luce at $K = 2$ is the sigmoid loss; the
//! log-probability gradient agrees with the tape's `log_softmax`; every loss is finite and the
//! sigmoid loss accurate at $|\beta h| = 10^4$.
//!
//! The helpers (`variants`, `OwnedBatch`, `tape_gradient`, `fd_gradient`) are public so that the
//! tests in `tests/` check exactly the variants this table reports on.

use ndarray::{Array2, Array3};

use super::ClaimCheck;
use crate::autodiff::with_tape;
use crate::convention::Convention;
use crate::logps::{sequence_logps_grad, LogpError, LogpOptions, Reduction};
use crate::loss::plackett_luce::plackett_luce_loss_and_grad;
use crate::loss::{self, logistic, LossSpec, LossType, PairLogps, PreparedLoss};
use crate::numdiff;
use crate::prec::{
    self, COMPOSITE_REL, FEW_ROUNDINGS_REL, FEW_ROUNDINGS_REL_F32, FINITE_DIFFERENCE_REL,
};
use crate::scalar::{log_softmax, mean, Dual, Real};

/// A named loss variant and the convention it is prepared under (`None`: [`loss::prepare`]).
#[derive(Debug, Clone)]
pub struct Variant {
    /// Human-readable label (`robust ε=0.2`, `ipo trl-0.28 token mean`, …).
    pub label: String,
    /// The specification.
    pub spec: LossSpec,
    /// The convention, if not the authors' semantics.
    pub convention: Option<Convention>,
}

impl Variant {
    fn new(label: &str, spec: LossSpec) -> Self {
        Variant {
            label: label.to_string(),
            spec,
            convention: None,
        }
    }

    /// Prepares the variant on a batch.
    pub fn prepare(&self, batch: &PairLogps) -> Result<PreparedLoss, loss::LossError> {
        match self.convention {
            Some(c) => c.prepare(&self.spec, batch),
            None => loss::prepare(&self.spec, batch),
        }
    }
}

/// Every loss type at $\beta = 0.1$ with the parameters it needs, plus the variants with and
/// without reference, BCO's shift, and IPO on token means.
pub fn variants() -> Vec<Variant> {
    let b = 0.1;
    let mut out: Vec<Variant> = LossType::ALL
        .iter()
        .map(|&ty| {
            let eps = match ty {
                LossType::Cdpo => 0.1,
                LossType::Robust => 0.2,
                LossType::ExoPair => 0.1,
                LossType::Aot => 0.1,
                LossType::AotUnpaired => 0.05,
                _ => 0.0,
            };
            Variant::new(ty.name(), LossSpec::new(ty, b).with_label_smoothing(eps))
        })
        .collect();
    let spec = |ty| LossSpec::new(ty, b);
    out.push(Variant::new(
        "bco_pair δ=0.3",
        spec(LossType::BcoPair).with_bco_delta(0.3),
    ));
    out.push(Variant::new(
        "discopop τ=0.5",
        spec(LossType::Discopop).with_tau(0.5),
    ));
    for ty in [
        LossType::Sigmoid,
        LossType::Ipo,
        LossType::NcaPair,
        LossType::Aot,
        LossType::AotUnpaired,
    ] {
        out.push(Variant::new(
            &format!("{} reference-free", ty.name()),
            spec(ty).with_reference_free(true),
        ));
    }
    out.push(Variant {
        label: "ipo token mean (trl-0.28)".to_string(),
        spec: spec(LossType::Ipo),
        convention: Some(Convention::Trl028),
    });
    out
}

/// A batch that owns its arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedBatch {
    /// `[policy_chosen, policy_rejected, reference_chosen, reference_rejected]`.
    pub logps: [Vec<f64>; 4],
    /// Scored tokens of the chosen and rejected responses.
    pub counts: [Vec<usize>; 2],
}

impl OwnedBatch {
    /// A deterministic batch of `n` pairs from `seed`: log-probabilities in $[-20, -1]$, token
    /// counts in $[1, 16]$, and every chosen-minus-rejected difference distinct (aot sorts).
    pub fn sample(n: usize, seed: u64) -> OwnedBatch {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut logps: [Vec<f64>; 4] = Default::default();
        for array in &mut logps {
            *array = (0..n).map(|_| -1.0 - 19.0 * next()).collect();
        }
        let mut counts: [Vec<usize>; 2] = Default::default();
        for c in &mut counts {
            *c = (0..n).map(|_| 1 + (16.0 * next()) as usize % 16).collect();
        }
        OwnedBatch { logps, counts }
    }

    /// The batch as [`PairLogps`] with token counts.
    pub fn view(&self) -> PairLogps<'_> {
        let [pc, pr, rc, rr] = &self.logps;
        PairLogps::new(pc, pr, rc, rr).with_token_counts(&self.counts[0], &self.counts[1])
    }
}

/// The gradient of the batch-mean loss by one backward sweep over the generic formula.
pub fn tape_gradient(prep: &PreparedLoss, batch: &OwnedBatch) -> [Vec<f64>; 4] {
    with_tape(|t| {
        let vars: Vec<Vec<_>> = batch
            .logps
            .iter()
            .map(|a| a.iter().map(|&x| t.var(x)).collect())
            .collect();
        let losses = prep.losses(&vars[0], &vars[1], &vars[2], &vars[3]);
        let g = mean(&losses).expect("non-empty batch").backward();
        [0, 1, 2, 3].map(|k| g.wrt_slice(&vars[k]))
    })
}

/// The gradient of the batch-mean loss by forward mode (one dual-number pass per input) through
/// the `autodiff` crate's own derivative rules, independent of the engine's elementary table.
pub fn dual_gradient(prep: &PreparedLoss, batch: &OwnedBatch) -> [Vec<f64>; 4] {
    let n = batch.logps[0].len();
    [0, 1, 2, 3].map(|k| {
        (0..n)
            .map(|i| {
                let lift = |a: usize| -> Vec<Dual> {
                    let seeded = |j: usize, x: f64| {
                        if a == k && j == i {
                            Dual::var(x)
                        } else {
                            Dual::cst(x)
                        }
                    };
                    batch.logps[a]
                        .iter()
                        .enumerate()
                        .map(|(j, &x)| seeded(j, x))
                        .collect()
                };
                let losses = prep.losses(&lift(0), &lift(1), &lift(2), &lift(3));
                mean(&losses).map_or(f64::NAN, |m| m.dx)
            })
            .collect()
    })
}

/// The mean loss of `prep` at the four arrays packed in `x` (length $4B$).
fn mean_loss_at(prep: &PreparedLoss, x: &[f64]) -> f64 {
    let n = x.len() / 4;
    let losses = prep.losses(&x[..n], &x[n..2 * n], &x[2 * n..3 * n], &x[3 * n..]);
    losses.iter().sum::<f64>() / n as f64
}

/// The gradient of the batch-mean loss by Richardson central differences.
pub fn fd_gradient(prep: &PreparedLoss, batch: &OwnedBatch) -> [Vec<f64>; 4] {
    let x: Vec<f64> = batch.logps.concat();
    let n = x.len() / 4;
    let g: Vec<f64> = numdiff::gradient(|x| mean_loss_at(prep, x), &x, numdiff::DEFAULT_REL_STEP)
        .iter()
        .map(|e| e.derivative)
        .collect();
    [0, 1, 2, 3].map(|k| g[k * n..(k + 1) * n].to_vec())
}

/// Normwise relative error $\max_i |a_i - b_i| / \max(\max_i |b_i|, \text{floor})$.
pub fn normwise_error(a: &[f64], b: &[f64], floor: f64) -> f64 {
    let scale = b.iter().fold(floor, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| prec::rel_error(*x, *y, scale))
        .fold(0.0, f64::max)
}

/// The closed-form gradient's worst normwise error against `reference` over the four arrays.
fn gradient_error(
    prep: &PreparedLoss,
    batch: &OwnedBatch,
    reference: impl Fn(&PreparedLoss, &OwnedBatch) -> [Vec<f64>; 4],
    floor: f64,
) -> f64 {
    let [pc, pr, rc, rr] = &batch.logps;
    let closed = prep.mean_gradient(pc, pr, rc, rr);
    let other = reference(prep, batch);
    let all = |g: &[Vec<f64>; 4]| g.concat();
    normwise_error(&all(&closed), &all(&other), floor)
}

/// The errors of every variant's closed-form gradient against `reference` on three batches.
fn variant_errors(
    reference: impl Fn(&PreparedLoss, &OwnedBatch) -> [Vec<f64>; 4] + Copy,
    floor: f64,
) -> Vec<f64> {
    let mut errors = Vec::new();
    for v in variants() {
        for (n, seed) in [(1, 1), (5, 2), (8, 3)] {
            let batch = OwnedBatch::sample(n, seed);
            match v.prepare(&batch.view()) {
                Ok(prep) => errors.push(gradient_error(&prep, &batch, reference, floor)),
                Err(_) => errors.push(f64::INFINITY),
            }
        }
    }
    errors
}

/// Plackett–Luce at $K = 2$ against the sigmoid loss, value and gradient.
fn plackett_luce_two_errors() -> Vec<f64> {
    let batch = OwnedBatch::sample(6, 4);
    let [pc, pr, rc, rr] = &batch.logps;
    let mut errors = Vec::new();
    for beta in [0.05, 0.1, 1.0, 5.0] {
        let spec = LossSpec::new(LossType::Sigmoid, beta);
        for i in 0..pc.len() {
            let single = PairLogps::new(&pc[i..=i], &pr[i..=i], &rc[i..=i], &rr[i..=i]);
            let Ok(out) = loss::compute(&spec, &single) else {
                return vec![f64::INFINITY];
            };
            let Ok((pl, grad)) =
                plackett_luce_loss_and_grad(beta, &[pc[i], pr[i]], &[rc[i], rr[i]], &[0, 1])
            else {
                return vec![f64::INFINITY];
            };
            errors.push(prec::rel_error(pl, out.loss, 1.0));
            errors.push(prec::rel_error(grad[0], out.grad_policy_chosen[0], 1.0));
            errors.push(prec::rel_error(grad[1], out.grad_policy_rejected[0], 1.0));
        }
    }
    errors
}

/// A small logits/labels problem with ignored labels, a mask and an empty row.
pub fn logits_problem() -> (Array3<f64>, Array2<i64>, Array2<bool>) {
    let (b, t, v) = (3, 6, 5);
    let logits = Array3::from_shape_fn((b, t, v), |(i, j, k)| {
        ((i * 31 + j * 7 + k * 3) % 11) as f64 * 0.7 - 3.0 + (k as f64).sin()
    });
    let mut labels = Array2::from_shape_fn((b, t), |(i, j)| ((i + 2 * j) % v) as i64);
    labels[[0, 1]] = -100; // a prompt token
    labels[[1, 5]] = -100; // padding
    for j in 0..t {
        labels[[2, j]] = -100; // an empty response
    }
    let mut mask = Array2::from_elem((b, t), true);
    mask[[0, 4]] = false;
    (logits, labels, mask)
}

/// $\partial(\sum_b u_b \log p_b)/\partial\\,\text{logits}$ on the tape, through `log_softmax` on
/// `Var`, with the shift and masking written out directly.
pub fn logps_tape_gradient(
    logits: &Array3<f64>,
    labels: &Array2<i64>,
    mask: &Array2<bool>,
    opts: &LogpOptions,
    upstream: &[f64],
) -> Array3<f64> {
    let (b, t, _) = logits.dim();
    with_tape(|tape| {
        let vars = tape.vars(logits);
        let mut total = tape.var(0.0);
        for row in 0..b {
            let mut terms = Vec::new();
            for pos in usize::from(opts.shift)..t {
                let label = labels[[row, pos]];
                if label == opts.ignore_index || !mask[[row, pos]] {
                    continue;
                }
                let p = pos - usize::from(opts.shift);
                let xs: Vec<_> = vars.slice(ndarray::s![row, p, ..]).to_vec();
                terms.push(log_softmax(&xs).expect("V > 0")[label as usize]);
            }
            if terms.is_empty() {
                continue;
            }
            let count = terms.len() as f64;
            let sum = Real::sum(&terms).expect("non-empty");
            let reduced = match opts.reduction {
                Reduction::Sum => sum,
                Reduction::Mean => sum / count,
            };
            total = total + reduced * upstream[row];
        }
        total.backward().wrt_array(&vars)
    })
}

/// The closed-form and tape gradients of $\sum_b u_b \log p_b$ on [`logits_problem`].
pub fn logps_gradients(
    opts: &LogpOptions,
    upstream: &[f64],
) -> Result<(Array3<f64>, Array3<f64>), LogpError> {
    let (logits, labels, mask) = logits_problem();
    let closed = sequence_logps_grad(
        logits.view(),
        labels.view(),
        Some(mask.view()),
        opts,
        ndarray::aview1(upstream),
    )?;
    let tape = logps_tape_gradient(&logits, &labels, &mask, opts, upstream);
    Ok((closed, tape))
}

/// Every combination of the shift and the reduction.
pub fn logp_option_grid() -> Vec<LogpOptions> {
    let mut out = Vec::new();
    for shift in [true, false] {
        for reduction in [Reduction::Sum, Reduction::Mean] {
            out.push(
                LogpOptions::default()
                    .with_shift(shift)
                    .with_reduction(reduction),
            );
        }
    }
    out
}

fn logps_gradient_errors() -> Vec<f64> {
    logp_option_grid()
        .iter()
        .map(|opts| match logps_gradients(opts, &[0.7, -1.3, 2.0]) {
            Ok((closed, tape)) => normwise_error(
                closed.as_slice().unwrap_or(&[]),
                tape.as_slice().unwrap_or(&[]),
                1e-300,
            ),
            Err(_) => f64::INFINITY,
        })
        .collect()
}

/// The reference value of $-\log\sigma(z)$ for $|z| \ge 40$: $\max(-z, 0) + e^{-|z|}$, whose
/// relative truncation error $e^{-|z|}/2 < 10^{-17}$ is below `f64` resolution.
pub fn sigmoid_loss_asymptote(z: f64) -> f64 {
    (-z).max(0.0) + (-z.abs()).exp()
}

/// Every loss type finite (loss and gradient) at $\beta h = \pm 10^4$, and the sigmoid loss in
/// `f64` and `f32` within its stated error of the asymptote (error relative to the tolerance:
/// the row passes at $\le 1$).
fn extreme_errors() -> Vec<f64> {
    let mut errors = Vec::new();
    for v in variants() {
        for h in [-1e5, 1e5] {
            // β = 0.1, so βh = ∓1e4.
            let zeros = [0.0, 0.0];
            let pc = [h, h / 2.0];
            let pr = [0.0, -h / 2.0];
            let b = PairLogps::new(&pc, &pr, &zeros, &zeros).with_token_counts(&[1, 1], &[1, 1]);
            let finite = v.prepare(&b).and_then(|p| p.evaluate(&b)).map(|out| {
                out.losses.iter().all(|x| x.is_finite())
                    && [
                        &out.grad_policy_chosen,
                        &out.grad_policy_rejected,
                        &out.grad_reference_chosen,
                        &out.grad_reference_rejected,
                    ]
                    .iter()
                    .all(|g| g.iter().all(|x| x.is_finite()))
            });
            errors.push(if finite == Ok(true) {
                0.0
            } else {
                f64::INFINITY
            });
        }
    }
    for z in [-1e4, -1e3, -100.0, -40.0, 40.0, 100.0, 1e3, 1e4] {
        let reference = sigmoid_loss_asymptote(z);
        let f64_err = prec::rel_error(logistic::cdpo(z, 0.0), reference, f64::MIN_POSITIVE);
        errors.push(f64_err / (FEW_ROUNDINGS_REL));
        let f32_err = prec::rel_error(
            f64::from(logistic::sigmoid_loss_f32(z as f32)),
            reference,
            f64::MIN_POSITIVE,
        );
        // Below the f32 normal range (z ≥ 100) the result is subnormal or 0 with absolute spacing
        // 2^-149 ≈ 1.4e-45: compare absolutely there, to half a subnormal spacing plus rounding.
        let f32_err = if reference < f64::from(f32::MIN_POSITIVE) {
            (f64::from(logistic::sigmoid_loss_f32(z as f32)) - reference).abs() / 2f64.powi(-149)
        } else {
            f32_err / (FEW_ROUNDINGS_REL_F32)
        };
        errors.push(f32_err);
    }
    errors
}

/// The rows of the self-verification table for the losses.
pub fn checks() -> Vec<ClaimCheck> {
    vec![
        ClaimCheck::new(
            "L-grad-tape",
            "every loss variant: closed-form gradient = reverse tape",
            variant_errors(tape_gradient, 1e-300),
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "L-grad-dual",
            "every loss variant: closed-form gradient = forward-mode duals",
            variant_errors(dual_gradient, 1e-300),
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "L-grad-fd",
            "every loss variant: closed-form gradient = finite differences",
            variant_errors(fd_gradient, 1e-3),
            FINITE_DIFFERENCE_REL,
        ),
        ClaimCheck::new(
            "L-pl-k2",
            "Plackett-Luce loss at K = 2 = sigmoid loss (value, gradient)",
            plackett_luce_two_errors(),
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "L-logps-grad",
            "sequence log-prob gradient = tape log_softmax (shift, mask, sum/mean)",
            logps_gradient_errors(),
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "L-extreme",
            "|beta h| = 1e4: all losses finite; sigmoid within 4 ulp (f64, f32)",
            extreme_errors(),
            1.0,
        ),
    ]
}
