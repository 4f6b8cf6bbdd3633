//! PPO on $\mathbb E_\pi r - \beta\\,\mathrm{KL}$, the RL step of RLHF.
//!
//! Each iteration: for every prompt draw $B$ rollouts $y \sim \pi_{\text{old}}(\cdot|x)$ (token
//! by token); give each the per-sequence KL-penalised reward
//! $R = r(x,y) - \beta\\,(\log\pi_{\text{old}}(y|x) - \log\pi_{\text{ref}}(y|x))$ and the advantage
//! $A = R - b_x$ with baseline $b_x$ the mean of $R$ over the prompt's rollouts; then
//! `epochs` passes over the rollouts in shuffled minibatches, each an Adam step on the clipped
//! surrogate
//! $$\mathcal L^{\text{CLIP}} = -\frac1{|M|}\sum_{i\in M}\min\big(\rho_iA_i,\ \operatorname{clip}(\rho_i, 1-\epsilon, 1+\epsilon)A_i\big),\qquad \rho_i = \frac{\pi_\theta(y_i|x_i)}{\pi_{\text{old}}(y_i|x_i)},$$
//! whose gradient is $-\rho_iA_i\nabla\log\pi_\theta(y_i|x_i)/|M|$ where the clip is inactive and 0
//! where it is.

use ndarray::Array2;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};

use super::super::family::Family;
use super::super::optim::{Optimiser, State};

/// PPO's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PpoConfig {
    /// KL coefficient β.
    pub beta: f64,
    /// Iterations.
    pub iterations: usize,
    /// Rollouts per prompt per iteration $B$.
    pub rollouts: usize,
    /// Epochs per iteration.
    pub epochs: usize,
    /// Minibatches per epoch.
    pub minibatches: usize,
    /// Clipping $\epsilon$.
    pub clip: f64,
    /// Adam learning rate (the same warm-up schedule as the full-batch methods).
    pub learning_rate: f64,
    /// A checkpoint every this many iterations (and at the last).
    pub every: usize,
    /// Seed of the rollouts and the shuffles.
    pub seed: u64,
}

/// One rollout: prompt, response, $\log\pi_{\text{old}}(y|x)$, advantage.
#[derive(Debug, Clone, Copy)]
struct Rollout {
    x: usize,
    y: usize,
    log_old: f64,
    advantage: f64,
}

/// Runs PPO from `theta0` on `reward`, calling `checkpoint(iteration, theta)`; returns the
/// final parameters.
pub fn train<F: Family>(
    family: &F,
    theta0: &[f64],
    log_ref: &Array2<f64>,
    reward: &Array2<f64>,
    config: &PpoConfig,
    mut checkpoint: impl FnMut(usize, &[f64]),
) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut theta = theta0.to_vec();
    let mut state = State::new(
        Optimiser::Adam {
            learning_rate: config.learning_rate,
        },
        theta.len(),
    );
    for iteration in 1..=config.iterations {
        let mut batch = rollouts(family, &theta, log_ref, reward, config, &mut rng);
        for _ in 0..config.epochs {
            shuffle(&mut batch, &mut rng);
            let size = batch.len().div_ceil(config.minibatches);
            for minibatch in batch.chunks(size) {
                let g = surrogate_gradient(family, &theta, minibatch, config.clip);
                state.step(&mut theta, &g);
            }
        }
        if iteration % config.every.max(1) == 0 || iteration == config.iterations {
            checkpoint(iteration, &theta);
        }
    }
    theta
}

fn rollouts<F: Family>(
    family: &F,
    theta: &[f64],
    log_ref: &Array2<f64>,
    reward: &Array2<f64>,
    config: &PpoConfig,
    rng: &mut StdRng,
) -> Vec<Rollout> {
    let mut batch = Vec::with_capacity(family.prompts() * config.rollouts);
    for x in 0..family.prompts() {
        let ys: Vec<usize> = (0..config.rollouts)
            .map(|_| family.sample(theta, x, rng))
            .collect();
        let lp = family.log_probs_of(theta, x, &ys);
        let returns: Vec<f64> = ys
            .iter()
            .zip(&lp)
            .map(|(&y, l)| reward[[x, y]] - config.beta * (l - log_ref[[x, y]]))
            .collect();
        let baseline = returns.iter().sum::<f64>() / returns.len() as f64;
        for ((&y, &log_old), r) in ys.iter().zip(&lp).zip(&returns) {
            batch.push(Rollout {
                x,
                y,
                log_old,
                advantage: r - baseline,
            });
        }
    }
    batch
}

/// Fisher–Yates shuffle.
fn shuffle<T>(items: &mut [T], rng: &mut StdRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

fn surrogate_gradient<F: Family>(
    family: &F,
    theta: &[f64],
    minibatch: &[Rollout],
    clip: f64,
) -> Vec<f64> {
    let mut grad = vec![0.0; theta.len()];
    let m = minibatch.len() as f64;
    for x in 0..family.prompts() {
        let mine: Vec<&Rollout> = minibatch.iter().filter(|r| r.x == x).collect();
        if mine.is_empty() {
            continue;
        }
        let ys: Vec<usize> = mine.iter().map(|r| r.y).collect();
        let lp = family.log_probs_of(theta, x, &ys);
        let weights: Vec<(usize, f64)> = mine
            .iter()
            .zip(&lp)
            .filter_map(|(r, l)| {
                let ratio = (l - r.log_old).exp();
                let clipped = (r.advantage > 0.0 && ratio > 1.0 + clip)
                    || (r.advantage < 0.0 && ratio < 1.0 - clip);
                (!clipped).then_some((r.y, -ratio * r.advantage / m))
            })
            .collect();
        family.add_score(theta, x, &weights, &mut grad);
    }
    grad
}
