//! Claims of the derivation chain (`proofs/`), checked on built-in problems: three seeds,
//! three response-set sizes (the toy sequence policy's 3, 7 and 15 responses), reference
//! policies both tabular and autoregressive, and $\beta \in \\{0.05, 0.1, 1, 5\\}$.

use ndarray::Array2;

use crate::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use crate::prec::rel_error;
use crate::problem::{random_reward, Problem};
mod dpo_loss;
mod objective;
mod policies;
mod population;
mod preferences;
mod problem;
mod reward;
mod utilisation;

pub use dpo_loss::{gradient_route_errors, loss_module_errors, plackett_luce_gradient_errors};
pub use preferences::permutations;
pub use utilisation::{utilisation_problem, RATE_REPLICATIONS, RATE_SIZES};

use super::ClaimCheck;

/// The values of $\beta$ every claim is checked at (the paper's sentiment sweep).
pub const BETAS: [f64; 4] = [0.05, 0.1, 1.0, 5.0];

/// A built-in problem with the shape of a toy sequence policy (`vocab`, `max_len`).
#[derive(Debug, Clone)]
pub struct Case {
    /// The problem $(\pi_{\text{ref}}, r, \beta)$.
    pub problem: Problem,
    /// Vocabulary size of the matching sequence policy.
    pub vocab: usize,
    /// Length bound of the matching sequence policy.
    pub max_len: usize,
    /// The seed the case was drawn from.
    pub seed: u64,
}

/// The built-in problems: for seeds 0, 1, 2 and shapes $(X, V, L) \in \\{(2,2,1), (3,2,2),
/// (2,2,3)\\}$ ($Y$ = 3, 7, 15) at every $\beta$ of [`BETAS`]; the reference policy is a random
/// tabular policy for even seeds and a random sequence policy for odd ones; $r \sim U(-1,1)$.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for seed in 0..3u64 {
        for &(prompts, vocab, max_len) in &[(2, 2, 1), (3, 2, 2), (2, 2, 3)] {
            let reference = if seed % 2 == 0 {
                let ys = SequencePolicy::random(1, vocab, max_len, 1.0, 0)
                    .expect("built-in inputs are valid")
                    .responses();
                TabularPolicy::random(prompts, ys, 1.0, seed)
                    .expect("built-in inputs are valid")
                    .log_prob_table()
            } else {
                SequencePolicy::random(prompts, vocab, max_len, 1.0, seed)
                    .expect("built-in inputs are valid")
                    .log_prob_table()
            };
            let reward = random_reward(prompts, reference.ncols(), 1.0, seed + 100);
            for &beta in &BETAS {
                let problem = Problem::from_log_reference(reference.clone(), reward.clone(), beta)
                    .expect("built-in problems are valid");
                out.push(Case {
                    problem,
                    vocab,
                    max_len,
                    seed,
                });
            }
        }
    }
    out
}

/// The three random policies of a case's shape, as tables of $\log\pi(y|x)$.
pub(super) fn random_policy_tables(case: &Case) -> Vec<Array2<f64>> {
    let (xs, ys) = (case.problem.prompts(), case.problem.responses());
    let s = case.seed + 7;
    vec![
        TabularPolicy::random(xs, ys, 1.5, s)
            .expect("built-in inputs are valid")
            .log_prob_table(),
        LogLinearPolicy::random(xs, ys, 3, s)
            .expect("built-in inputs are valid")
            .log_prob_table(),
        SequencePolicy::random(xs, case.vocab, case.max_len, 1.5, s)
            .expect("built-in inputs are valid")
            .log_prob_table(),
    ]
}

pub(super) fn rows(table: &Array2<f64>) -> Vec<Vec<f64>> {
    table.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// The scale of a problem's rewards, $\max(1, \max|r|)$: the floor of relative errors.
pub(super) fn scale(problem: &Problem) -> f64 {
    problem.reward().iter().fold(1.0, |m, r| m.max(r.abs()))
}

/// Largest element-wise error of `a` against `b`, relative to `max(floor, max |b|)`.
pub fn max_rel_error<'a>(
    a: impl IntoIterator<Item = &'a f64>,
    b: impl IntoIterator<Item = &'a f64> + Clone,
    floor: f64,
) -> f64 {
    let norm = b.clone().into_iter().fold(floor, |m, v| m.max(v.abs()));
    a.into_iter()
        .zip(b)
        .map(|(x, y)| rel_error(*x, *y, norm))
        .fold(0.0, f64::max)
}

/// Every chain row of the self-verification table.
pub fn checks() -> Vec<ClaimCheck> {
    let cases = cases();
    let mut rows = problem::input_checks();
    rows.extend(policies::policy_checks());
    rows.extend(objective::objective_checks(&cases));
    rows.extend(reward::reward_checks(&cases));
    rows.extend(preferences::preference_checks(&cases));
    rows.extend(dpo_loss::dpo_checks(&cases));
    rows.extend(dpo_loss::listwise_checks());
    rows.extend(population::population_checks(&cases));
    rows.extend(utilisation::utilisation_checks());
    rows
}
