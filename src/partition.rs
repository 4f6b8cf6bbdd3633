//! The optimal policy of the KL-constrained objective (Eq. 4) and its partition function, in the
//! log domain:
//! $$\pi_r(y|x) = \frac{\pi_{\text{ref}}(y|x)\\,e^{r(x,y)/\beta}}{Z(x)},\qquad
//! \log Z(x) = \operatorname{logsumexp}\_y\big(\log\pi_{\text{ref}}(y|x) + r(x,y)/\beta\big).$$
//! The max-shifted log-sum-exp keeps $\log Z$ finite for $|r|/\beta$ far beyond the range of
//! `exp` (for example $r = 10^4$, $\beta = 0.05$).

use ndarray::{Array1, Array2};

use crate::problem::Problem;
use crate::scalar::Real;

/// $\log Z(x) = \operatorname{logsumexp}\_y(\log\pi_{\text{ref}}(y|x) + r(x,y)/\beta)$ for one prompt.
///
/// # Panics
/// If the slices are empty or of different lengths (a [`Problem`] never has either).
pub fn log_partition<R: Real>(log_ref: &[f64], reward: &[R], beta: f64) -> R {
    assert_eq!(log_ref.len(), reward.len(), "one reward per response");
    let terms: Vec<R> = reward
        .iter()
        .zip(log_ref)
        .map(|(&r, &l)| r / beta + l)
        .collect();
    R::logsumexp(&terms).expect("at least one response")
}

/// $\log\pi_r(y|x) = \log\pi_{\text{ref}}(y|x) + r(x,y)/\beta - \log Z(x)$ for one prompt.
pub fn optimal_log_policy<R: Real>(log_ref: &[f64], reward: &[R], beta: f64) -> Vec<R> {
    let log_z = log_partition(log_ref, reward, beta);
    reward
        .iter()
        .zip(log_ref)
        .map(|(&r, &l)| r / beta + l - log_z)
        .collect()
}

/// $\pi_r$ and $Z$ for every prompt of a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimalPolicy {
    /// $\log\pi_r(y|x)$, prompts × responses.
    pub log_pi: Array2<f64>,
    /// $\log Z(x)$, one per prompt.
    pub log_z: Array1<f64>,
}

/// The optimal policy (Eq. 4) of a problem's reward, reference and $\beta$.
pub fn optimal_policy(problem: &Problem) -> OptimalPolicy {
    let beta = problem.beta();
    let rows: Vec<(Vec<f64>, f64)> = problem
        .log_ref()
        .rows()
        .into_iter()
        .zip(problem.reward().rows())
        .map(|(l, r)| {
            let (l, r) = (l.to_vec(), r.to_vec());
            (
                optimal_log_policy(&l, &r, beta),
                log_partition(&l, &r, beta),
            )
        })
        .collect();
    let log_z = rows.iter().map(|(_, z)| *z).collect();
    let log_pi = crate::policy::table(rows.into_iter().map(|(p, _)| p).collect());
    OptimalPolicy { log_pi, log_z }
}
