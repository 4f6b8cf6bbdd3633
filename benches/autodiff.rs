//! The cost of a gradient against the cost of the function: the mean DPO loss of 1,000 pairs
//! under a tabular softmax policy over 64 responses (fixed reference, fixed random pairs from a
//! seeded generator), evaluated by the same generic code
//! - forward only, in `f64`;
//! - forward and backward on the tape, giving the gradient with respect to all 64 logits.
//!
//! After criterion's own report, `cargo bench` prints the gradient/forward cost ratio measured
//! in the same run (medians of interleaved batches).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use dpo_oracle::autodiff::with_tape;
use dpo_oracle::scalar::log_softmax;
use dpo_oracle::verify::engine::composite::mean_tabular_dpo_loss;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};

/// Responses of the tabular policy.
const RESPONSES: usize = 64;
/// Preference pairs in the batch.
const PAIRS: usize = 1000;
/// The KL weight (the paper's default).
const BETA: f64 = 0.1;
/// Seed of the generator that draws the logits and the pairs.
const SEED: u64 = 2305_18290;

/// A fixed problem: policy logits, reference log-probabilities, pairs $(y_w, y_l)$.
struct Problem {
    theta: Vec<f64>,
    reference: Vec<f64>,
    pairs: Vec<(usize, usize)>,
}

impl Problem {
    fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(SEED);
        let mut logits = || -> Vec<f64> {
            (0..RESPONSES)
                .map(|_| rng.random_range(-3.0..3.0))
                .collect()
        };
        let theta = logits();
        let reference = log_softmax(&logits()).expect("64 logits");
        let pairs = (0..PAIRS)
            .map(|_| {
                let w = rng.random_range(0..RESPONSES);
                let l = (w + rng.random_range(1..RESPONSES)) % RESPONSES;
                (w, l)
            })
            .collect();
        Problem {
            theta,
            reference,
            pairs,
        }
    }

    /// The loss in `f64`.
    fn forward(&self) -> f64 {
        mean_tabular_dpo_loss(black_box(&self.theta), &self.reference, &self.pairs, BETA)
            .expect("valid problem")
    }

    /// The loss and its gradient with respect to every logit, on a fresh tape.
    fn gradient(&self) -> (f64, Vec<f64>) {
        with_tape(|t| {
            // Per pair: margin, shift, scale, softplus; plus the log-softmax and the mean.
            t.reserve(4 * PAIRS + 2 * RESPONSES + 4, 5 * PAIRS + 4 * RESPONSES + 4);
            let theta: Vec<_> = black_box(&self.theta).iter().map(|&x| t.var(x)).collect();
            let loss = mean_tabular_dpo_loss(&theta, &self.reference, &self.pairs, BETA)
                .expect("valid problem");
            (loss.value(), loss.backward().wrt_slice(&theta))
        })
    }
}

fn criterion_benches(c: &mut Criterion, problem: &Problem) {
    let mut group = c.benchmark_group("mean DPO loss, 1000 pairs, 64 responses");
    group.bench_function("forward f64", |b| b.iter(|| problem.forward()));
    group.bench_function("forward+backward tape", |b| b.iter(|| problem.gradient()));
    group.finish();
}

/// Time per call of `f` over one batch of `batch` calls.
fn batch_time(f: &mut impl FnMut(), batch: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed() / batch
}

/// Interleaved batches of both, so that both see the same machine state; the ratio of the
/// medians, and of the minima (the least disturbed batches on a shared machine).
fn report_ratio(problem: &Problem) {
    let (mut forward, mut gradient) = (Vec::new(), Vec::new());
    let mut run_forward = || {
        black_box(problem.forward());
    };
    let mut run_gradient = || {
        black_box(problem.gradient());
    };
    for _ in 0..41 {
        forward.push(batch_time(&mut run_forward, 200));
        gradient.push(batch_time(&mut run_gradient, 200));
    }
    forward.sort();
    gradient.sort();
    let ratio = |f: Duration, g: Duration| g.as_secs_f64() / f.as_secs_f64();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "gradient/forward cost ratio: {:.2} of medians (forward {:.1} µs, forward+backward {:.1} µs), \
         {:.2} of minima ({:.1} µs, {:.1} µs); 41 interleaved batches of 200 calls",
        ratio(forward[20], gradient[20]),
        micros(forward[20]),
        micros(gradient[20]),
        ratio(forward[0], gradient[0]),
        micros(forward[0]),
        micros(gradient[0]),
    );
}

fn main() {
    let problem = Problem::new();
    // Same loss both ways (the tape's value is the f64 evaluation, bit for bit).
    assert_eq!(problem.forward(), problem.gradient().0);
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &problem);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        report_ratio(&problem);
    }
}
