//! The optimal frontier: $\pi_{r,\beta}(y|x) \propto \pi_{\text{ref}}(y|x)\\,e^{r(x,y)/\beta}$
//! (Eq. 4, exact) traced over β, and the bound it puts on every policy.
//!
//! For every policy $\pi$ and every $\beta > 0$ (Eq. 3 maximised by Eq. 4, whose value is
//! $\beta\log Z(x)$):
//! $$\bar R(\pi) - \beta\\,\overline{\mathrm{KL}}(\pi) \le \beta\\,\overline{\log Z_\beta},$$
//! so no point lies above the curve $\beta \mapsto (\overline{\mathrm{KL}}(\pi_\beta), \bar R(\pi_\beta))$:
//! it is the Pareto frontier of reward against KL (proofs/10-frontier.md).

use ndarray::Array2;

use super::super::evaluation::kl_and_reward;
use crate::partition::{log_partition, optimal_log_policy};

/// The optimal policies of one reward over one reference.
#[derive(Debug, Clone)]
pub struct OptimalFrontier<'a> {
    log_ref: &'a Array2<f64>,
    reward: &'a Array2<f64>,
}

/// A point of the optimal frontier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrontierPoint {
    /// β.
    pub beta: f64,
    /// $\overline{\mathrm{KL}}(\pi_\beta\\|\pi_{\text{ref}})$.
    pub kl: f64,
    /// $\bar R(\pi_\beta)$ under the frontier's reward.
    pub reward: f64,
    /// $\overline{\log Z_\beta} = \frac1X\sum_x\log Z_\beta(x)$.
    pub mean_log_z: f64,
}

impl<'a> OptimalFrontier<'a> {
    /// The frontier of `reward` over `log_ref` (same shape).
    pub fn new(log_ref: &'a Array2<f64>, reward: &'a Array2<f64>) -> Self {
        Self { log_ref, reward }
    }

    /// $\log\pi_{r,\beta}(y|x)$, prompts × responses.
    pub fn log_policy(&self, beta: f64) -> Array2<f64> {
        let mut out = Array2::zeros(self.log_ref.dim());
        for ((l, r), mut o) in self
            .log_ref
            .rows()
            .into_iter()
            .zip(self.reward.rows())
            .zip(out.rows_mut())
        {
            let lp = optimal_log_policy(&l.to_vec(), &r.to_vec(), beta);
            o.assign(&ndarray::ArrayView1::from(&lp));
        }
        out
    }

    /// The frontier's point at β (KL, reward, mean $\log Z$), exact sums.
    pub fn at(&self, beta: f64) -> FrontierPoint {
        let (kl, reward) = kl_and_reward(&self.log_policy(beta), self.log_ref, self.reward);
        let mean_log_z = self
            .log_ref
            .rows()
            .into_iter()
            .zip(self.reward.rows())
            .map(|(l, r)| log_partition(&l.to_vec(), &r.to_vec(), beta))
            .sum::<f64>()
            / self.log_ref.nrows() as f64;
        FrontierPoint {
            beta,
            kl,
            reward,
            mean_log_z,
        }
    }

    /// `points` frontier points, β log-spaced from `range.1` down to `range.0` (KL increasing).
    pub fn trace(&self, range: (f64, f64), points: usize) -> Vec<FrontierPoint> {
        let (lo, hi) = (range.0.ln(), range.1.ln());
        (0..points)
            .map(|i| {
                let f = i as f64 / (points.max(2) - 1) as f64;
                self.at((hi + f * (lo - hi)).exp())
            })
            .collect()
    }

    /// How far a point $(\overline{\mathrm{KL}}, \bar R)$ lies above the bound at β:
    /// $\bar R - \beta\\,\overline{\mathrm{KL}} - \beta\\,\overline{\log Z_\beta}$ ($\le 0$ for every
    /// policy).
    pub fn excess(point: &FrontierPoint, kl: f64, reward: f64) -> f64 {
        reward - point.beta * kl - point.beta * point.mean_log_z
    }

    /// The frontier's reward at mean KL `kl`: $\bar R(\pi_\beta)$ with β solving
    /// $\overline{\mathrm{KL}}(\pi_\beta) = $ `kl` (bisection on $\log\beta$ over
    /// $[10^{-4}, 10^{4}]$; KL falls as β grows), with the matched point.
    pub fn at_kl(&self, kl: f64) -> FrontierPoint {
        let (mut lo, mut hi) = (1e-4_f64.ln(), 1e4_f64.ln());
        let low_beta = self.at(lo.exp());
        if kl >= low_beta.kl {
            return low_beta;
        }
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if self.at(mid.exp()).kl > kl {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        self.at(hi.exp())
    }
}
