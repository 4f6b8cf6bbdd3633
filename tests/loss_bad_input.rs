//! Every invalid setting and every bad input gives its typed error (matched by variant and
//! fields), never a panic or a silent NaN.

use dpo_oracle::convention::{compute_as, Convention};
use dpo_oracle::logps::{
    sequence_logps, sequence_logps_grad, sequence_logps_with_precision, LogpError, LogpOptions,
    Precision,
};
use dpo_oracle::loss::plackett_luce::plackett_luce_loss_and_grad;
use dpo_oracle::loss::{compute, LossError, LossSpec, LossType, PairLogps};
use dpo_oracle::metrics::Metrics;
use dpo_oracle::preference::PreferenceError;
use ndarray::{array, Array2, Array3};

const PC: [f64; 2] = [-1.0, -2.0];
const PR: [f64; 2] = [-3.0, -1.5];
const RC: [f64; 2] = [-1.2, -2.1];
const RR: [f64; 2] = [-2.9, -1.7];

fn batch() -> PairLogps<'static> {
    PairLogps::new(&PC, &PR, &RC, &RR)
}

fn invalid(spec: LossSpec) -> (&'static str, f64) {
    match spec.validate() {
        Err(LossError::InvalidParameter { name, value, .. }) => {
            // Every entry point validates.
            assert!(matches!(
                compute(&spec, &batch()),
                Err(LossError::InvalidParameter { .. })
            ));
            (name, value)
        }
        other => panic!("{spec:?}: expected InvalidParameter, got {other:?}"),
    }
}

#[test]
fn beta_must_be_finite_and_positive() {
    for ty in LossType::ALL {
        for beta in [0.0, -0.1, f64::NAN, f64::INFINITY, -f64::INFINITY] {
            let (name, value) = invalid(LossSpec::new(ty, beta));
            assert_eq!(name, "beta");
            assert!(value.is_nan() || value == beta);
        }
    }
}

#[test]
fn label_smoothing_ranges() {
    let cases = [
        (LossType::Robust, 0.5),
        (LossType::Robust, 0.7),
        (LossType::Robust, -0.1),
        (LossType::ExoPair, 0.0),
        (LossType::ExoPair, -0.1),
        (LossType::ExoPair, 1.0),
        (LossType::Cdpo, 1.5),
        (LossType::Cdpo, -0.01),
        (LossType::Sigmoid, 1.01),
        (LossType::Aot, 2.0),
        (LossType::AotUnpaired, -1.0),
        (LossType::Cdpo, f64::NAN),
        // Losses that do not use ε: a smoothing that would be ignored is refused.
        (LossType::Ipo, 0.1),
        (LossType::Hinge, 0.1),
        (LossType::SigmoidNorm, 0.1),
        (LossType::NcaPair, 0.2),
    ];
    for (ty, eps) in cases {
        let (name, _) = invalid(LossSpec::new(ty, 0.1).with_label_smoothing(eps));
        assert_eq!(name, "label_smoothing", "{ty} ε = {eps}");
    }
    // Boundaries that are allowed.
    for (ty, eps) in [
        (LossType::Robust, 0.0),
        (LossType::Robust, 0.4999),
        (LossType::Cdpo, 0.0),
        (LossType::Cdpo, 1.0),
        (LossType::ExoPair, 1e-3),
    ] {
        assert_eq!(
            LossSpec::new(ty, 0.1).with_label_smoothing(eps).validate(),
            Ok(())
        );
    }
}

#[test]
fn tau_and_bco_delta() {
    for tau in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let (name, _) = invalid(LossSpec::new(LossType::Discopop, 0.1).with_tau(tau));
        assert_eq!(name, "tau");
    }
    let (name, _) = invalid(LossSpec::new(LossType::BcoPair, 0.1).with_bco_delta(f64::NAN));
    assert_eq!(name, "bco_delta");
    let (name, _) = invalid(LossSpec::new(LossType::Sigmoid, 0.1).with_bco_delta(0.1));
    assert_eq!(name, "bco_delta");
}

