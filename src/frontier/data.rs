//! One preference data set for every method: $N$ pairs per prompt drawn from
//! $\pi_{\text{ref}}$ and labelled by Bradley–Terry under $r^\*$ (the utilisation recipe,
//! [`crate::utilisation::sample_preferences`]), identical pairs merged.

use crate::dpo::Pair;
use crate::problem::Problem;
use crate::utilisation::{aggregate, sample_preferences};

/// Weighted pairs grouped by prompt, with each prompt's distinct responses listed once (so a
/// loss evaluates $\log\pi(y|x)$ only where the data needs it).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The merged pairs (weights sum to 1).
    pub pairs: Vec<Pair>,
    /// Per prompt: its distinct responses.
    pub responses: Vec<Vec<usize>>,
    /// Per prompt: (index of $y_w$, index of $y_l$ in `responses[x]`, weight).
    pub local: Vec<Vec<(usize, usize, f64)>>,
}

impl Dataset {
    /// `per_prompt` sampled pairs per prompt of `problem` (its reward labels them).
    pub fn sample(problem: &Problem, per_prompt: usize, seed: u64) -> Self {
        Self::from_pairs(
            problem.prompts(),
            aggregate(&sample_preferences(problem, per_prompt, seed)),
        )
    }

    /// Groups weighted pairs of `prompts` prompts.
    pub fn from_pairs(prompts: usize, pairs: Vec<Pair>) -> Self {
        let mut responses: Vec<Vec<usize>> = vec![Vec::new(); prompts];
        let mut local: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); prompts];
        for p in &pairs {
            let ys = &mut responses[p.prompt];
            let mut slot = |y: usize| match ys.iter().position(|&z| z == y) {
                Some(i) => i,
                None => {
                    ys.push(y);
                    ys.len() - 1
                }
            };
            let (w, l) = (slot(p.chosen), slot(p.rejected));
            local[p.prompt].push((w, l, p.weight));
        }
        Self {
            pairs,
            responses,
            local,
        }
    }
}
