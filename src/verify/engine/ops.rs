//! The catalogue of the engine's operations, each with its domain and a closed-form derivative
//! derived by hand and written here independently of [`crate::autodiff::elementary`].

use super::function::{Domain, Function, Tolerance};
use crate::autodiff::AutodiffError;
use crate::numdiff::EVALUATION_REL_ERROR;
use crate::prec::{softmax_rel, ELEMENTARY_ULPS, UNIT_ROUNDOFF};
use crate::scalar::{dot, log_softmax, mean, Real};

/// The constants $(a, b)$ of [`Op::Affine`].
const AFFINE: (f64, f64) = (-0.1, 2.5);

/// One operation of the engine, seen as a function of a slice of arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// $a + b$.
    Add,
    /// $a - b$.
    Sub,
    /// $a b$.
    Mul,
    /// $a / b$.
    Div,
    /// $-x$.
    Neg,
    /// $a x + b$ with the constants $a = -0.1$, $b = 2.5$ (the shape of the DPO loss's
    /// $-\beta m_\theta + \beta m_{\text{ref}}$).
    Affine,
    /// $x^n$.
    Powi(i32),
    /// $e^x$.
    Exp,
    /// $\ln x$.
    Ln,
    /// $\ln(1 + x)$.
    Ln1p,
    /// $e^x - 1$.
    ExpM1,
    /// $\sqrt x$.
    Sqrt,
    /// $\max(x, 0)$; its derivative at the kink 0 is defined as 0.
    Relu,
    /// $|x|$; its derivative at 0 is defined as 0.
    Abs,
    /// $\sigma(x)$.
    Sigmoid,
    /// $\ln(1 + e^x)$.
    Softplus,
    /// $\ln\sigma(x)$.
    LogSigmoid,
    /// $\sum_i x_i$.
    Sum,
    /// $\frac1n \sum_i x_i$.
    Mean,
    /// $\ln\sum_i e^{x_i}$.
    Logsumexp,
    /// $\log\operatorname{softmax}(x)\_k$.
    LogSoftmax(usize),
    /// $\sum_i a_i b_i$ with $a$ the first and $b$ the second half of the arguments.
    Dot,
}

impl Op {
    /// Every operation, with representative exponents for `Powi`.
    pub const ALL: [Op; 27] = [
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Neg,
        Op::Affine,
        Op::Powi(-3),
        Op::Powi(-1),
        Op::Powi(1),
        Op::Powi(2),
        Op::Powi(5),
        Op::Exp,
        Op::Ln,
        Op::Ln1p,
        Op::ExpM1,
        Op::Sqrt,
        Op::Relu,
        Op::Abs,
        Op::Sigmoid,
        Op::Softplus,
        Op::LogSigmoid,
        Op::Sum,
        Op::Mean,
        Op::Logsumexp,
        Op::LogSoftmax(0),
        Op::LogSoftmax(2),
        Op::Dot,
    ];

    /// The number of arguments, or `None` for a reduction over a slice.
    pub fn arity(self) -> Option<usize> {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div => Some(2),
            Op::Sum | Op::Mean | Op::Logsumexp | Op::LogSoftmax(_) | Op::Dot => None,
            _ => Some(1),
        }
    }
}

/// The logistic function by cases, relatively accurate for every $t$:
/// $\sigma(t) = 1/(1 + e^{-t})$ for $t \ge 0$ and $e^{t}/(1 + e^{t})$ for $t < 0$ (where
/// $e^{-t}$ would overflow once $t < -709.78$ while $\sigma(t)$ is still as large as $10^{-308}$).
pub fn logistic(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// The unary closed forms: $f\'(x)$.
fn unary_derivative(op: Op, x: f64) -> f64 {
    match op {
        Op::Neg => -1.0,
        Op::Affine => AFFINE.0,
        Op::Powi(n) => {
            // n x^{n-1}, the power by repeated multiplication (of 1/x when n - 1 < 0).
            let base = if n > 0 { x } else { 1.0 / x };
            let power = (0..(n - 1).unsigned_abs()).fold(1.0, |p, _| p * base);
            f64::from(n) * power
        }
        Op::Exp | Op::ExpM1 => x.exp(),
        Op::Ln => 1.0 / x,
        Op::Ln1p => 1.0 / (1.0 + x),
        Op::Sqrt => 1.0 / (2.0 * x.sqrt()),
        Op::Relu => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Op::Abs => {
            if x == 0.0 {
                0.0
            } else {
                x.signum()
            }
        }
        // σ'(x) = e^{-x}/(1 + e^{-x})², an even function: evaluate at −|x| to avoid ∞/∞.
        Op::Sigmoid => {
            let e = (-x.abs()).exp();
            e / ((1.0 + e) * (1.0 + e))
        }
        Op::Softplus => logistic(x),
        Op::LogSigmoid => logistic(-x),
        _ => unreachable!("{op:?} is not unary"),
    }
}

/// $\operatorname{softmax}(x)\_j = e^{x_j - m}/\sum_i e^{x_i - m}$ with $m = \max_i x_i$: a
/// route that never forms the log-sum-exp.
pub fn softmax(xs: &[f64]) -> Vec<f64> {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = xs.iter().map(|&x| (x - m).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| w / total).collect()
}

/// $\partial \log\operatorname{softmax}(x)\_k / \partial x_j = \delta_{jk} - \operatorname{softmax}\_j$,
/// with $1 - \operatorname{softmax}\_k$ written as $\sum_{i \ne k}\operatorname{softmax}\_i$ (no
/// cancellation).
pub fn log_softmax_gradient(xs: &[f64], k: usize) -> Vec<f64> {
    let p = softmax(xs);
    let rest: f64 = p
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != k)
        .map(|(_, q)| q)
        .sum();
    p.iter()
        .enumerate()
        .map(|(j, &q)| if j == k { rest } else { -q })
        .collect()
}