#[test]
fn error_messages_name_parameter_and_range() {
    let e = LossSpec::new(LossType::Robust, 0.1)
        .with_label_smoothing(0.5)
        .validate()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("label_smoothing") && text.contains("[0, 0.5)"),
        "{text}"
    );
}

#[test]
fn non_finite_log_probs_name_the_pair_unless_propagated() {
    for (k, bad) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        let mut rr = RR;
        rr[1] = bad;
        let b = PairLogps::new(&PC, &PR, &RC, &rr);
        let spec = LossSpec::new(LossType::Sigmoid, 0.1);
        match compute(&spec, &b) {
            Err(LossError::NonFinite { pair, field }) => {
                assert_eq!((pair, field), (1, "reference_rejected"), "case {k}");
            }
            other => panic!("{other:?}"),
        }
        let out = compute(&spec.with_propagate_non_finite(true), &b).unwrap();
        assert!(out.losses[0].is_finite());
        assert!(!out.losses[1].is_finite() || out.losses[1] == 0.0);
    }
}

#[test]
fn length_mismatch_names_the_array() {
    let short = [-1.0];
    let cases: [(PairLogps, &str); 4] = [
        (PairLogps::new(&PC, &short, &RC, &RR), "policy_rejected"),
        (PairLogps::new(&PC, &PR, &short, &RR), "reference_chosen"),
        (PairLogps::new(&PC, &PR, &RC, &short), "reference_rejected"),
        (
            PairLogps::new(&PC, &PR, &RC, &RR).with_token_counts(&[1, 2], &[3]),
            "token_counts.rejected",
        ),
    ];
    for (b, expected) in cases {
        match compute(&LossSpec::new(LossType::Sigmoid, 0.1), &b) {
            Err(LossError::LengthMismatch {
                field,
                len,
                expected: n,
            }) => {
                assert_eq!((field, len, n), (expected, 1, 2));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn empty_batch() {
    let e: [f64; 0] = [];
    assert_eq!(
        compute(
            &LossSpec::new(LossType::Sigmoid, 0.1),
            &PairLogps::new(&e, &e, &e, &e)
        ),
        Err(LossError::EmptyBatch)
    );
    assert_eq!(
        Metrics::of(0.1, &PairLogps::new(&e, &e, &e, &e), false),
        Err(LossError::EmptyBatch)
    );
}

#[test]
fn token_counts_missing_or_zero() {
    let spec = LossSpec::new(LossType::SigmoidNorm, 0.1);
    assert!(matches!(
        compute(&spec, &batch()),
        Err(LossError::MissingTokenCounts { .. })
    ));
    assert!(matches!(
        compute_as(
            Convention::Trl028,
            &LossSpec::new(LossType::Ipo, 0.1),
            &batch()
        ),
        Err(LossError::MissingTokenCounts { .. })
    ));
    let b = batch().with_token_counts(&[3, 0], &[2, 2]);
    assert_eq!(
        compute(&spec, &b),
        Err(LossError::ZeroTokenCount {
            pair: 1,
            field: "chosen"
        })
    );
    // TRL from 1.4 clamps the count to 1 instead.
    assert!(compute_as(Convention::Trl1, &spec, &b).is_ok());
}

#[test]
fn conventions_refuse_what_they_lack() {
    let unsupported = |c: Convention, spec: LossSpec| match compute_as(
        c,
        &spec,
        &batch().with_token_counts(&[1, 1], &[1, 1]),
    ) {
        Err(LossError::Unsupported { convention, what }) => {
            assert_eq!(convention, c.name());
            what
        }
        other => panic!("{c} {spec:?}: {other:?}"),
    };
    let b = 0.1;
    assert!(unsupported(Convention::Authors, LossSpec::new(LossType::Hinge, b)).contains("hinge"));
    assert!(unsupported(Convention::Torchtune, LossSpec::new(LossType::Ipo, b)).contains("ipo"));
    assert!(unsupported(Convention::Liger, LossSpec::new(LossType::Ipo, b)).contains("ipo"));
    for c in [Convention::Trl028, Convention::Trl029] {
        assert!(unsupported(c, LossSpec::new(LossType::SigmoidNorm, b)).contains("sigmoid_norm"));
    }
    assert!(unsupported(Convention::Trl029, LossSpec::new(LossType::Cdpo, b)).contains("cdpo"));
    assert!(unsupported(
        Convention::Trl029,
        LossSpec::new(LossType::Sigmoid, b).with_label_smoothing(0.1)
    )
    .contains("label smoothing"));
    assert!(unsupported(
        Convention::Liger,
        LossSpec::new(LossType::Sigmoid, b).with_label_smoothing(0.1)
    )
    .contains("label smoothing"));
    for c in [
        Convention::Trl029,
        Convention::Trl1,
        Convention::Torchtune,
        Convention::Openrlhf,
    ] {
        assert!(unsupported(
            c,
            LossSpec::new(LossType::Sigmoid, b).with_reference_free(true)
        )
        .contains("reference-free"));
    }
    assert!(unsupported(
        Convention::Trl029,
        LossSpec::new(LossType::BcoPair, b).with_bco_delta(0.2)
    )
    .contains("running-mean"));
    assert_eq!(
        compute_as(
            Convention::Trl028,
            &LossSpec::new(LossType::BcoPair, b),
            &batch()
        ),
        Err(LossError::MissingParameter {
            name: "bco_delta",
            needed_by: "trl-0.28's bco_pair (running-mean shift)"
        })
    );
}

#[test]
fn plackett_luce_bad_rankings() {
    let p = [-1.0, -2.0, -3.0];
    let r = [-1.0, -2.0, -3.0];
    assert!(matches!(
        plackett_luce_loss_and_grad(0.1, &p, &r, &[0, 0, 1]),
        Err(LossError::Ranking(PreferenceError::NotAPermutation { .. }))
    ));
    assert!(matches!(
        plackett_luce_loss_and_grad(0.1, &p, &r, &[0, 1]),
        Err(LossError::Ranking(PreferenceError::NotAPermutation { .. }))
    ));
    assert!(matches!(
        plackett_luce_loss_and_grad(0.1, &p, &r[..2], &[0, 1, 2]),
        Err(LossError::LengthMismatch {
            field: "reference",
            ..
        })
    ));
    assert!(matches!(
        plackett_luce_loss_and_grad(0.1, &[], &[], &[]),
        Err(LossError::EmptyBatch)
    ));
    assert!(matches!(
        plackett_luce_loss_and_grad(0.1, &[f64::NAN, 1.0], &[0.0, 0.0], &[0, 1]),
        Err(LossError::NonFinite {
            pair: 0,
            field: "policy",
            ..
        })
    ));
    assert!(matches!(
        plackett_luce_loss_and_grad(0.0, &p, &r, &[0, 1, 2]),
        Err(LossError::InvalidParameter { name: "beta", .. })
    ));
}

fn opts() -> LogpOptions {
    LogpOptions::default()
}

#[test]
fn labels_outside_the_vocabulary() {
    let logits = Array3::<f64>::zeros((1, 3, 4));
    for bad in [4_i64, -1, -99, i64::MAX] {
        let labels = array![[0_i64, 2, bad]];
        assert_eq!(
            sequence_logps(logits.view(), labels.view(), None, &opts()),
            Err(LogpError::LabelOutOfRange {
                batch: 0,
                pos: 2,
                label: bad,
                vocab: 4
            })
        );
    }
    // The ignore index is not a label; a custom ignore index replaces -100.
    let labels = array![[0_i64, -100, 7]];
    let custom = opts().with_ignore_index(7);
    assert!(matches!(
        sequence_logps(logits.view(), labels.view(), None, &custom),
        Err(LogpError::LabelOutOfRange { label: -100, .. })
    ));
    let labels = array![[0_i64, 1, 7]];
    assert!(sequence_logps(logits.view(), labels.view(), None, &custom).is_ok());
}

#[test]
fn too_short_for_the_shift_and_empty_vocabulary() {
    let logits = Array3::<f64>::zeros((2, 1, 3));
    let labels = Array2::<i64>::zeros((2, 1));
    assert_eq!(
        sequence_logps(logits.view(), labels.view(), None, &opts()),
        Err(LogpError::TooShortForShift)
    );
    assert!(sequence_logps(
        logits.view(),
        labels.view(),
        None,
        &opts().with_shift(false)
    )
    .is_ok());
    let empty_vocab = Array3::<f64>::zeros((2, 3, 0));
    let labels = Array2::<i64>::zeros((2, 3));
    assert_eq!(
        sequence_logps(empty_vocab.view(), labels.view(), None, &opts()),
        Err(LogpError::EmptyVocabulary)
    );
}

#[test]
fn all_neg_inf_row_and_non_finite_logits() {
    let mut logits = Array3::<f64>::zeros((1, 3, 3));
    logits
        .slice_mut(ndarray::s![0, 1, ..])
        .fill(f64::NEG_INFINITY);
    let labels = array![[0_i64, 1, 2]];
    for precision in [Precision::F64, Precision::F32, Precision::Bf16] {
        assert_eq!(
            sequence_logps_with_precision(logits.view(), labels.view(), None, &opts(), precision),
            Err(LogpError::NegInfRow { batch: 0, pos: 1 })
        );
    }
    // The same row on an unscored position is harmless.
    let masked = array![[0_i64, 1, -100]];
    assert!(sequence_logps(logits.view(), masked.view(), None, &opts()).is_ok());
    // A single -inf logit (a banned token) is fine.
    let mut one = Array3::<f64>::zeros((1, 3, 3));
    one[[0, 0, 2]] = f64::NEG_INFINITY;
    assert!(sequence_logps(one.view(), labels.view(), None, &opts()).is_ok());
    for bad in [f64::NAN, f64::INFINITY] {
        let mut l = Array3::<f64>::zeros((1, 3, 3));
        l[[0, 0, 1]] = bad;
        assert!(matches!(
            sequence_logps_grad(
                l.view(),
                labels.view(),
                None,
                &opts(),
                ndarray::aview1(&[1.0])
            ),
            Err(LogpError::NonFinite {
                batch: 0,
                pos: 0,
                token: 1,
                ..
            })
        ));
    }
    let mut huge = Array3::<f64>::zeros((1, 3, 3));
    huge[[0, 0, 0]] = 1e39;
    assert!(matches!(
        sequence_logps_with_precision(huge.view(), labels.view(), None, &opts(), Precision::F32),
        Err(LogpError::NotRepresentable { .. })
    ));
}

#[test]
fn shape_mismatches() {
    let logits = Array3::<f64>::zeros((2, 3, 4));
    let labels = Array2::<i64>::zeros((2, 2));
    assert!(matches!(
        sequence_logps(logits.view(), labels.view(), None, &opts()),
        Err(LogpError::ShapeMismatch { what: "labels", .. })
    ));
    let labels = Array2::<i64>::zeros((2, 3));
    let mask = Array2::from_elem((3, 3), true);
    assert!(matches!(
        sequence_logps(logits.view(), labels.view(), Some(mask.view()), &opts()),
        Err(LogpError::ShapeMismatch { what: "mask", .. })
    ));
    assert!(matches!(
        sequence_logps_grad(
            logits.view(),
            labels.view(),
            None,
            &opts(),
            ndarray::aview1(&[1.0])
        ),
        Err(LogpError::ShapeMismatch {
            what: "upstream",
            ..
        })
    ));
}

#[test]
fn evaluating_a_prepared_loss_on_another_batch_size() {
    let spec = LossSpec::new(LossType::Sigmoid, 0.1);
    let prep = dpo_oracle::loss::prepare(&spec, &batch()).unwrap();
    let one = [-1.0];
    assert!(matches!(
        prep.evaluate(&PairLogps::new(&one, &one, &one, &one)),
        Err(LossError::LengthMismatch {
            len: 1,
            expected: 2,
            ..
        })
    ));
}
