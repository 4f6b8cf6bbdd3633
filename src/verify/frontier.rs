//! Step 10: RLHF against DPO on exact toy problems (C-front).
//!
//! The functions here compute each claim's errors; the tests in `tests/frontier.rs` call them
//! (and add their own checks), and [`checks`] turns them into rows.

use ndarray::Array2;

use super::ClaimCheck;
use crate::divergence::total_variation;
use crate::frontier::data::Dataset;
use crate::frontier::evaluation::{kl_and_reward, log_prob_table};
use crate::frontier::family::Tabular;
use crate::frontier::methods::{dpo, reward_model, rlhf_exact};
use crate::frontier::optim::lbfgs;
use crate::frontier::problem::ToyProblem;
use crate::frontier::{run, FrontierOptions};
use crate::partition::optimal_policy;
use crate::population::population_pairs;
use crate::prec::{FRONTIER_ROUNDING, POPULATION_TV};

/// A tiny run: 2 prompts, $V = 2$, $L = 3$ (15 responses), one replicate, short training, two
/// β; every method still runs.
pub fn tiny_options(seed: u64) -> FrontierOptions {
    FrontierOptions {
        seeds: 1,
        prompts: 2,
        vocab: 2,
        max_len: 3,
        pairs_per_prompt: 32,
        held_out_per_prompt: 32,
        betas: vec![0.1, 1.0],
        frontier_points: 8,
        steps: 40,
        checkpoint_every: 20,
        ppo_iterations: 10,
        ppo_rollouts: 8,
        ppo_checkpoint_every: 5,
        best_of_n: vec![1, 4, 16],
        ..FrontierOptions::standard(seed)
    }
}

/// The small problem of claims C-front-2 and C-front-3: 2 prompts, $V = 2$, $L = 2$
/// (7 responses), in the tabular class (which contains every $\pi_r$).
pub fn tabular_problem(seed: u64) -> ToyProblem {
    let options = FrontierOptions {
        prompts: 2,
        vocab: 2,
        max_len: 2,
        ..FrontierOptions::standard(seed)
    };
    ToyProblem::new(&options).expect("built-in options are valid")
}

/// Iterations of the claims' exact optimisations (L-BFGS stops earlier, at rounding level).
pub const CLAIM_ITERATIONS: usize = 2_000;

fn tabular_of(problem: &ToyProblem) -> (Tabular, Vec<f64>) {
    let family = Tabular {
        prompts: problem.prompts(),
        responses: problem.responses(),
    };
    (family, problem.log_ref.iter().copied().collect())
}

fn worst_tv(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.rows()
        .into_iter()
        .zip(b.rows())
        .map(|(p, q)| total_variation(&p.to_vec(), &q.to_vec()))
        .fold(0.0, f64::max)
}

fn minimise(theta0: &[f64], loss_and_gradient: impl FnMut(&[f64]) -> (f64, Vec<f64>)) -> Vec<f64> {
    lbfgs(theta0, CLAIM_ITERATIONS, loss_and_gradient)
}

/// $(-J, -\nabla J)$ of RLHF-exact on `reward`.
fn rlhf(
    family: &Tabular,
    theta: &[f64],
    problem: &ToyProblem,
    reward: &Array2<f64>,
    beta: f64,
) -> (f64, Vec<f64>) {
    (
        -rlhf_exact::objective(family, theta, &problem.log_ref, reward, beta),
        rlhf_exact::gradient(family, theta, &problem.log_ref, reward, beta),
    )
}

/// C-front-2: worst-prompt total variation to $\pi_{r^\*}$ of (DPO on the population pairs,
/// RLHF-exact on $r^\*$), both in the tabular class from $\pi_{\text{ref}}$.
pub fn equivalence_errors(seed: u64, beta: f64) -> (f64, f64) {
    let problem = tabular_problem(seed);
    let (family, theta_ref) = tabular_of(&problem);
    let truth = problem
        .as_problem(&problem.reward, beta)
        .expect("built-in problem is valid");
    let star = optimal_policy(&truth).log_pi;
    let data = Dataset::from_pairs(problem.prompts(), population_pairs(&truth));
    let dpo_theta = minimise(&theta_ref, |t| {
        (
            dpo::loss(&family, t, &problem.log_ref, &data, beta),
            dpo::gradient(&family, t, &problem.log_ref, &data, beta),
        )
    });
    let rlhf_theta = minimise(&theta_ref, |t| {
        rlhf(&family, t, &problem, &problem.reward, beta)
    });
    (
        worst_tv(&log_prob_table(&family, &dpo_theta), &star),
        worst_tv(&log_prob_table(&family, &rlhf_theta), &star),
    )
}