impl Function for Op {
    fn name(&self) -> String {
        format!("{self:?}")
    }

    fn accepts(&self, n: usize) -> bool {
        match (self, self.arity()) {
            (_, Some(k)) => n == k,
            (Op::Dot, None) => n >= 2 && n % 2 == 0,
            (Op::LogSoftmax(k), None) => n > *k,
            (_, None) => n >= 1,
        }
    }

    fn domain(&self, i: usize) -> Domain {
        // Largest x with e^x finite is ln(f64::MAX) ≈ 709.78.
        let below_overflow = Domain::interval(f64::NEG_INFINITY, 709.78);
        match self {
            // |b| ≥ 1e-100 keeps a/b² ≤ 1e204 finite.
            Op::Div if i == 1 => Domain::REAL.away_from_zero(1e-100),
            // |x| ≥ 1e-30 keeps x^{n-1} within 1e±150 (no overflow, no underflow) for the
            // exponents used.
            Op::Powi(_) => Domain::REAL.away_from_zero(1e-30),
            Op::Exp | Op::ExpM1 => below_overflow,
            Op::Ln | Op::Sqrt => Domain::interval(0.0, f64::INFINITY).away_from_zero(1e-300),
            Op::Ln1p => Domain::interval(-1.0 + f64::EPSILON, f64::INFINITY),
            Op::Relu | Op::Abs => Domain::REAL.with_kink(),
            _ => Domain::REAL,
        }
    }

    /// Built-in inputs: every domain sample point for a unary operation, pairs of them for a
    /// binary one, and fixed vectors (with extremes, ties and $\pm 10^4$) for reductions.
    fn sample_inputs(&self) -> Vec<Vec<f64>> {
        match self.arity() {
            Some(1) => self
                .domain(0)
                .sample_points()
                .into_iter()
                .map(|x| vec![x])
                .collect(),
            Some(_) => {
                let (a, b) = (self.domain(0), self.domain(1));
                let mut inputs = Vec::new();
                for &x in a.sample_points().iter().step_by(2) {
                    for &y in b.sample_points().iter().step_by(3) {
                        inputs.push(vec![x, y]);
                    }
                }
                inputs
            }
            None => {
                let vectors: [&[f64]; 8] = [
                    &[0.5, -1.0, 2.0],
                    &[0.0, 0.0, 0.0, 0.0],
                    &[-1e4, 3.0, 1e4, -2.0],
                    &[709.78, 700.0, -1e4, 1.0],
                    &[-1e-300, 1e-300, 1e-8, -1e-8],
                    &[30.0, -30.0, 29.0, 31.0, -700.0, 0.25],
                    &[-5.0, -5.0, -5.0],
                    &[1e4, 1e4 - 1.0, -1e4, 0.0, 1e-3, 5.0],
                ];
                vectors
                    .into_iter()
                    .filter(|v| self.accepts(v.len()))
                    .map(<[f64]>::to_vec)
                    .collect()
            }
        }
    }

