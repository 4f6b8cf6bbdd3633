//! The summary: per method, the best reward reached at $\overline{\mathrm{KL}} \le 1, 2, 5$ nats
//! (mean, min and max over replicates), the gap to the optimal frontier at the matched KL, and
//! the wall time.

use std::fmt::Write as _;

use super::FrontierReport;
use crate::frontier::methods::Method;

/// The KL budgets of the summary, in nats.
pub const KL_BUDGETS: [f64; 3] = [1.0, 2.0, 5.0];

/// One method at one KL budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The budget (nats).
    pub kl: f64,
    /// Per replicate (in seed order): the best reward among its points with KL ≤ budget.
    pub best: Vec<Option<f64>>,
    /// Per replicate: frontier reward at that point's KL minus its reward.
    pub gap: Vec<Option<f64>>,
}

impl Budget {
    /// Mean, min and max of the replicates that reached a point within the budget.
    pub fn spread(&self) -> Option<(f64, f64, f64)> {
        stats(&self.best)
    }
    /// Mean gap to the frontier.
    pub fn mean_gap(&self) -> Option<f64> {
        stats(&self.gap).map(|s| s.0)
    }
}

fn stats(values: &[Option<f64>]) -> Option<(f64, f64, f64)> {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((mean, min, max))
}

/// One method's row.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The method.
    pub method: Method,
    /// One entry per [`KL_BUDGETS`].
    pub budgets: Vec<Budget>,
    /// Wall time (seconds).
    pub seconds: f64,
}

impl FrontierReport {
    /// The frontier's reward at each KL budget.
    pub fn frontier_at_budgets(&self) -> Vec<f64> {
        let f = self.frontier();
        KL_BUDGETS.iter().map(|&k| f.at_kl(k).reward).collect()
    }

    /// One row per method (not the frontier itself).
    pub fn summary(&self) -> Vec<SummaryRow> {
        let frontier = self.frontier();
        let seeds: Vec<u64> = (0..self.options.seeds)
            .map(|k| self.options.seed.wrapping_add(k as u64))
            .collect();
        Method::ALL
            .iter()
            .filter(|&&m| m != Method::Optimal)
            .map(|&method| {
                let budgets = KL_BUDGETS
                    .iter()
                    .map(|&kl| {
                        let (best, gap) = seeds
                            .iter()
                            .map(|&s| {
                                let best = self
                                    .points
                                    .iter()
                                    .filter(|p| p.method == method && p.seed == Some(s))
                                    .filter(|p| p.kl <= kl)
                                    .max_by(|a, b| a.reward.total_cmp(&b.reward));
                                let gap = best.map(|p| frontier.at_kl(p.kl).reward - p.reward);
                                (best.map(|p| p.reward), gap)
                            })
                            .unzip();
                        Budget { kl, best, gap }
                    })
                    .collect();
                SummaryRow {
                    method,
                    budgets,
                    seconds: self.seconds.get(&method).copied().unwrap_or(0.0),
                }
            })
            .collect()
    }

    /// The summary as a text table (what `dpo-oracle frontier` prints).
    pub fn summary_text(&self) -> String {
        let mut out = String::new();
        let o = &self.options;
        let _ = writeln!(
            out,
            "RLHF against DPO: {} prompts, {} responses each, {} pairs per prompt, {} replicates (seeds {}..{}), beta in {:?}",
            o.prompts,
            self.problem.responses(),
            o.pairs_per_prompt,
            o.seeds,
            o.seed,
            o.seed.wrapping_add(o.seeds as u64 - 1),
            o.betas
        );
        let _ = writeln!(
            out,
            "best reward E[r*] at mean KL <= budget: mean [min, max] over replicates; gap = frontier at that KL - reward"
        );
        let mut header = format!("{:<13}", "method");
        for k in KL_BUDGETS {
            header.push_str(&format!(" | {:^30}", format!("KL <= {k}")));
        }
        header.push_str(" |  time (s)");
        let _ = writeln!(out, "{header}");
        let mut frontier_line = format!("{:<13}", "optimal");
        for r in self.frontier_at_budgets() {
            frontier_line.push_str(&format!(" | {:^30}", format!("{r:.4}")));
        }
        frontier_line.push_str(&format!(
            " | {:>9.2}",
            self.seconds.get(&Method::Optimal).copied().unwrap_or(0.0)
        ));
        let _ = writeln!(out, "{frontier_line}");
        for row in self.summary() {
            let mut line = format!("{:<13}", row.method.name());
            for b in &row.budgets {
                let cell = match (b.spread(), b.mean_gap()) {
                    (Some((mean, min, max)), Some(gap)) => {
                        format!("{mean:.4} [{min:.4}, {max:.4}] gap {gap:.4}")
                    }
                    _ => "-".to_string(),
                };
                line.push_str(&format!(" | {cell:^30}"));
            }
            line.push_str(&format!(" | {:>9.2}", row.seconds));
            let _ = writeln!(out, "{line}");
        }
        out
    }
}
