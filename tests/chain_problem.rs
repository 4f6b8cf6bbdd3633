//! Bad input to the chain: each is rejected with its own typed error.
//! claim: C-input-1

use dpo_oracle::dpo::Pair;
use dpo_oracle::population::{minimise_tabular, MinimiseError};
use dpo_oracle::prec::DISTRIBUTION_SUM_TOL;
use dpo_oracle::preference::{plackett_luce_log_prob, PreferenceError};
use dpo_oracle::problem::{Problem, ProblemError};
use ndarray::{array, Array2};

fn uniform() -> Array2<f64> {
    Array2::from_elem((2, 3), 1.0 / 3.0)
}

fn zeros() -> Array2<f64> {
    Array2::zeros((2, 3))
}

#[test]
fn valid_problem_is_accepted() {
    let p = Problem::new(&uniform(), zeros(), 0.1).unwrap();
    assert_eq!((p.prompts(), p.responses(), p.beta()), (2, 3, 0.1));
}

#[test]
fn zero_reference_probability_names_theorem_1() {
    let pi_ref = array![[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]];
    let err = Problem::new(&pi_ref, zeros(), 1.0).unwrap_err();
    assert_eq!(
        err,
        ProblemError::ZeroReferenceProbability {
            prompt: 0,
            response: 2
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("Theorem 1") && msg.contains("full-support"),
        "{msg}"
    );
}

#[test]
fn negative_or_nan_reference_is_not_a_probability() {
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        let mut pi_ref = uniform();
        pi_ref[[1, 1]] = bad;
        assert!(matches!(
            Problem::new(&pi_ref, zeros(), 1.0),
            Err(ProblemError::InvalidReferenceProbability {
                prompt: 1,
                response: 1,
                ..
            })
        ));
    }
}

#[test]
fn row_not_summing_to_one_is_rejected_beyond_the_stated_tolerance() {
    let mut pi_ref = uniform();
    pi_ref[[1, 0]] += 10.0 * DISTRIBUTION_SUM_TOL;
    assert!(matches!(
        Problem::new(&pi_ref, zeros(), 1.0),
        Err(ProblemError::RowNotNormalised { prompt: 1, tolerance, .. }) if tolerance == DISTRIBUTION_SUM_TOL
    ));
    // Within the tolerance the row is accepted (and renormalised).
    let mut pi_ref = uniform();
    pi_ref[[1, 0]] += 0.1 * DISTRIBUTION_SUM_TOL;
    let p = Problem::new(&pi_ref, zeros(), 1.0).unwrap();
    let total: f64 = p.log_ref_row(1).iter().map(|l| l.exp()).sum();
    assert!((total - 1.0).abs() < 4.0 * f64::EPSILON);
}

#[test]
fn beta_must_be_positive_and_finite() {
    for b in [0.0, -0.0, -1.0] {
        assert!(matches!(
            Problem::new(&uniform(), zeros(), b),
            Err(ProblemError::NonPositiveBeta(_))
        ));
    }
    for b in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            Problem::new(&uniform(), zeros(), b),
            Err(ProblemError::NonFiniteBeta(_))
        ));
    }
    let p = Problem::new(&uniform(), zeros(), 1.0).unwrap();
    assert!(matches!(
        p.with_beta(0.0),
        Err(ProblemError::NonPositiveBeta(_))
    ));
}

#[test]
fn non_finite_rewards_are_rejected() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut r = zeros();
        r[[0, 2]] = bad;
        assert!(matches!(
            Problem::new(&uniform(), r.clone(), 1.0),
            Err(ProblemError::NonFiniteReward {
                prompt: 0,
                response: 2,
                ..
            })
        ));
        let p = Problem::new(&uniform(), zeros(), 1.0).unwrap();
        assert!(matches!(
            p.with_reward(r),
            Err(ProblemError::NonFiniteReward { .. })
        ));
    }
}

#[test]
fn empty_response_sets_are_rejected() {
    for (xs, ys) in [(0, 3), (2, 0), (0, 0)] {
        assert!(matches!(
            Problem::new(&Array2::zeros((xs, ys)), Array2::zeros((xs, ys)), 1.0),
            Err(ProblemError::EmptyResponseSet { .. })
        ));
    }
}

#[test]
fn reward_of_another_shape_is_rejected() {
    assert!(matches!(
        Problem::new(&uniform(), Array2::zeros((2, 4)), 1.0),
        Err(ProblemError::ShapeMismatch {
            reference: (2, 3),
            reward: (2, 4)
        })
    ));
}

#[test]
fn ranking_that_is_not_a_permutation_is_rejected() {
    let r = [0.1, 0.2, 0.3];
    for ranking in [vec![0, 0, 2], vec![0, 1], vec![0, 1, 3], vec![2, 1, 0, 0]] {
        let err = ProblemError::from(plackett_luce_log_prob(&r, &ranking).unwrap_err());
        assert!(
            matches!(
                err,
                ProblemError::Ranking(PreferenceError::NotAPermutation { .. })
            ),
            "{ranking:?}"
        );
    }
    assert_eq!(
        plackett_luce_log_prob::<f64>(&[], &[]),
        Err(PreferenceError::EmptyRanking)
    );
}

#[test]
fn minimiser_reports_a_response_never_compared() {
    // Response 2 never appears in a pair: its probability is not identified.
    let log_ref = Array2::from_elem((1, 3), (1.0f64 / 3.0).ln());
    let pairs = [
        Pair {
            prompt: 0,
            chosen: 0,
            rejected: 1,
            weight: 0.6,
        },
        Pair {
            prompt: 0,
            chosen: 1,
            rejected: 0,
            weight: 0.4,
        },
    ];
    assert_eq!(
        minimise_tabular(&log_ref, &pairs, 1.0),
        Err(MinimiseError::SingularHessian)
    );
}

