//! Sequence log-probabilities from logits: values against a direct computation, masking and
//! padding invariances, reductions and the empty-response rule, the gradient against the tape
//! and finite differences, and the reduced-precision modes.

use dpo_oracle::logps::{
    round_to_bf16, sequence_logps, sequence_logps_grad, sequence_logps_with_precision, EmptyRule,
    LogpOptions, Precision, Reduction, SequenceLogps,
};
use dpo_oracle::numdiff;
use dpo_oracle::prec::{rel_error, COMPOSITE_REL, FEW_ROUNDINGS_REL, FINITE_DIFFERENCE_REL};
use dpo_oracle::verify::losses::{
    logits_problem, logp_option_grid, logps_gradients, normwise_error,
};
use ndarray::{array, Array2, Array3, Axis};

/// $\log\operatorname{softmax}(x)_y = x_y - \ln\sum_v e^{x_v}$ written directly (no shift): fine
/// for the small logits used here, and independent of the online log-sum-exp.
fn direct_logp(row: &[f64], y: usize) -> f64 {
    row[y] - row.iter().map(|x| x.exp()).sum::<f64>().ln()
}

/// [`sequence_logps`] on the built-in problem with its mask.
fn problem_logps(opts: &LogpOptions) -> SequenceLogps {
    let (logits, labels, mask) = logits_problem();
    sequence_logps(logits.view(), labels.view(), Some(mask.view()), opts).unwrap()
}

#[test]
fn values_match_a_direct_computation_with_shift_and_mask() {
    let (logits, labels, mask) = logits_problem();
    let out = problem_logps(&LogpOptions::default());
    for b in 0..3 {
        let mut sum = 0.0;
        let mut n = 0;
        for t in 1..6 {
            if labels[[b, t]] == -100 || !mask[[b, t]] {
                continue;
            }
            let row: Vec<f64> = logits.slice(ndarray::s![b, t - 1, ..]).to_vec();
            sum += direct_logp(&row, labels[[b, t]] as usize);
            n += 1;
        }
        assert_eq!(out.token_counts[b], n);
        assert!(rel_error(out.logps[b], sum, 1.0) <= COMPOSITE_REL);
    }
    // Row 0: positions 1 (label -100) and 4 (mask) dropped of 1..6: 3 scored; row 2 empty.
    assert_eq!(out.token_counts.to_vec(), vec![3, 4, 0]);
    assert_eq!(out.logps[2], 0.0);
}

/// Without the shift, `logits[:, t]` scores `labels[:, t]`: shifting the labels by hand gives
/// the same result as the shift option.
#[test]
fn shift_option_equals_shifting_by_hand() {
    let (logits, labels, mask) = logits_problem();
    let shifted = problem_logps(&LogpOptions::default());
    let t = labels.ncols();
    let hand_logits = logits.slice(ndarray::s![.., ..t - 1, ..]).to_owned();
    let hand_labels = labels.slice(ndarray::s![.., 1..]).to_owned();
    let hand_mask = mask.slice(ndarray::s![.., 1..]).to_owned();
    let unshifted = sequence_logps(
        hand_logits.view(),
        hand_labels.view(),
        Some(hand_mask.view()),
        &LogpOptions::default().with_shift(false),
    )
    .unwrap();
    assert_eq!(shifted, unshifted);
}

