//! The reward model of RLHF: log-linear,
//! $$r_\phi(x, y) = \phi\cdot f(x, y),\qquad f(x,y) = \Big(\big[\tfrac{c_t(y)}{L}\big]\_{t=1..V}\text{ in prompt } x\text{\'s block},\ \tfrac{|y|}{L},\ \mathbf 1[|y|\ge 2,\ t_1 = t_{|y|}]\Big),$$
//! with $c_t(y)$ the count of token $t$ (dimension $XV + 2$). It can express the sentiment and
//! first-equals-last terms of $r^\*$ but not the repeated-token bonus. Fitted by Bradley–Terry
//! maximum likelihood with an L2 penalty,
//! $$\min_\phi\ \sum_i w_i\operatorname{softplus}\big(-\phi\cdot(f(x_i,y_{w,i}) - f(x_i,y_{l,i}))\big) + \tfrac\lambda2\\|\phi\\|^2,$$
//! a strictly convex problem (for $\lambda > 0$) solved by Newton's method with a Cholesky solve.

use ndarray::Array2;

use super::super::data::Dataset;
use super::super::family::Bigram;
use crate::scalar::Real;

/// Newton iterations at most; the fit stops earlier when a step is below [`NEWTON_STEP`].
pub const NEWTON_ITERATIONS: usize = 50;
/// Newton stops when the largest coordinate of a step is at most this.
pub const NEWTON_STEP: f64 = 1e-12;

/// A fitted reward model.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardModel {
    /// $\phi$.
    pub weights: Vec<f64>,
    /// $r_\phi(x,y)$, prompts × responses.
    pub table: Array2<f64>,
}

/// $f(x, y)$ as a dense vector of length $XV + 2$.
pub fn features(family: &Bigram, x: usize, y: usize) -> Vec<f64> {
    let (v, l) = (family.vocab(), family.max_len() as f64);
    let prompts = super::super::family::Family::prompts(family);
    let mut f = vec![0.0; prompts * v + 2];
    let tokens = family.tokens(y);
    for &t in tokens {
        f[x * v + t - 1] += 1.0 / l;
    }
    f[prompts * v] = tokens.len() as f64 / l;
    let k = tokens.len();
    f[prompts * v + 1] = f64::from(u8::from(k >= 2 && tokens[0] == tokens[k - 1]));
    f
}

/// Fits $\phi$ on the data set by penalised Bradley–Terry maximum likelihood.
pub fn fit(family: &Bigram, data: &Dataset, l2: f64) -> RewardModel {
    let prompts = super::super::family::Family::prompts(family);
    let d = prompts * family.vocab() + 2;
    let diffs: Vec<(Vec<f64>, f64)> = data
        .pairs
        .iter()
        .map(|p| {
            let (a, b) = (
                features(family, p.prompt, p.chosen),
                features(family, p.prompt, p.rejected),
            );
            (a.iter().zip(&b).map(|(a, b)| a - b).collect(), p.weight)
        })
        .collect();
    let mut phi = vec![0.0; d];
    // A tiny ridge keeps the Hessian positive definite when λ = 0 and a feature never varies.
    let ridge = l2.max(1e-12);
    for _ in 0..NEWTON_ITERATIONS {
        let mut grad: Vec<f64> = phi.iter().map(|p| ridge * p).collect();
        let mut hess = vec![0.0; d * d];
        for i in 0..d {
            hess[i * d + i] = ridge;
        }
        for (diff, w) in &diffs {
            let m: f64 = diff.iter().zip(&phi).map(|(a, b)| a * b).sum();
            let s = (-m).sigmoid();
            let curvature = w * s * m.sigmoid();
            for (i, di) in diff.iter().enumerate() {
                if *di == 0.0 {
                    continue;
                }
                grad[i] -= w * s * di;
                for (j, dj) in diff.iter().enumerate() {
                    hess[i * d + j] += curvature * di * dj;
                }
            }
        }
        let step = cholesky_solve(&hess, &grad, d);
        let largest = step.iter().fold(0.0_f64, |m, s| m.max(s.abs()));
        for (p, s) in phi.iter_mut().zip(&step) {
            *p -= s;
        }
        if largest <= NEWTON_STEP {
            break;
        }
    }
    let table = Array2::from_shape_fn(
        (prompts, super::super::family::Family::responses(family)),
        |(x, y)| {
            features(family, x, y)
                .iter()
                .zip(&phi)
                .map(|(a, b)| a * b)
                .sum()
        },
    );
    RewardModel {
        weights: phi,
        table,
    }
}

/// Solves $Hs = g$ for a symmetric positive definite $H$ ($d \times d$, row-major).
fn cholesky_solve(h: &[f64], g: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                l[i * d + i] = (h[i * d + i] - s).max(f64::MIN_POSITIVE).sqrt();
            } else {
                l[i * d + j] = (h[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    let mut z = vec![0.0; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * z[k]).sum();
        z[i] = (g[i] - s) / l[i * d + i];
    }
    let mut s = vec![0.0; d];
    for i in (0..d).rev() {
        let t: f64 = (i + 1..d).map(|k| l[k * d + i] * s[k]).sum();
        s[i] = (z[i] - t) / l[i * d + i];
    }
    s
}

/// Fraction of the pairs (with $y_w \ne y_l$) that `reward` orders as labelled
/// (a tie counts as wrong), weighted.
pub fn accuracy(reward: &Array2<f64>, data: &Dataset) -> f64 {
    let (mut right, mut total) = (0.0, 0.0);
    for p in data.pairs.iter().filter(|p| p.chosen != p.rejected) {
        total += p.weight;
        if reward[[p.prompt, p.chosen]] > reward[[p.prompt, p.rejected]] {
            right += p.weight;
        }
    }
    if total > 0.0 {
        right / total
    } else {
        0.0
    }
}
