//! The paper's recipe for using DPO: sample $y_1, y_2 \sim \pi_{\text{ref}}(\cdot|x)$ for every
//! prompt, label each pair with a preference, and minimise the empirical DPO loss.
//!
//! Here the labels come from Bradley–Terry under a known reward $r^*$, so the recipe can be
//! checked end to end: the empirical preference frequencies must fit Bradley–Terry (a Pearson
//! goodness-of-fit test), and the learnt policy must approach $\pi_{r^*}$ as the sample grows,
//! at the parametric rate $n^{-1/2}$.

use std::collections::BTreeMap;

use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::dpo::Pair;
use crate::partition::optimal_policy;
use crate::population::{minimise_tabular, worst_total_variation, MinimiseError};
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
/// labelled $y_1 \succ y_2$ with probability $\sigma(r^*(x,y_1) - r^*(x,y_2))$; each pair has
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
    /// $\chi^2 = \sum_{x,\{a,b\}} (W_{ab} - n_{ab}\,p_{ab})^2 / (n_{ab}\,p_{ab}(1-p_{ab}))$ over
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
/// `per_prompt` sampled pairs per prompt, and its worst-prompt total-variation distance to
/// $\pi_{r^*}$.
pub fn learnt_error(problem: &Problem, per_prompt: usize, seed: u64) -> Result<f64, MinimiseError> {
    let pairs = aggregate(&sample_preferences(problem, per_prompt, seed));
    let fit = minimise_tabular(problem.log_ref(), &pairs, problem.beta())?;
    Ok(worst_total_variation(
        &fit.policy,
        &optimal_policy(problem).log_pi,
    ))
}

/// Root-mean-square learnt error over `replications` seeds for each sample size, and the
/// least-squares slope of $\log(\text{RMS error})$ against $\log n$ (the rate exponent;
/// $-1/2$ expected).
pub fn error_rate(
    problem: &Problem,
    sizes: &[usize],
    replications: u64,
    seed: u64,
) -> Result<(Vec<f64>, f64), MinimiseError> {
    let mut rms = Vec::with_capacity(sizes.len());
    for (k, &n) in sizes.iter().enumerate() {
        let mut sq = 0.0;
        for rep in 0..replications {
            let e = learnt_error(problem, n, seed ^ ((k as u64) << 32) ^ rep)?;
            sq += e * e;
        }
        rms.push((sq / replications as f64).sqrt());
    }
    let xs: Vec<f64> = sizes.iter().map(|&n| (n as f64).ln()).collect();
    let ys: Vec<f64> = rms.iter().map(|e| e.ln()).collect();
    let (mx, my) = (
        xs.iter().sum::<f64>() / xs.len() as f64,
        ys.iter().sum::<f64>() / ys.len() as f64,
    );
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    Ok((rms, cov / var))
}