#[test]
fn minimiser_reports_a_maximum_likelihood_that_does_not_exist() {
    // Response 0 wins every comparison: the empirical loss has no minimiser.
    let log_ref = Array2::from_elem((1, 2), 0.5f64.ln());
    let pairs = [Pair {
        prompt: 0,
        chosen: 0,
        rejected: 1,
        weight: 1.0,
    }];
    assert!(matches!(
        minimise_tabular(&log_ref, &pairs, 1.0),
        Err(MinimiseError::NotConverged { .. })
    ));
}

#[test]
fn policies_reject_bad_shapes_parameters_and_scales() {
    use dpo_oracle::policy::{LogLinearPolicy, PolicyError, SequencePolicy, TabularPolicy};
    use ndarray::{Array1, Array3};
    assert_eq!(
        TabularPolicy::new(&Array2::zeros((0, 3))),
        Err(PolicyError::Empty)
    );
    assert_eq!(
        TabularPolicy::new(&array![[0.0, f64::NAN]]),
        Err(PolicyError::NonFinite { index: 1 })
    );
    assert_eq!(
        TabularPolicy::random(2, 3, -1.0, 0),
        Err(PolicyError::InvalidScale(-1.0))
    );
    assert!(matches!(
        TabularPolicy::random(2, 3, f64::NAN, 0),
        Err(PolicyError::InvalidScale(_))
    ));
    assert_eq!(
        SequencePolicy::new(1, 2, 2, vec![0.0; 8]),
        Err(PolicyError::ParameterCount {
            expected: 9,
            got: 8
        })
    );
    assert_eq!(
        SequencePolicy::new(1, 0, 2, vec![]),
        Err(PolicyError::Empty)
    );
    assert_eq!(
        SequencePolicy::new(1, 1, 2, vec![0.0, 0.0, f64::INFINITY, 0.0]),
        Err(PolicyError::NonFinite { index: 2 })
    );
    assert_eq!(
        LogLinearPolicy::new(Array3::zeros((1, 2, 3)), Array1::zeros(2)),
        Err(PolicyError::ParameterCount {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        LogLinearPolicy::new(Array3::zeros((1, 2, 2)), Array1::from(vec![0.0, f64::NAN])),
        Err(PolicyError::NonFinite { index: 5 })
    );
    assert_eq!(LogLinearPolicy::random(1, 0, 2, 0), Err(PolicyError::Empty));
}

#[test]
fn dpo_loss_rejects_bad_pairs_reference_and_beta() {
    use dpo_oracle::dpo::{dpo_gradient_closed_form, dpo_loss, DpoError};
    use dpo_oracle::policy::{Policy, TabularPolicy};
    let pi = TabularPolicy::new(&Array2::zeros((2, 3))).unwrap();
    let log_ref = Array2::from_elem((2, 3), (1.0f64 / 3.0).ln());
    let good = Pair {
        prompt: 1,
        chosen: 2,
        rejected: 0,
        weight: 1.0,
    };
    let loss = |pairs: &[Pair], log_ref: &Array2<f64>, beta: f64| {
        dpo_loss(&pi, pi.params(), log_ref, pairs, beta)
    };
    assert!(loss(&[good], &log_ref, 0.1).is_ok());
    assert_eq!(loss(&[], &log_ref, 0.1), Err(DpoError::NoPairs));
    let out = Pair { prompt: 2, ..good };
    assert_eq!(
        loss(&[good, out], &log_ref, 0.1),
        Err(DpoError::PairOutOfRange {
            index: 1,
            pair: out
        })
    );
    let out = Pair {
        rejected: 3,
        ..good
    };
    assert!(matches!(
        loss(&[out], &log_ref, 0.1),
        Err(DpoError::PairOutOfRange { index: 0, .. })
    ));
    for weight in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            loss(&[Pair { weight, ..good }], &log_ref, 0.1),
            Err(DpoError::InvalidWeight { index: 0, .. })
        ));
    }
    assert!(matches!(
        loss(&[good], &log_ref, 0.0),
        Err(DpoError::Beta(ProblemError::NonPositiveBeta(_)))
    ));
    assert!(matches!(
        loss(&[good], &log_ref, f64::NAN),
        Err(DpoError::Beta(ProblemError::NonFiniteBeta(_)))
    ));
    assert_eq!(
        loss(&[good], &Array2::zeros((2, 4)), 0.1),
        Err(DpoError::ReferenceShape {
            policy: (2, 3),
            reference: (2, 4)
        })
    );
    let mut nan_ref = log_ref.clone();
    nan_ref[[0, 1]] = f64::NAN;
    assert_eq!(
        loss(&[good], &nan_ref, 0.1),
        Err(DpoError::InvalidReference {
            prompt: 0,
            response: 1
        })
    );
    assert_eq!(
        dpo_gradient_closed_form(&pi, pi.params(), &log_ref, &[], 0.1),
        Err(DpoError::NoPairs)
    );
    // The minimiser passes both kinds of error on.
    assert!(matches!(
        minimise_tabular(&log_ref, &[], 0.1),
        Err(MinimiseError::Input(DpoError::NoPairs))
    ));
    let mut inf_ref = log_ref.clone();
    inf_ref[[0, 0]] = f64::NEG_INFINITY;
    assert!(matches!(
        minimise_tabular(&inf_ref, &[good], 0.1),
        Err(MinimiseError::Policy(_))
    ));
}
