//! Sequence log-probabilities $\log\pi(y|x) = \sum_t \log\operatorname{softmax}(\text{logits}\_t)\_{y_t}$
//! from logits `[B, T, V]` and labels `[B, T]`, and their gradient with respect to the logits.
//!
//! - **Causal shift** ([`LogpOptions::shift`]): the logits at position $t$ predict the label at
//!   $t + 1$, so row $b$ scores `labels[b, 1..]` with `logits[b, ..T-1]`. Without the shift the
//!   caller has aligned them.
//! - **Masking** is by position, never by token value: a label position is scored when its label
//!   is not [`LogpOptions::ignore_index`] and the optional mask (aligned with the labels) is
//!   `true` there. (Masking by value, `label != pad_id`, drops a real EOS when EOS = PAD.)
//! - **Reduction**: the sum over scored tokens, or their mean; a mean over zero scored tokens is
//!   NaN ([`EmptyRule::Nan`], the authors' code) or $0$ ([`EmptyRule::ClampToOne`]: TRL divides
//!   by $\max(n, 1)$).
//! - **Numerics**: one pass over each vocabulary row with an online max-shifted log-sum-exp in
//!   `f64` ($m \leftarrow \max(m, x)$, $s \leftarrow s\\,e^{m_{\text{old}} - m} + e^{x - m}$), so no
//!   exponential overflows. [`sequence_logps_with_precision`] reproduces a trainer that takes the
//!   log-softmax in `f32` or bf16 ([`Precision`]).

mod precision;

use std::fmt;

use ndarray::{Array1, Array3, ArrayView1, ArrayView2, ArrayView3};

pub use precision::{bf16_bits_to_f32, f32_to_bf16_bits, round_to_bf16, Precision};

/// How the per-token log-probabilities of a response are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// $\sum_t \log p_t$ (the sequence log-probability).
    Sum,
    /// $\frac1n\sum_t \log p_t$ over the $n$ scored tokens.
    Mean,
}

/// What [`Reduction::Mean`] gives for a response with zero scored tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyRule {
    /// $0/0 = $ NaN (the authors' code, torchtune, OpenRLHF).
    Nan,
    /// Divide by $\max(n, 1)$, giving $0$ (TRL).
    ClampToOne,
}

/// Options of [`sequence_logps`]. Default: shift on, [`Reduction::Sum`], [`EmptyRule::Nan`],
/// ignore index $-100$.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LogpOptions {
    /// Whether logits at $t$ predict the label at $t + 1$.
    pub shift: bool,
    /// Sum or mean over scored tokens.
    pub reduction: Reduction,
    /// The mean's rule for zero scored tokens.
    pub empty: EmptyRule,
    /// The label value of unscored positions.
    pub ignore_index: i64,
}

impl Default for LogpOptions {
    fn default() -> Self {
        LogpOptions {
            shift: true,
            reduction: Reduction::Sum,
            empty: EmptyRule::Nan,
            ignore_index: -100,
        }
    }
}

impl LogpOptions {
    /// Sets the causal shift.
    pub fn with_shift(self, shift: bool) -> Self {
        LogpOptions { shift, ..self }
    }
    /// Sets the reduction.
    pub fn with_reduction(self, reduction: Reduction) -> Self {
        LogpOptions { reduction, ..self }
    }
    /// Sets the empty-response rule.
    pub fn with_empty(self, empty: EmptyRule) -> Self {
        LogpOptions { empty, ..self }
    }
    /// Sets the ignore index.
    pub fn with_ignore_index(self, ignore_index: i64) -> Self {
        LogpOptions {
            ignore_index,
            ..self
        }
    }
}

/// Per-row sequence log-probabilities and the number of scored tokens of each row.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceLogps {
    /// The reduced log-probability of each row.
    pub logps: Array1<f64>,
    /// The number of scored positions of each row.
    pub token_counts: Array1<usize>,
}

