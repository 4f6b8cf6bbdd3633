//! The KL-constrained objective (Eq. 3), evaluated exactly over a finite response set:
//! $$J(\pi) = \mathbb E_x\Big[\sum_y \pi(y|x)\\,r(x,y) - \beta\\,\mathrm{KL}\big(\pi(\cdot|x)\\,\\|\\,\pi_{\text{ref}}(\cdot|x)\big)\Big],$$
//! with $\mathbb E_x$ the mean over the problem's prompts.

use crate::divergence::kl;
use crate::policy::Policy;
use crate::problem::Problem;
use crate::scalar::Real;

/// $J_x(\pi) = \sum_y \pi(y|x)\\,r(x,y) - \beta\\,\mathrm{KL}(\pi(\cdot|x)\\|\pi_{\text{ref}}(\cdot|x))$
/// from $\log\pi(\cdot|x)$.
pub fn objective_row<R: Real>(log_pi: &[R], log_ref: &[f64], reward: &[f64], beta: f64) -> R {
    let expected: Vec<R> = log_pi
        .iter()
        .zip(reward)
        .map(|(&l, &r)| l.exp() * r)
        .collect();
    let expected = R::sum(&expected).expect("at least one response");
    expected - kl(log_pi, log_ref) * beta
}

/// $J(\pi)$ from the rows $\log\pi(\cdot|x)$, $x = 0, \dots, X-1$.
///
/// # Panics
/// If the number of rows differs from the problem's prompts.
pub fn objective<R: Real>(log_pi: &[Vec<R>], problem: &Problem) -> R {
    assert_eq!(log_pi.len(), problem.prompts(), "one row per prompt");
    let rows: Vec<R> = log_pi
        .iter()
        .enumerate()
        .map(|(x, row)| {
            objective_row(
                row,
                &problem.log_ref_row(x).to_vec(),
                &problem.reward().row(x).to_vec(),
                problem.beta(),
            )
        })
        .collect();
    crate::scalar::mean(&rows).expect("at least one prompt")
}

/// $J(\pi_\theta)$ of a policy at its current parameters.
pub fn policy_objective<P: Policy>(policy: &P, problem: &Problem) -> f64 {
    let rows: Vec<Vec<f64>> = (0..problem.prompts())
        .map(|x| policy.log_probs(policy.params(), x))
        .collect();
    objective(&rows, problem)
}
