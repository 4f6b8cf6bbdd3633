//! # dpo-oracle
//!
//! A verified-math reference implementation and test oracle for Direct Preference Optimization
//! (Rafailov et al., 2023, arXiv:2305.18290).
//!
//! The layout follows the paper's derivation chain; every formula is written once against
//! [`scalar::Real`] and evaluated with `f64`, differentiated with the reverse-mode tape in
//! [`autodiff`], and cross-checked with forward-mode dual numbers and finite differences.

pub mod autodiff;
pub mod convention;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod divergence;
pub mod dpo;
pub mod fixtures;
pub mod frontier;
pub mod limits;
pub mod logps;
pub mod loss;
pub mod metrics;
pub mod numdiff;
pub mod objective;
pub mod output;
pub mod partition;
pub mod policy;
pub mod population;
pub mod prec;
pub mod preference;
pub mod problem;
pub mod reward;
pub mod scalar;
pub mod utilisation;
pub mod verify;