/// Bad logits, labels, mask or options.
#[derive(Debug, Clone, PartialEq)]
pub enum LogpError {
    /// Shapes that must agree do not.
    ShapeMismatch {
        /// Which array.
        what: &'static str,
        /// Its expected shape.
        expected: Vec<usize>,
        /// Its shape.
        found: Vec<usize>,
    },
    /// A label that is neither the ignore index nor in $[0, V)$.
    LabelOutOfRange {
        /// Row.
        batch: usize,
        /// Label position.
        pos: usize,
        /// The label.
        label: i64,
        /// The vocabulary size $V$.
        vocab: usize,
    },
    /// The causal shift needs at least two positions ($T \ge 2$).
    TooShortForShift,
    /// $V = 0$: there is no distribution to score.
    EmptyVocabulary,
    /// A scored position whose logits are all $-\infty$ (no distribution).
    NegInfRow {
        /// Row.
        batch: usize,
        /// Logit position.
        pos: usize,
    },
    /// A NaN or $+\infty$ logit at a scored position.
    NonFinite {
        /// Row.
        batch: usize,
        /// Logit position.
        pos: usize,
        /// Vocabulary index.
        token: usize,
        /// The value.
        value: f64,
    },
    /// A finite `f64` logit that overflows the reduced precision.
    NotRepresentable {
        /// Row.
        batch: usize,
        /// Logit position.
        pos: usize,
        /// The value.
        value: f64,
        /// The precision.
        precision: Precision,
    },
}

impl fmt::Display for LogpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what} has shape {found:?}, expected {expected:?}"),
            Self::LabelOutOfRange {
                batch,
                pos,
                label,
                vocab,
            } => write!(
                f,
                "label {label} at row {batch}, position {pos} is outside [0, {vocab}) and is not the ignore index"
            ),
            Self::TooShortForShift => write!(
                f,
                "sequence length < 2: the causal shift leaves no position to score"
            ),
            Self::EmptyVocabulary => write!(f, "vocabulary of size 0"),
            Self::NegInfRow { batch, pos } => write!(
                f,
                "every logit at row {batch}, position {pos} is -inf: no distribution to score"
            ),
            Self::NonFinite {
                batch,
                pos,
                token,
                value,
            } => write!(
                f,
                "logit {value} at row {batch}, position {pos}, token {token} (NaN or +inf)"
            ),
            Self::NotRepresentable {
                batch,
                pos,
                value,
                precision,
            } => write!(
                f,
                "logit {value} at row {batch}, position {pos} overflows {precision:?}"
            ),
        }
    }
}

impl std::error::Error for LogpError {}

/// For each row, the scored `(logit position, label)` pairs, after checking shapes and labels.
fn scored_positions(
    logits: &ArrayView3<f64>,
    labels: &ArrayView2<i64>,
    mask: Option<&ArrayView2<bool>>,
    opts: &LogpOptions,
) -> Result<Vec<Vec<(usize, usize)>>, LogpError> {
    let (b, t, v) = logits.dim();
    if labels.dim() != (b, t) {
        return Err(LogpError::ShapeMismatch {
            what: "labels",
            expected: vec![b, t],
            found: labels.shape().to_vec(),
        });
    }
    if let Some(m) = mask {
        if m.dim() != (b, t) {
            return Err(LogpError::ShapeMismatch {
                what: "mask",
                expected: vec![b, t],
                found: m.shape().to_vec(),
            });
        }
    }
    if v == 0 {
        return Err(LogpError::EmptyVocabulary);
    }
    scored_tokens(labels, mask, v, opts)
}