    fn apply<R: Real>(&self, xs: &[R]) -> Result<R, AutodiffError> {
        if let Some(k) = self.arity() {
            if xs.len() != k {
                return Err(AutodiffError::ShapeMismatch {
                    op: "Op::apply",
                    left: vec![xs.len()],
                    right: vec![k],
                });
            }
        }
        let x = |i: usize| xs[i];
        Ok(match *self {
            Op::Add => x(0) + x(1),
            Op::Sub => x(0) - x(1),
            Op::Mul => x(0) * x(1),
            Op::Div => x(0) / x(1),
            Op::Neg => -x(0),
            Op::Affine => x(0).affine(AFFINE.0, AFFINE.1),
            Op::Powi(n) => x(0).powi(n),
            Op::Exp => x(0).exp(),
            Op::Ln => x(0).ln(),
            Op::Ln1p => x(0).ln_1p(),
            Op::ExpM1 => x(0).exp_m1(),
            Op::Sqrt => x(0).sqrt(),
            Op::Relu => x(0).relu(),
            Op::Abs => x(0).abs(),
            Op::Sigmoid => x(0).sigmoid(),
            Op::Softplus => x(0).softplus(),
            Op::LogSigmoid => x(0).log_sigmoid(),
            Op::Sum => R::sum(xs)?,
            Op::Mean => mean(xs)?,
            Op::Logsumexp => R::logsumexp(xs)?,
            Op::LogSoftmax(k) => {
                *log_softmax(xs)?
                    .get(k)
                    .ok_or(AutodiffError::IndexOutOfRange {
                        op: "log_softmax",
                        index: k,
                        len: xs.len(),
                    })?
            }
            Op::Dot => {
                let (a, b) = xs.split_at(xs.len() / 2);
                dot(a, b)?
            }
        })
    }

    fn closed_form_gradient(&self, xs: &[f64]) -> Vec<f64> {
        let n = xs.len();
        match *self {
            Op::Add => vec![1.0, 1.0],
            Op::Sub => vec![1.0, -1.0],
            Op::Mul => vec![xs[1], xs[0]],
            // ∂(a/b)/∂b = −a/b².
            Op::Div => vec![1.0 / xs[1], -xs[0] / (xs[1] * xs[1])],
            Op::Sum => vec![1.0; n],
            Op::Mean => vec![1.0 / n as f64; n],
            Op::Logsumexp => softmax(xs),
            Op::LogSoftmax(k) => log_softmax_gradient(xs, k),
            Op::Dot => {
                let (a, b) = xs.split_at(n / 2);
                b.iter().chain(a).copied().collect()
            }
            op => vec![unary_derivative(op, xs[0])],
        }
    }

    fn tolerance(&self, xs: &[f64]) -> Tolerance {
        let max_abs = xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        match self {
            // Softmax weights e^{x_i − lse}: relative error grows with the exponents' size.
            Op::Logsumexp => Tolerance {
                rel: softmax_rel(max_abs),
                floor: f64::MIN_POSITIVE,
            },
            // δ_jk − softmax_j: entries are O(1) and sum to 0; the reverse sweep forms
            // 1 − softmax_k by subtraction, so the error is absolute, at the scale 1.
            Op::LogSoftmax(_) => Tolerance {
                rel: softmax_rel(max_abs),
                floor: 1.0,
            },
            _ => Tolerance {
                rel: ELEMENTARY_ULPS * f64::EPSILON,
                floor: f64::MIN_POSITIVE,
            },
        }
    }

    fn length_scale(&self, xs: &[f64], i: usize) -> f64 {
        match self {
            Op::Exp
            | Op::ExpM1
            | Op::Sigmoid
            | Op::Softplus
            | Op::LogSigmoid
            | Op::Logsumexp
            | Op::LogSoftmax(_) => 1.0,
            Op::Ln | Op::Sqrt | Op::Powi(_) => xs[0].abs(),
            Op::Div if i == 1 => xs[1].abs(),
            Op::Ln1p => (1.0 + xs[0]).abs(),
            // Linear pieces: no step is too long as long as it stays clear of the kink.
            Op::Relu | Op::Abs => xs[0].abs().max(1.0),
            // Linear in each argument: the longest step the inputs' scale suggests, so that
            // rounding (at the scale of the largest term) is divided by a long step.
            _ => xs.iter().fold(1.0_f64, |m, x| m.max(x.abs())),
        }
    }

    fn evaluation_noise(&self, xs: &[f64], value: f64) -> f64 {
        let n = xs.len() as f64;
        let extra = match self {
            // Sums of terms that may cancel round at the scale of the terms (n roundings of
            // partial sums up to Σ|terms|), not of the result.
            Op::Add | Op::Sub | Op::Sum | Op::Mean => {
                n * UNIT_ROUNDOFF * xs.iter().map(|x| x.abs()).sum::<f64>()
            }
            Op::Dot => {
                let (a, b) = xs.split_at(xs.len() / 2);
                n * UNIT_ROUNDOFF * a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum::<f64>()
            }
            // m + ln Σ e^{x_i − m}: each shifted exponent t_i rounds by u|t_i|, which costs
            // the sum at most u·max_t t e^{−t} < u per term, then ln and + m round at the scale
            // of |m|; x_k − lse rounds at the scale of max|x| too. At most 3u(max|x| + n).
            Op::Logsumexp | Op::LogSoftmax(_) => {
                let max_abs = xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
                3.0 * UNIT_ROUNDOFF * (max_abs + n)
            }
            _ => 0.0,
        };
        EVALUATION_REL_ERROR * value.abs() + 2.0 * extra
    }
}