/// Extra prompt tokens (label -100) in front and padding behind (real token ids, masked by
/// position) do not change the log-probabilities or the counts. The first label of the original
/// window is never scored under the shift (nothing predicts it), so it becomes a prompt token.
#[test]
fn padding_and_prompt_tokens_do_not_change_logps() {
    let (logits, labels, _) = logits_problem();
    let opts = LogpOptions::default();
    let base = sequence_logps(logits.view(), labels.view(), None, &opts).unwrap();
    let (b, t, v) = logits.dim();
    let (front, back) = (3, 4);
    let len = front + t + back;
    let big_logits = Array3::from_shape_fn((b, len, v), |(i, j, k)| {
        if (front..front + t).contains(&j) {
            logits[[i, j - front, k]]
        } else {
            5.0 * ((i + j * k) % 3) as f64 - 2.0
        }
    });
    let big_labels = Array2::from_shape_fn((b, len), |(i, j)| {
        if j > front && j < front + t {
            labels[[i, j - front]]
        } else if j >= front + t {
            1 // padding with a real token id: excluded by the mask, not by its value
        } else {
            -100
        }
    });
    let mask = Array2::from_shape_fn((b, len), |(_, j)| j < front + t);
    let padded = sequence_logps(
        big_logits.view(),
        big_labels.view(),
        Some(mask.view()),
        &opts,
    )
    .unwrap();
    assert_eq!(padded.token_counts, base.token_counts);
    for i in 0..b {
        assert!(rel_error(padded.logps[i], base.logps[i], 1.0) <= COMPOSITE_REL);
    }
}

#[test]
fn mean_reduction_and_empty_rules() {
    let opts = LogpOptions::default();
    let sum = problem_logps(&opts);
    let mean_nan = problem_logps(&opts.with_reduction(Reduction::Mean));
    let mean_clamp = problem_logps(
        &opts
            .with_reduction(Reduction::Mean)
            .with_empty(EmptyRule::ClampToOne),
    );
    for b in 0..2 {
        let expected = sum.logps[b] / sum.token_counts[b] as f64;
        assert!(rel_error(mean_nan.logps[b], expected, 1.0) <= FEW_ROUNDINGS_REL);
        assert_eq!(mean_clamp.logps[b], mean_nan.logps[b]);
    }
    // Row 2 has no scored token: 0/0 is NaN under the authors' rule, 0/max(0,1) = 0 under TRL's.
    assert!(mean_nan.logps[2].is_nan());
    assert_eq!(mean_clamp.logps[2], 0.0);
}

/// The online log-sum-exp never overflows: adding $10^{300}$-scale offsets is impossible in
/// `f64`, but an offset of $700$ overflows $e^x$ while the log-probabilities are unchanged.
#[test]
fn adding_a_constant_to_a_vocabulary_row_changes_nothing() {
    let (logits, labels, mask) = logits_problem();
    let opts = LogpOptions::default();
    let base = problem_logps(&opts);
    for c in [710.0, -710.0, 1e6] {
        let moved = logits.mapv(|x| x + c);
        let out = sequence_logps(moved.view(), labels.view(), Some(mask.view()), &opts).unwrap();
        for b in 0..3 {
            // Rounding x + c loses the low bits of x: error ≈ ulp(c) per token, a few tokens.
            let tol = 8.0 * f64::EPSILON * c.abs();
            assert!((out.logps[b] - base.logps[b]).abs() <= tol, "c = {c}");
        }
    }
}

#[test]
fn gradient_equals_tape_and_finite_differences() {
    let (logits, labels, mask) = logits_problem();
    let upstream = [0.4, -2.0, 1.5];
    for opts in logp_option_grid() {
        let (g, tape) = logps_gradients(&opts, &upstream).unwrap();
        assert!(g.iter().any(|x| x.abs() > 1e-3));
        let flat = g.as_slice().unwrap();
        assert!(normwise_error(flat, tape.as_slice().unwrap(), 1e-300) <= COMPOSITE_REL);
        let objective = |x: &[f64]| {
            let l = Array3::from_shape_vec(logits.dim(), x.to_vec()).unwrap();
            let out = sequence_logps(l.view(), labels.view(), Some(mask.view()), &opts).unwrap();
            (0..3)
                .filter(|&b| out.token_counts[b] > 0)
                .map(|b| upstream[b] * out.logps[b])
                .sum::<f64>()
        };
        let fd: Vec<f64> = numdiff::gradient(
            objective,
            logits.as_slice().unwrap(),
            numdiff::DEFAULT_REL_STEP,
        )
        .iter()
        .map(|e| e.derivative)
        .collect();
        assert!(normwise_error(flat, &fd, 1e-3) <= FINITE_DIFFERENCE_REL);
        // Each scored row of the gradient sums to 0 (one-hot and softmax both sum to 1).
        for row in g.lanes(Axis(2)) {
            assert!(row.sum().abs() <= 1e-14);
        }
    }
}