/// For each row of `labels` `[B, T]`, the scored `(logit position, label)` pairs: with the shift,
/// label position $t \ge 1$ is predicted by logit position $t - 1$. A position is scored when its
/// label is not `ignore_index` and the mask (if any) is `true` there; every label other than
/// `ignore_index` must be a token of the vocabulary of size `v`, masked or not. Shapes are the
/// caller's to check (the CUDA path shares this scan).
pub(crate) fn scored_tokens(
    labels: &ArrayView2<i64>,
    mask: Option<&ArrayView2<bool>>,
    v: usize,
    opts: &LogpOptions,
) -> Result<Vec<Vec<(usize, usize)>>, LogpError> {
    let (b, t) = labels.dim();
    if opts.shift && t < 2 {
        return Err(LogpError::TooShortForShift);
    }
    let offset = usize::from(opts.shift);
    (0..b)
        .map(|row| {
            let mut scored = Vec::new();
            for pos in offset..t {
                let label = labels[[row, pos]];
                if label == opts.ignore_index {
                    continue;
                }
                if label < 0 || label as u64 >= v as u64 {
                    return Err(LogpError::LabelOutOfRange {
                        batch: row,
                        pos,
                        label,
                        vocab: v,
                    });
                }
                if mask.is_none_or(|m| m[[row, pos]]) {
                    scored.push((pos - offset, label as usize));
                }
            }
            Ok(scored)
        })
        .collect()
}

/// $\log\sum_v e^{x_v}$ over one vocabulary row in a single pass (online max shift), in `f64`.
/// NaN or $+\infty$ is [`LogpError::NonFinite`]; all $-\infty$ is [`LogpError::NegInfRow`].
fn online_logsumexp(row: ArrayView1<f64>, batch: usize, pos: usize) -> Result<f64, LogpError> {
    let (mut m, mut s) = (f64::NEG_INFINITY, 0.0_f64);
    for (token, &x) in row.iter().enumerate() {
        if x.is_nan() || x == f64::INFINITY {
            return Err(LogpError::NonFinite {
                batch,
                pos,
                token,
                value: x,
            });
        }
        if x == f64::NEG_INFINITY {
            continue;
        }
        if x > m {
            s = s * (m - x).exp() + 1.0;
            m = x;
        } else {
            s += (x - m).exp();
        }
    }
    if m == f64::NEG_INFINITY {
        return Err(LogpError::NegInfRow { batch, pos });
    }
    Ok(m + s.ln())
}

/// The reduction of a row's per-token values: their sum, or the sum divided by the count under
/// the mean (with the empty rule for a zero count). `divide` performs the division.
fn reduce(sum: f64, count: usize, opts: &LogpOptions) -> f64 {
    match (opts.reduction, count, opts.empty) {
        (Reduction::Sum, _, _) => sum,
        (Reduction::Mean, 0, EmptyRule::Nan) => f64::NAN,
        (Reduction::Mean, n, _) => sum / n.max(1) as f64,
    }
}

/// Sequence log-probabilities of each row of `logits` `[B, T, V]` for `labels` `[B, T]`, with an
/// optional position mask `[B, T]` (aligned with the labels; `true` = scored, combined with the
/// ignore index). With the shift, `logits[:, t]` predicts `labels[:, t + 1]`. Accumulated in
/// `f64` with an online max-shifted log-sum-exp, one pass per vocabulary row.
///
/// Every label that is read (positions $1..T$ under the shift, all without) must be the ignore
/// index or in $[0, V)$, also where the mask is `false`; logits are checked (NaN, $+\infty$, a row
/// of $-\infty$) only at scored positions.
pub fn sequence_logps(
    logits: ArrayView3<f64>,
    labels: ArrayView2<i64>,
    mask: Option<ArrayView2<bool>>,
    opts: &LogpOptions,
) -> Result<SequenceLogps, LogpError> {
    sequence_logps_with_precision(logits, labels, mask, opts, Precision::F64)
}

