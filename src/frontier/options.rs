//! The experiment's settings: sizes, the data, the β sweep, every method's hyperparameters.

use super::problem::response_count;
use super::FrontierError;

/// Largest number of responses per prompt the experiment enumerates ($10^4$): every
/// expectation is an exact sum over them, at every checkpoint of every method.
pub const MAX_RESPONSES: usize = 10_000;

/// Largest number of prompts.
pub const MAX_PROMPTS: usize = 256;

/// Settings of one run. Build with [`FrontierOptions::standard`] or [`FrontierOptions::quick`]
/// and change fields; [`FrontierOptions::validate`] (called by [`super::run`]) names any bad
/// one.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierOptions {
    /// Seed of the problem; replicate $k$ draws its data and rollouts from `seed + k`.
    pub seed: u64,
    /// Number of replicates (data sets, reward models, PPO runs).
    pub seeds: usize,
    /// Number of prompts $X$.
    pub prompts: usize,
    /// Content tokens $V$.
    pub vocab: usize,
    /// Length bound $L$.
    pub max_len: usize,
    /// Preference pairs per prompt $N$ (sampled from $\pi_{\text{ref}}$, labelled by BT($r^\*$)).
    pub pairs_per_prompt: usize,
    /// Held-out pairs per prompt for the reward model's accuracy.
    pub held_out_per_prompt: usize,
    /// The β sweep of DPO, RLHF-exact, PPO and PPO-GT.
    pub betas: Vec<f64>,
    /// Number of points of the optimal frontier (β log-spaced over [`Self::frontier_beta_range`]).
    pub frontier_points: usize,
    /// Range of β of the optimal frontier.
    pub frontier_beta_range: (f64, f64),
    /// Full-batch Adam steps of DPO, RLHF-exact, Preferred-FT and Unlikelihood.
    pub steps: usize,
    /// Adam learning rate of those full-batch methods.
    pub learning_rate: f64,
    /// A point is recorded every this many steps (and at the last).
    pub checkpoint_every: usize,
    /// PPO iterations (each: rollouts, then epochs of minibatch updates).
    pub ppo_iterations: usize,
    /// Rollouts per prompt per PPO iteration.
    pub ppo_rollouts: usize,
    /// PPO epochs per iteration.
    pub ppo_epochs: usize,
    /// PPO minibatches per epoch.
    pub ppo_minibatches: usize,
    /// PPO clipping $\epsilon$.
    pub ppo_clip: f64,
    /// PPO Adam learning rate.
    pub ppo_learning_rate: f64,
    /// A PPO point is recorded every this many iterations (and at the last).
    pub ppo_checkpoint_every: usize,
    /// L2 penalty $\lambda$ of the reward model's Bradley–Terry fit.
    pub reward_model_l2: f64,
    /// Weight $\alpha$ of the Unlikelihood term.
    pub unlikelihood_alpha: f64,
    /// The $N$ of Best-of-$N$.
    pub best_of_n: Vec<usize>,
}

impl FrontierOptions {
    /// The default run (`dpo-oracle frontier`): 8 prompts, $V = 4$, $L = 5$ (1,365 responses
    /// per prompt), 64 pairs per prompt, 3 replicates.
    pub fn standard(seed: u64) -> Self {
        Self {
            seed,
            seeds: 3,
            prompts: 8,
            vocab: 4,
            max_len: 5,
            pairs_per_prompt: 64,
            held_out_per_prompt: 256,
            betas: vec![0.05, 0.1, 0.2, 0.5, 1.0],
            frontier_points: 64,
            frontier_beta_range: (0.005, 20.0),
            steps: 300,
            learning_rate: 0.05,
            checkpoint_every: 50,
            ppo_iterations: 150,
            ppo_rollouts: 32,
            ppo_epochs: 4,
            ppo_minibatches: 4,
            ppo_clip: 0.2,
            ppo_learning_rate: 0.03,
            ppo_checkpoint_every: 25,
            reward_model_l2: 1e-3,
            unlikelihood_alpha: 1.0,
            best_of_n: vec![1, 2, 4, 8, 16, 32, 64, 128, 256],
        }
    }