/// `f32` log-softmax: within a few `f32` ulps of the `f64` value per token (the sum of $n$
/// tokens accumulates at most $n$ roundings of relative size $2^{-24}$ on values of size $|x|$).
#[test]
fn f32_precision_is_close_to_f64() {
    let (logits, labels, mask) = logits_problem();
    let opts = LogpOptions::default();
    let exact = problem_logps(&opts);
    let low = sequence_logps_with_precision(
        logits.view(),
        labels.view(),
        Some(mask.view()),
        &opts,
        Precision::F32,
    )
    .unwrap();
    for b in 0..3 {
        let tol = 32.0 * f64::from(f32::EPSILON) * (1.0 + exact.logps[b].abs());
        assert!((low.logps[b] - exact.logps[b]).abs() <= tol);
        // The result is an f32 value.
        assert_eq!(low.logps[b], f64::from(low.logps[b] as f32));
    }
}

/// bf16: the result is a bf16 value, and near $-420$ the spacing of bf16 is $2$, so the summed
/// log-probability can be off by up to $1$ from the `f64` value (§3 of the conventions sheet).
#[test]
fn bf16_summed_logps_near_minus_420_have_spacing_two() {
    // 100 tokens, V = 4, uniform logits except the label: each token ≈ -4.21.
    let t = 101;
    let logits = Array3::from_shape_fn((1, t, 4), |(_, j, k)| {
        if k == 0 {
            -2.8 + 0.001 * j as f64
        } else {
            0.0
        }
    });
    let labels = Array2::from_shape_fn((1, t), |_| 0_i64);
    let opts = LogpOptions::default();
    let exact = sequence_logps(logits.view(), labels.view(), None, &opts).unwrap();
    let bf =
        sequence_logps_with_precision(logits.view(), labels.view(), None, &opts, Precision::Bf16)
            .unwrap();
    let (e, b) = (exact.logps[0], bf.logps[0]);
    assert!((256.0..512.0).contains(&-e), "{e}");
    assert_eq!(b as f32, round_to_bf16(b as f32));
    assert_eq!(
        b % 2.0,
        0.0,
        "{b} is a bf16 value in [256, 512): an even integer"
    );
    // Each token is rounded to bf16 (relative 2^-9) before the sum: error ≤ n·2^-9·|x| + 1.
    assert!(
        (b - e).abs() <= 100.0 * 4.3 * 2f64.powi(-9) + 1.0,
        "{b} vs {e}"
    );
}

#[test]
fn two_token_example_by_hand() {
    // Row logits [0, ln 3]: softmax (1/4, 3/4). Labels: position 1 → token 1, shift on.
    let logits = array![[[0.0, 3f64.ln()], [0.0, 0.0]]];
    let labels = array![[-100_i64, 1]];
    let out = sequence_logps(logits.view(), labels.view(), None, &LogpOptions::default()).unwrap();
    assert!(rel_error(out.logps[0], (0.75f64).ln(), 1.0) <= FEW_ROUNDINGS_REL);
    let g = sequence_logps_grad(
        logits.view(),
        labels.view(),
        None,
        &LogpOptions::default(),
        ndarray::aview1(&[1.0]),
    )
    .unwrap();
    // one-hot (0, 1) minus softmax (1/4, 3/4).
    // exp(x - lse) with lse rounded: a few ulps of 1.
    let tol = FEW_ROUNDINGS_REL;
    assert!(
        (g[[0, 0, 0]] + 0.25).abs() <= tol && (g[[0, 0, 1]] - 0.25).abs() <= tol,
        "{g}"
    );
    assert_eq!(g.slice(ndarray::s![0, 1, ..]).sum(), 0.0);
}
