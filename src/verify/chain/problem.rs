//! Step 0: the problem's inputs are validated (C-input).

use ndarray::Array2;

use crate::policy::TabularPolicy;
use crate::population::minimise_tabular;
use crate::preference::plackett_luce_log_prob;
use crate::problem::{Problem, ProblemError};
use crate::verify::ClaimCheck;

/// Each bad input gives its own error variant: the row's error counts the mismatches.
pub(super) fn input_checks() -> Vec<ClaimCheck> {
    let good_ref = Array2::from_elem((2, 3), 1.0 / 3.0);
    let good_r = Array2::zeros((2, 3));
    let mut zero = good_ref.clone();
    zero[[1, 2]] = 0.0;
    zero[[1, 0]] = 2.0 / 3.0;
    let mut unnormalised = good_ref.clone();
    unnormalised[[0, 0]] = 0.5;
    let mut nan_r = good_r.clone();
    nan_r[[0, 1]] = f64::NAN;
    let outcomes = [
        matches!(
            Problem::new(&zero, good_r.clone(), 1.0),
            Err(ProblemError::ZeroReferenceProbability {
                prompt: 1,
                response: 2
            })
        ),
        matches!(
            Problem::new(&unnormalised, good_r.clone(), 1.0),
            Err(ProblemError::RowNotNormalised { prompt: 0, .. })
        ),
        matches!(
            Problem::new(&good_ref, good_r.clone(), 0.0),
            Err(ProblemError::NonPositiveBeta(_))
        ),
        matches!(
            Problem::new(&good_ref, good_r.clone(), f64::INFINITY),
            Err(ProblemError::NonFiniteBeta(_))
        ),
        matches!(
            Problem::new(&good_ref, nan_r, 1.0),
            Err(ProblemError::NonFiniteReward {
                prompt: 0,
                response: 1,
                ..
            })
        ),
        matches!(
            Problem::new(&Array2::zeros((2, 0)), Array2::zeros((2, 0)), 1.0),
            Err(ProblemError::EmptyResponseSet { .. })
        ),
        matches!(
            plackett_luce_log_prob(&[0.0, 1.0, 2.0], &[0, 0, 2]).map_err(ProblemError::from),
            Err(ProblemError::Ranking(
                crate::preference::PreferenceError::NotAPermutation { .. }
            ))
        ),
        matches!(
            TabularPolicy::new(&Array2::from_elem((1, 2), f64::NAN)),
            Err(crate::policy::PolicyError::NonFinite { index: 0 })
        ),
        matches!(
            minimise_tabular(&good_ref.mapv(f64::ln), &[], 1.0),
            Err(crate::population::MinimiseError::Input(
                crate::dpo::DpoError::NoPairs
            ))
        ),
    ];
    vec![ClaimCheck::new(
        "C-input-1",
        "each invalid (pi_ref, r, beta, ranking) is rejected with its own typed error",
        outcomes.iter().map(|&ok| f64::from(u8::from(!ok))),
        0.0,
    )]
}
