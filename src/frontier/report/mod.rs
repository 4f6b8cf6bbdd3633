//! The run's results and their renderings: [`csv`], [`svg`], [`summary`]; [`output`] writes
//! them into a folder without replacing files it did not write.

pub mod csv;
pub mod output;
pub mod summary;
pub mod svg;

use std::collections::BTreeMap;

use super::methods::optimal::{FrontierPoint, OptimalFrontier};
use super::methods::Method;
use super::options::FrontierOptions;
use super::problem::ToyProblem;

/// One point of one method: exact mean KL to $\pi_{\text{ref}}$ and exact mean reward $r^\*$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The method.
    pub method: Method,
    /// β of the run (DPO, RLHF-exact, PPO, PPO-GT, the optimal frontier).
    pub beta: Option<f64>,
    /// $N$ of Best-of-$N$.
    pub n: Option<usize>,
    /// The replicate's seed (none for the optimal frontier).
    pub seed: Option<u64>,
    /// Training step or PPO iteration of the checkpoint (0 where there is no training).
    pub step: usize,
    /// $\overline{\mathrm{KL}}(\pi\\|\pi_{\text{ref}})$ in nats.
    pub kl: f64,
    /// $\mathbb E_\pi[r^\*]$, mean over prompts.
    pub reward: f64,
    /// Held-out accuracy of the reward model the method used.
    pub rm_accuracy: Option<f64>,
}

/// β grid of the frontier bound check: 241 values log-spaced over $[10^{-3}, 10^{3}]$ (any
/// grid gives valid bounds; a finer one gives tighter ones).
pub const BOUND_GRID: (f64, f64, usize) = (1e-3, 1e3, 241);

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct FrontierReport {
    /// The options of the run.
    pub options: FrontierOptions,
    /// The problem.
    pub problem: ToyProblem,
    /// The optimal frontier's points.
    pub optimal: Vec<Point>,
    /// Every other method's points.
    pub points: Vec<Point>,
    /// Wall time per method in seconds (all replicates and β; the reward model's fit counts
    /// under RLHF-exact).
    pub seconds: BTreeMap<Method, f64>,
}

impl FrontierReport {
    /// Assembles a report.
    pub fn new(
        options: FrontierOptions,
        problem: ToyProblem,
        optimal: Vec<Point>,
        points: Vec<Point>,
        seconds: BTreeMap<Method, f64>,
    ) -> Self {
        Self {
            options,
            problem,
            optimal,
            points,
            seconds,
        }
    }

    /// The optimal frontier of $r^\*$ on this problem.
    pub fn frontier(&self) -> OptimalFrontier<'_> {
        OptimalFrontier::new(&self.problem.log_ref, &self.problem.reward)
    }

    /// The frontier's points on [`BOUND_GRID`].
    pub fn bound_grid(&self) -> Vec<FrontierPoint> {
        let (lo, hi, n) = BOUND_GRID;
        self.frontier().trace((lo, hi), n)
    }

    /// Claim C-front-1: the largest excess of any point (of any method) over the bound
    /// $\bar R - \beta\overline{\mathrm{KL}} \le \beta\overline{\log Z_\beta}$, over every β of
    /// [`BOUND_GRID`]; at most [`crate::prec::FRONTIER_ROUNDING`] when the claim holds.
    pub fn check_frontier(&self) -> f64 {
        worst_excess(&self.bound_grid(), self.optimal.iter().chain(&self.points))
    }
}

/// The largest $\bar R - \beta\overline{\mathrm{KL}} - \beta\overline{\log Z_\beta}$ over `grid` and
/// `points` ($-\infty$ for no points).
pub fn worst_excess<'a>(
    grid: &[FrontierPoint],
    points: impl IntoIterator<Item = &'a Point>,
) -> f64 {
    points
        .into_iter()
        .flat_map(|p| {
            grid.iter()
                .map(|g| OptimalFrontier::excess(g, p.kl, p.reward))
        })
        .fold(f64::NEG_INFINITY, f64::max)
}