/// What RLHF-exact with a learnt reward reaches (claim C-front-3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardModelGap {
    /// Worst-prompt TV from the RLHF-exact policy to $\pi_{r_\phi}$.
    pub tv_to_learnt: f64,
    /// Worst-prompt TV from $\pi_{r_\phi}$ to $\pi_{r^\*}$ (the reward model's error, in policy).
    pub learnt_to_true: f64,
    /// $|\bar R - \bar R(\pi_{r_\phi})| + |\overline{\mathrm{KL}} - \overline{\mathrm{KL}}(\pi_{r_\phi})|$
    /// of the RLHF-exact policy under $r^\*$: its point is $\pi_{r_\phi}$'s point.
    pub point_difference: f64,
    /// Frontier reward at $\pi_{r_\phi}$'s KL minus its reward (the gap the reward model leaves).
    pub gap: f64,
}

/// C-front-3 on the tabular problem: fit $r_\phi$ on `pairs_per_prompt` sampled pairs per
/// prompt, run RLHF-exact on it, compare with $\pi_{r_\phi}$ and $\pi_{r^\*}$.
pub fn reward_model_gap(seed: u64, beta: f64, pairs_per_prompt: usize) -> RewardModelGap {
    let problem = tabular_problem(seed);
    let (family, theta_ref) = tabular_of(&problem);
    let truth = problem
        .as_problem(&problem.reward, beta)
        .expect("built-in problem is valid");
    let data = Dataset::sample(&truth, pairs_per_prompt, seed + 1);
    let rm = reward_model::fit(&problem.family, &data, 1e-3);
    let learnt =
        optimal_policy(&problem.as_problem(&rm.table, beta).expect("finite reward")).log_pi;
    let star = optimal_policy(&truth).log_pi;
    let theta = minimise(&theta_ref, |t| rlhf(&family, t, &problem, &rm.table, beta));
    let reached = log_prob_table(&family, &theta);
    let (kl, reward) = kl_and_reward(&reached, &problem.log_ref, &problem.reward);
    let (kl_l, reward_l) = kl_and_reward(&learnt, &problem.log_ref, &problem.reward);
    let frontier =
        crate::frontier::methods::optimal::OptimalFrontier::new(&problem.log_ref, &problem.reward);
    RewardModelGap {
        tv_to_learnt: worst_tv(&reached, &learnt),
        learnt_to_true: worst_tv(&learnt, &star),
        point_difference: (reward - reward_l).abs() + (kl - kl_l).abs(),
        gap: frontier.at_kl(kl_l).reward - reward_l,
    }
}

/// The rows of step 10.
pub fn checks() -> Vec<ClaimCheck> {
    let excess = run(&tiny_options(3)).map_or(f64::INFINITY, |r| r.check_frontier());
    let mut equivalence = Vec::new();
    let mut gap = Vec::new();
    for (seed, beta) in [(0, 0.5), (1, 2.0)] {
        let (a, b) = equivalence_errors(seed, beta);
        equivalence.extend([a, b]);
        let g = reward_model_gap(seed, beta, 64);
        // Error: distance to pi_{r_phi}; infinite unless pi_{r_phi} is visibly not pi_{r*}.
        gap.push(if g.learnt_to_true > 1e-3 && g.gap > 0.0 {
            g.tv_to_learnt.max(g.point_difference)
        } else {
            f64::INFINITY
        });
    }
    vec![
        ClaimCheck::new(
            "C-front-1",
            "every point of every method on or below the optimal frontier (excess over the bound)",
            [excess.max(0.0)],
            FRONTIER_ROUNDING,
        ),
        ClaimCheck::new(
            "C-front-2",
            "tabular class, population data: DPO and RLHF-exact(r*) reach pi_{r*} (worst TV)",
            equivalence,
            POPULATION_TV,
        ),
        ClaimCheck::new(
            "C-front-3",
            "RLHF-exact(r_phi) reaches pi_{r_phi} (TV, point), which is not pi_{r*}",
            gap,
            POPULATION_TV,
        ),
    ]
}
