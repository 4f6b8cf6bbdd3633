//! The paper's recipe for using DPO: sample $y_1, y_2 \sim \pi_{\text{ref}}(\cdot|x)$ for every
//! prompt, label each pair with a preference, and minimise the empirical DPO loss.
//!
//! Here the labels come from Bradley–Terry under a known reward $r^\*$, so the recipe can be
//! checked end to end: the empirical preference frequencies must fit Bradley–Terry (a Pearson
//! goodness-of-fit test), and the learnt policy must approach $\pi_{r^\*}$ as the sample grows,
//! at the parametric rate $n^{-1/2}$.

use std::collections::BTreeMap;

use ndarray::Array2;

use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::dpo::Pair;
use crate::partition::optimal_policy;
use crate::policy::{Policy, TabularPolicy};
use crate::population::{
    free_coordinates, minimise_tabular, population_pairs, solve_hessian, worst_total_variation,
    MinimiseError,
};
use crate::problem::Problem;
use crate::scalar::Real;

/// Draws an index from the distribution with log-probabilities `log_p` by inversion.
fn draw(log_p: &[f64], rng: &mut StdRng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, l) in log_p.iter().enumerate() {
        acc += l.exp();
        if u < acc {
            return i;
        }
    }
    log_p.len() - 1
}

/// Step 1 of the recipe: for every prompt, `per_prompt` pairs $y_1, y_2 \sim \pi_{\text{ref}}$
/// labelled $y_1 \succ y_2$ with probability $\sigma(r^\*(x,y_1) - r^\*(x,y_2))$; each pair has
/// weight $1/N$ ($N$ = all pairs), so the weighted loss is the empirical mean.
pub fn sample_preferences(problem: &Problem, per_prompt: usize, seed: u64) -> Vec<Pair> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = (problem.prompts() * per_prompt) as f64;
    let mut pairs = Vec::with_capacity(problem.prompts() * per_prompt);
    for x in 0..problem.prompts() {
        let l = problem.log_ref_row(x).to_vec();
        let r = problem.reward().row(x);
        for _ in 0..per_prompt {
            let (a, b) = (draw(&l, &mut rng), draw(&l, &mut rng));
            let first_wins = rng.random::<f64>() < (r[a] - r[b]).sigmoid();
            let (chosen, rejected) = if first_wins { (a, b) } else { (b, a) };
            pairs.push(Pair {
                prompt: x,
                chosen,
                rejected,
                weight: 1.0 / n,
            });
        }
    }
    pairs
}

/// Merges identical $(x, y_w, y_l)$ pairs, adding their weights (the loss is unchanged).
pub fn aggregate(pairs: &[Pair]) -> Vec<Pair> {
    let mut merged: BTreeMap<(usize, usize, usize), f64> = BTreeMap::new();
    for p in pairs {
        *merged
            .entry((p.prompt, p.chosen, p.rejected))
            .or_insert(0.0) += p.weight;
    }
    merged
        .into_iter()
        .map(|((prompt, chosen, rejected), weight)| Pair {
            prompt,
            chosen,
            rejected,
            weight,
        })
        .collect()
}

/// A Pearson goodness-of-fit test of sampled preferences against Bradley–Terry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoodnessOfFit {
    /// $\chi^2 = \sum_{x,\\{a,b\\}} (W_{ab} - n_{ab}\\,p_{ab})^2 / (n_{ab}\\,p_{ab}(1-p_{ab}))$ over
    /// the unordered pairs $a \ne b$ compared $n_{ab} > 0$ times, $W_{ab}$ the wins of $a$.
    pub statistic: f64,
    /// Degrees of freedom: the number of such pairs (one free cell each).
    pub dof: usize,
    /// $P(\chi^2_{\text{dof}} \ge \text{statistic})$.
    pub p_value: f64,
}

/// Tests the preferences' win counts against $p_{ab} = \sigma(r(x,a) - r(x,b))$ under the
/// problem's reward. Ties ($y_1 = y_2$) carry no information and are skipped.
pub fn goodness_of_fit(problem: &Problem, pairs: &[Pair]) -> GoodnessOfFit {
    // (x, a, b) with a < b  ->  (comparisons, wins of a)
    let mut counts: BTreeMap<(usize, usize, usize), (f64, f64)> = BTreeMap::new();
    for p in pairs.iter().filter(|p| p.chosen != p.rejected) {
        let (a, b) = (p.chosen.min(p.rejected), p.chosen.max(p.rejected));
        let e = counts.entry((p.prompt, a, b)).or_insert((0.0, 0.0));
        e.0 += 1.0;
        e.1 += f64::from(u8::from(p.chosen == a));
    }
    let statistic = counts
        .iter()
        .map(|(&(x, a, b), &(n, wins))| {
            let p = (problem.reward()[[x, a]] - problem.reward()[[x, b]]).sigmoid();
            (wins - n * p).powi(2) / (n * p * (1.0 - p))
        })
        .sum();
    let dof = counts.len();
    let p_value = ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(statistic));
    GoodnessOfFit {
        statistic,
        dof,
        p_value,
    }
}