    /// `--quick`: the same problem shape with 2 replicates, three β and shorter training.
    pub fn quick(seed: u64) -> Self {
        Self {
            seeds: 2,
            betas: vec![0.1, 0.3, 1.0],
            frontier_points: 24,
            steps: 150,
            ppo_iterations: 60,
            ppo_checkpoint_every: 20,
            ..Self::standard(seed)
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`FrontierError::InvalidOption`] naming the first bad setting, or
    /// [`FrontierError::TooLarge`] when the enumeration would exceed [`MAX_RESPONSES`].
    pub fn validate(&self) -> Result<(), FrontierError> {
        let bad = |name: &'static str, value: String, expected: &'static str| {
            Err(FrontierError::InvalidOption {
                name,
                value,
                expected,
            })
        };
        let counts: [(&'static str, usize); 12] = [
            ("seeds", self.seeds),
            ("prompts", self.prompts),
            ("vocab", self.vocab),
            ("max_len", self.max_len),
            ("pairs_per_prompt", self.pairs_per_prompt),
            ("held_out_per_prompt", self.held_out_per_prompt),
            ("steps", self.steps),
            ("checkpoint_every", self.checkpoint_every),
            ("ppo_iterations", self.ppo_iterations),
            ("ppo_rollouts", self.ppo_rollouts),
            ("ppo_epochs", self.ppo_epochs),
            ("ppo_checkpoint_every", self.ppo_checkpoint_every),
        ];
        for (name, v) in counts {
            if v == 0 {
                return bad(name, v.to_string(), "a positive integer");
            }
        }
        if self.ppo_minibatches == 0 || self.ppo_minibatches > self.ppo_rollouts * self.prompts {
            return bad(
                "ppo_minibatches",
                self.ppo_minibatches.to_string(),
                "between 1 and the rollouts per iteration (ppo_rollouts × prompts)",
            );
        }
        if self.frontier_points < 2 {
            return bad(
                "frontier_points",
                self.frontier_points.to_string(),
                "at least 2",
            );
        }
        if self.prompts > MAX_PROMPTS {
            return bad("prompts", self.prompts.to_string(), "at most 256");
        }
        match response_count(self.vocab, self.max_len) {
            Some(n) if n <= MAX_RESPONSES => {}
            n => {
                return Err(FrontierError::TooLarge {
                    vocab: self.vocab,
                    max_len: self.max_len,
                    responses: n,
                    limit: MAX_RESPONSES,
                })
            }
        }
        if self.betas.is_empty() {
            return bad("betas", "[]".into(), "a non-empty list of finite β > 0");
        }
        for &b in &self.betas {
            if !(b.is_finite() && b > 0.0) {
                return bad("betas", b.to_string(), "a non-empty list of finite β > 0");
            }
        }
        let (lo, hi) = self.frontier_beta_range;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo) {
            return bad(
                "frontier_beta_range",
                format!("({lo}, {hi})"),
                "0 < low < high, both finite",
            );
        }
        let positive: [(&'static str, f64); 4] = [
            ("learning_rate", self.learning_rate),
            ("ppo_learning_rate", self.ppo_learning_rate),
            ("ppo_clip", self.ppo_clip),
            ("unlikelihood_alpha", self.unlikelihood_alpha),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, v.to_string(), "a finite number > 0");
            }
        }
        if !(self.reward_model_l2.is_finite() && self.reward_model_l2 >= 0.0) {
            return bad(
                "reward_model_l2",
                self.reward_model_l2.to_string(),
                "a finite number >= 0",
            );
        }
        if self.best_of_n.is_empty() || self.best_of_n.contains(&0) {
            return bad(
                "best_of_n",
                format!("{:?}", self.best_of_n),
                "a non-empty list of positive integers",
            );
        }
        Ok(())
    }
}
