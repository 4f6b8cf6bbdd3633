//! The controlled-sentiment toy problem (the paper's §6.1 analogue), built in and seeded.
//!
//! Prompts $x$; responses are the content sequences of a bigram policy over $V$ tokens with at
//! most $L$ tokens and an end token (all $\sum_{k=0}^{L}V^k$ enumerated); the reference
//! $\pi_{\text{ref}}$ (the "SFT model") is a random bigram policy. The ground-truth reward is
//! $$r^\*(x,y) = \frac1L\sum_{i=1}^{k} s_x(t_i) + a\\,\mathbf 1[k \ge 2,\ t_1 = t_k] + b\\,\mathbf 1[\exists i:\ t_i = t_{i+1} = u_x],$$
//! a per-prompt token sentiment $s_x(t) \sim U(-1, 1)$, a bonus $a = 0.5$ when the response ends
//! with the token it began with (tokens far apart, which a bigram policy cannot capture), and a
//! bonus $b = 0.3$ for repeating the prompt's token $u_x$. The bigram class therefore does not
//! contain $\pi_{r^\*}$, and the reward model's features (see
//! [`super::methods::reward_model`]) miss the last term.

use ndarray::Array2;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};

use super::family::{Bigram, Family};
use super::options::FrontierOptions;
use super::FrontierError;
use crate::policy::{Policy, SequencePolicy};
use crate::problem::Problem;

/// Weight $a$ of the first-equals-last bonus.
pub const FIRST_LAST_BONUS: f64 = 0.5;
/// Weight $b$ of the repeated-token bonus.
pub const REPEAT_BONUS: f64 = 0.3;
/// Scale of the reference's random logits.
pub const REFERENCE_SCALE: f64 = 1.0;
/// Added to the reference's end-token logits so that long responses keep some mass.
pub const END_SHIFT: f64 = -0.5;

/// The toy problem: reference, class, ground-truth reward.
#[derive(Debug, Clone)]
pub struct ToyProblem {
    /// The bigram class (shape and enumeration).
    pub family: Bigram,
    /// $\theta_{\text{ref}}$.
    pub theta_ref: Vec<f64>,
    /// $\log\pi_{\text{ref}}(y|x)$, prompts × responses.
    pub log_ref: Array2<f64>,
    /// $r^\*(x,y)$, prompts × responses.
    pub reward: Array2<f64>,
    /// The per-prompt token sentiments $s_x(t)$, prompts × (V + 1) (column 0 unused).
    pub sentiment: Array2<f64>,
    /// The per-prompt repeated token $u_x$.
    pub repeat_token: Vec<usize>,
}

/// $\sum_{k=0}^{L}V^k$, or `None` on overflow.
pub fn response_count(vocab: usize, max_len: usize) -> Option<usize> {
    let mut total: usize = 0;
    let mut power: usize = 1;
    for k in 0..=max_len {
        total = total.checked_add(power)?;
        if k < max_len {
            power = power.checked_mul(vocab)?;
        }
    }
    Some(total)
}

impl ToyProblem {
    /// The problem of `options` (sizes and seed), validated first.
    ///
    /// # Errors
    /// Whatever [`FrontierOptions::validate`] finds.
    pub fn new(options: &FrontierOptions) -> Result<Self, FrontierError> {
        options.validate()?;
        let (xs, v, l) = (options.prompts, options.vocab, options.max_len);
        let mut rng = StdRng::seed_from_u64(options.seed);
        let reference = SequencePolicy::random(xs, v, l, REFERENCE_SCALE, rng.random())
            .map_err(FrontierError::Policy)?;
        let mut theta_ref = reference.params().to_vec();
        for (i, t) in theta_ref.iter_mut().enumerate() {
            if i % (v + 1) == 0 {
                *t += END_SHIFT;
            }
        }
        let reference =
            SequencePolicy::new(xs, v, l, theta_ref.clone()).map_err(FrontierError::Policy)?;
        let family = Bigram::of(&reference);
        let log_ref = reference.log_prob_table();
        let sentiment = Array2::from_shape_fn((xs, v + 1), |(_, t)| {
            let s: f64 = rng.random();
            if t == 0 {
                0.0
            } else {
                2.0 * s - 1.0
            }
        });
        let repeat_token: Vec<usize> = (0..xs).map(|_| rng.random_range(1..=v)).collect();
        let reward = Array2::from_shape_fn((xs, family.responses()), |(x, y)| {
            true_reward(
                family.tokens(y),
                l,
                sentiment.row(x).as_slice().expect("contiguous"),
                repeat_token[x],
            )
        });
        Ok(Self {
            family,
            theta_ref,
            log_ref,
            reward,
            sentiment,
            repeat_token,
        })
    }

    /// Number of prompts.
    pub fn prompts(&self) -> usize {
        self.family.prompts()
    }

    /// Number of responses per prompt.
    pub fn responses(&self) -> usize {
        self.family.responses()
    }

    /// The crate's [`Problem`] $(\pi_{\text{ref}}, r, \beta)$ with reward `reward` (for the
    /// utilisation recipe and the optimal policy).
    ///
    /// # Errors
    /// [`FrontierError::Problem`] if the reward or β is invalid.
    pub fn as_problem(&self, reward: &Array2<f64>, beta: f64) -> Result<Problem, FrontierError> {
        Problem::from_log_reference(self.log_ref.clone(), reward.clone(), beta)
            .map_err(FrontierError::Problem)
    }
}

/// $r^\*(x, y)$ of the module docs for one response's tokens.
pub fn true_reward(tokens: &[usize], max_len: usize, sentiment: &[f64], repeat: usize) -> f64 {
    let k = tokens.len();
    let sentiment_term: f64 = tokens.iter().map(|&t| sentiment[t]).sum::<f64>() / max_len as f64;
    let first_last = k >= 2 && tokens[0] == tokens[k - 1];
    let repeated = tokens.windows(2).any(|w| w[0] == repeat && w[1] == repeat);
    sentiment_term
        + FIRST_LAST_BONUS * f64::from(u8::from(first_last))
        + REPEAT_BONUS * f64::from(u8::from(repeated))
}