/// [`sequence_logps`] as a trainer computes it in a reduced [`Precision`] (see there for the
/// model of the arithmetic: logits rounded to the storage type, log-softmax in `f32` with a
/// max-shifted two-pass log-sum-exp, per-token values stored in the storage type, sums
/// accumulated in `f32` and stored). Fixtures use it to state what a bf16 trainer actually gets;
/// the summation order of a GPU reduction may differ in the last bits of `f32`.
pub fn sequence_logps_with_precision(
    logits: ArrayView3<f64>,
    labels: ArrayView2<i64>,
    mask: Option<ArrayView2<bool>>,
    opts: &LogpOptions,
    precision: Precision,
) -> Result<SequenceLogps, LogpError> {
    let scored = scored_positions(&logits, &labels, mask.as_ref(), opts)?;
    let mut logps = Array1::zeros(scored.len());
    let mut token_counts = Array1::zeros(scored.len());
    for (b, row) in scored.iter().enumerate() {
        token_counts[b] = row.len();
        logps[b] = match precision {
            Precision::F64 => {
                let mut sum = 0.0;
                for &(pos, y) in row {
                    let lse = online_logsumexp(logits.slice(ndarray::s![b, pos, ..]), b, pos)?;
                    sum += logits[[b, pos, y]] - lse;
                }
                reduce(sum, row.len(), opts)
            }
            Precision::F32 | Precision::Bf16 => {
                let mut sum = 0.0_f32;
                for &(pos, y) in row {
                    sum += reduced_token_logp(
                        logits.slice(ndarray::s![b, pos, ..]),
                        y,
                        b,
                        pos,
                        precision,
                    )?;
                }
                let sum = precision.store(sum);
                let value = reduce(f64::from(sum), row.len(), opts);
                f64::from(precision.store(value as f32))
            }
        };
    }
    Ok(SequenceLogps {
        logps,
        token_counts,
    })
}

/// One token's $\log\operatorname{softmax}$ in reduced precision: logits stored in the precision,
/// the log-sum-exp in `f32` (max, then the sum of shifted exponentials), the result stored.
fn reduced_token_logp(
    row: ArrayView1<f64>,
    label: usize,
    batch: usize,
    pos: usize,
    precision: Precision,
) -> Result<f32, LogpError> {
    // The f64 pass validates the row (NaN, +inf, all -inf) with the same errors.
    online_logsumexp(row, batch, pos)?;
    let mut stored = Vec::with_capacity(row.len());
    for &x in row {
        let y = precision.store(x as f32);
        if y.is_infinite() && x.is_finite() {
            return Err(LogpError::NotRepresentable {
                batch,
                pos,
                value: x,
                precision,
            });
        }
        stored.push(y);
    }
    let m = stored.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f32 = stored.iter().map(|&x| (x - m).exp()).sum();
    Ok(precision.store(stored[label] - (m + s.ln())))
}

/// $\partial\big(\sum_b u_b\\,\text{logps}\_b\big)/\partial\\,\text{logits}$ for `upstream` $u$ of
/// length $B$: at each scored position $(b, t)$ with label $y$ it is
/// $u_b\\,(\mathbb 1(v = y) - \operatorname{softmax}(\text{logits}\_{b,t})\_v)$, divided by the row's
/// count under [`Reduction::Mean`]; zero at unscored positions. (This is the derivative of the
/// log-probability; the gradient of the negative log-likelihood, softmax minus one-hot, is its
/// negative.) Computed in `f64`.
pub fn sequence_logps_grad(
    logits: ArrayView3<f64>,
    labels: ArrayView2<i64>,
    mask: Option<ArrayView2<bool>>,
    opts: &LogpOptions,
    upstream: ArrayView1<f64>,
) -> Result<Array3<f64>, LogpError> {
    let scored = scored_positions(&logits, &labels, mask.as_ref(), opts)?;
    if upstream.len() != scored.len() {
        return Err(LogpError::ShapeMismatch {
            what: "upstream",
            expected: vec![scored.len()],
            found: vec![upstream.len()],
        });
    }
    let mut grad = Array3::zeros(logits.dim());
    for (b, row) in scored.iter().enumerate() {
        let weight = match opts.reduction {
            Reduction::Sum => upstream[b],
            Reduction::Mean => upstream[b] / row.len().max(1) as f64,
        };
        for &(pos, y) in row {
            let xs = logits.slice(ndarray::s![b, pos, ..]);
            let lse = online_logsumexp(xs, b, pos)?;
            let mut g = grad.slice_mut(ndarray::s![b, pos, ..]);
            for (gv, &x) in g.iter_mut().zip(xs.iter()) {
                *gv = -weight * (x - lse).exp();
            }
            g[y] += weight;
        }
    }
    Ok(grad)
}