/// Step 2 of the recipe: the tabular policy minimising the empirical DPO loss of
/// `per_prompt` sampled pairs per prompt.
pub fn learnt_policy(
    problem: &Problem,
    per_prompt: usize,
    seed: u64,
) -> Result<TabularPolicy, MinimiseError> {
    let pairs = aggregate(&sample_preferences(problem, per_prompt, seed));
    Ok(minimise_tabular(problem.log_ref(), &pairs, problem.beta())?.policy)
}

/// $\sum_x\\|\pi(\cdot|x) - \pi^\*(\cdot|x)\\|\_2^2$.
fn squared_distance(log_pi: &Array2<f64>, target: &Array2<f64>) -> f64 {
    log_pi
        .iter()
        .zip(target)
        .map(|(a, b)| (a.exp() - b.exp()).powi(2))
        .sum()
}

/// The asymptotic mean of $\sum_x\\|\hat\pi(\cdot|x) - \pi_{r^\*}(\cdot|x)\\|\_2^2$ for the empirical
/// minimiser with `per_prompt` pairs per prompt ($N$ pairs in all):
/// $\operatorname{tr}(J H^{-1} J^\top)/N$.
///
/// $H$ is the Hessian of the population loss at $\pi_{r^\*}$ over the free logits; since the
/// labels follow the model, the per-sample gradient has covariance $H$ too (the information
/// equality), so $\hat\theta - \theta^\* \approx \mathcal N(0, H^{-1}/N)$. $J_{yk} =
/// \partial\pi(y|x)/\partial\theta_{x,k} = \pi(y|x)([y=k] - \pi(k|x))$ maps it to probabilities.
pub fn predicted_squared_error(problem: &Problem, per_prompt: usize) -> Result<f64, MinimiseError> {
    let (xs, ys) = (problem.prompts(), problem.responses());
    let star = optimal_policy(problem).log_pi;
    let theta: Vec<f64> = star.iter().copied().collect();
    let pairs = population_pairs(problem);
    let free = free_coordinates(xs, ys);
    let mut inverse = Vec::with_capacity(free.len());
    for j in 0..free.len() {
        let unit: Vec<f64> = (0..free.len())
            .map(|i| f64::from(u8::from(i == j)))
            .collect();
        inverse.push(
            solve_hessian(
                &theta,
                problem.log_ref(),
                &pairs,
                problem.beta(),
                &free,
                &unit,
            )
            .ok_or(MinimiseError::SingularHessian)?,
        );
    }
    // J restricted to the free coordinates: J[y_flat][free index].
    let jacobian = |flat: usize, k: usize| {
        let (x, y) = (flat / ys, flat % ys);
        let (xk, yk) = (free[k] / ys, free[k] % ys);
        if x != xk {
            return 0.0;
        }
        let (p_y, p_k) = (star[[x, y]].exp(), star[[x, yk]].exp());
        p_y * (f64::from(u8::from(y == yk)) - p_k)
    };
    let mut trace = 0.0;
    for flat in 0..xs * ys {
        for (k, column) in inverse.iter().enumerate() {
            let jk = jacobian(flat, k);
            if jk != 0.0 {
                for (l, m) in column.iter().enumerate() {
                    trace += jk * m * jacobian(flat, l);
                }
            }
        }
    }
    Ok(trace / (xs * per_prompt) as f64)
}

/// The learnt policy's error as the sample grows (see [`error_rate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RateReport {
    /// Root-mean-square worst-prompt total-variation distance to $\pi_{r^\*}$, per sample size.
    pub rms_tv: Vec<f64>,
    /// Least-squares slope of $\log(\text{RMS TV})$ against $\log n$ ($-1/2$ expected).
    pub exponent: f64,
    /// Mean of $\sum_x\\|\hat\pi - \pi_{r^\*}\\|\_2^2$ over the replications divided by
    /// [`predicted_squared_error`], per sample size ($\to 1$ as $n$ grows).
    pub mse_ratio: Vec<f64>,
}

/// Runs the recipe `replications` times (seeded) for each number of pairs per prompt in
/// `sizes`, and reports how the learnt policy's error shrinks.
pub fn error_rate(
    problem: &Problem,
    sizes: &[usize],
    replications: u64,
    seed: u64,
) -> Result<RateReport, MinimiseError> {
    let star = optimal_policy(problem).log_pi;
    let mut rms_tv = Vec::with_capacity(sizes.len());
    let mut mse_ratio = Vec::with_capacity(sizes.len());
    for (k, &n) in sizes.iter().enumerate() {
        let (mut tv2, mut l2) = (0.0, 0.0);
        for rep in 0..replications {
            let stream = seed
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add((k as u64) << 32)
                .wrapping_add(rep);
            let fit = learnt_policy(problem, n, stream)?;
            tv2 += worst_total_variation(&fit, &star).powi(2);
            l2 += squared_distance(&fit.log_prob_table(), &star);
        }
        rms_tv.push((tv2 / replications as f64).sqrt());
        mse_ratio.push(l2 / replications as f64 / predicted_squared_error(problem, n)?);
    }
    let xs: Vec<f64> = sizes.iter().map(|&n| (n as f64).ln()).collect();
    let ys: Vec<f64> = rms_tv.iter().map(|e| e.ln()).collect();
    let (mx, my) = (
        xs.iter().sum::<f64>() / xs.len() as f64,
        ys.iter().sum::<f64>() / ys.len() as f64,
    );
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    Ok(RateReport {
        rms_tv,
        exponent: cov / var,
        mse_ratio,
    })
}
