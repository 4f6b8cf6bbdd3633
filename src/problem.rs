//! The validated problem $(\pi_{\text{ref}}, r, \beta)$ of the KL-constrained objective (Eq. 3).
//!
//! Prompts $x = 0, \dots, X-1$ are weighted uniformly ($\mathbb E_x$ is the mean over rows);
//! every prompt has the same finite response set $y = 0, \dots, Y-1$ (a toy sequence policy
//! enumerates its responses into that set). Construction checks every assumption the chain
//! relies on and names the one that fails.

use std::fmt;

use ndarray::{Array2, ArrayView1};

use crate::limits::{checked_entries, MAX_ENTRIES};
use crate::prec::DISTRIBUTION_SUM_TOL;
use crate::preference::PreferenceError;
use crate::scalar::Real;

/// Why a problem, a reward or a ranking was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum ProblemError {
    /// No prompts, or no responses for the prompts.
    EmptyResponseSet {
        /// Number of prompts given.
        prompts: usize,
        /// Number of responses given per prompt.
        responses: usize,
    },
    /// The reference and the reward tables have different shapes.
    ShapeMismatch {
        /// Shape of $\pi_{\text{ref}}$ (prompts, responses).
        reference: (usize, usize),
        /// Shape of $r$.
        reward: (usize, usize),
    },
    /// $\pi_{\text{ref}}(y|x) = 0$: Theorem 1 assumes full support, $\pi_{\text{ref}}(y|x) > 0$.
    ZeroReferenceProbability {
        /// Prompt index.
        prompt: usize,
        /// Response index.
        response: usize,
    },
    /// $\pi_{\text{ref}}(y|x)$ negative, NaN or infinite.
    InvalidReferenceProbability {
        /// Prompt index.
        prompt: usize,
        /// Response index.
        response: usize,
        /// The value given.
        value: f64,
    },
    /// A row of $\pi_{\text{ref}}$ whose sum is not 1 within [`DISTRIBUTION_SUM_TOL`].
    RowNotNormalised {
        /// Prompt index.
        prompt: usize,
        /// The row's sum.
        sum: f64,
        /// The tolerance it was held to.
        tolerance: f64,
    },
    /// $\beta \le 0$ (the KL penalty must be positive).
    NonPositiveBeta(f64),
    /// $\beta$ is NaN or infinite.
    NonFiniteBeta(f64),
    /// A reward that is NaN or infinite.
    NonFiniteReward {
        /// Prompt index.
        prompt: usize,
        /// Response index.
        response: usize,
        /// The value given.
        value: f64,
    },
    /// A ranking of responses that is not a permutation.
    Ranking(PreferenceError),
    /// The scale $s$ of random rewards $U(-s, s)$ is NaN, negative, infinite, or above
    /// `f64::MAX / 4` (the sampler's arithmetic on the width $2s$ must not overflow).
    InvalidRewardScale(f64),
    /// A table of prompts × responses with more than [`MAX_ENTRIES`] entries (refused before
    /// allocating).
    TooLarge {
        /// Number of prompts asked for.
        prompts: usize,
        /// Number of responses asked for.
        responses: usize,
    },
    /// $|r(x,y)|/\beta$ overflows: the optimal policy's exponent $r/\beta$ (Eq. 4) must stay
    /// below `f64::MAX / 4` so that $\log Z(x)$ and $\log\pi_r$ are finite.
    RewardOverBetaOverflow {
        /// Prompt index.
        prompt: usize,
        /// Response index.
        response: usize,
        /// The reward.
        reward: f64,
        /// $\beta$.
        beta: f64,
    },
}

impl fmt::Display for ProblemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyResponseSet { prompts, responses } => write!(
                f,
                "empty response set: {prompts} prompts with {responses} responses each"
            ),
            Self::ShapeMismatch { reference, reward } => write!(
                f,
                "reference policy has shape {reference:?} but the reward has shape {reward:?}"
            ),
            Self::ZeroReferenceProbability { prompt, response } => write!(
                f,
                "pi_ref(y={response}|x={prompt}) = 0 violates the full-support assumption \
                 pi_ref(y|x) > 0 of Theorem 1"
            ),
            Self::InvalidReferenceProbability {
                prompt,
                response,
                value,
            } => write!(
                f,
                "pi_ref(y={response}|x={prompt}) = {value} is not a probability"
            ),
            Self::RowNotNormalised {
                prompt,
                sum,
                tolerance,
            } => write!(
                f,
                "pi_ref(.|x={prompt}) sums to {sum}, not 1 within {tolerance:e}"
            ),
            Self::NonPositiveBeta(b) => write!(f, "beta = {b} must be positive"),
            Self::NonFiniteBeta(b) => write!(f, "beta = {b} must be finite"),
            Self::NonFiniteReward {
                prompt,
                response,
                value,
            } => write!(
                f,
                "reward r(x={prompt}, y={response}) = {value} is not finite"
            ),
            Self::Ranking(e) => write!(f, "{e}"),
            Self::InvalidRewardScale(s) => write!(
                f,
                "reward scale {s} must be finite, >= 0 and at most f64::MAX / 4"
            ),
            Self::TooLarge { prompts, responses } => write!(
                f,
                "{prompts} prompts x {responses} responses exceeds the limit of {MAX_ENTRIES} entries"
            ),
            Self::RewardOverBetaOverflow {
                prompt,
                response,
                reward,
                beta,
            } => write!(
                f,
                "r(x={prompt}, y={response}) / beta = {reward} / {beta} overflows \
                 (|r| / beta must be at most f64::MAX / 4)"
            ),
        }
    }
}

impl std::error::Error for ProblemError {}

impl From<PreferenceError> for ProblemError {
    fn from(e: PreferenceError) -> Self {
        Self::Ranking(e)
    }
}

/// A validated instance: full-support reference policy, finite rewards, finite $\beta > 0$.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    log_ref: Array2<f64>,
    reward: Array2<f64>,
    beta: f64,
}

/// Checks $0 < \beta < \infty$.
pub fn check_beta(beta: f64) -> Result<f64, ProblemError> {
    if !beta.is_finite() {
        Err(ProblemError::NonFiniteBeta(beta))
    } else if beta <= 0.0 {
        Err(ProblemError::NonPositiveBeta(beta))
    } else {
        Ok(beta)
    }
}

/// Checks that every reward is finite and the table is not empty.
pub fn check_reward(reward: &Array2<f64>) -> Result<(), ProblemError> {
    let (prompts, responses) = reward.dim();
    if prompts == 0 || responses == 0 {
        return Err(ProblemError::EmptyResponseSet { prompts, responses });
    }
    match reward.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((prompt, response), &value)) => Err(ProblemError::NonFiniteReward {
            prompt,
            response,
            value,
        }),
        None => Ok(()),
    }
}

/// Validates a reference policy table and returns its logarithm, each row renormalised
/// (so that $\sum_y \pi_{\text{ref}}(y|x) = 1$ up to rounding after the check passed).
pub fn log_reference(pi_ref: &Array2<f64>) -> Result<Array2<f64>, ProblemError> {
    let (prompts, responses) = pi_ref.dim();
    if prompts == 0 || responses == 0 {
        return Err(ProblemError::EmptyResponseSet { prompts, responses });
    }
    for ((prompt, response), &value) in pi_ref.indexed_iter() {
        if !value.is_finite() || value < 0.0 {
            return Err(ProblemError::InvalidReferenceProbability {
                prompt,
                response,
                value,
            });
        }
        if value == 0.0 {
            return Err(ProblemError::ZeroReferenceProbability { prompt, response });
        }
    }
    let mut log_ref = pi_ref.mapv(f64::ln);
    for (prompt, mut row) in log_ref.rows_mut().into_iter().enumerate() {
        let sum: f64 = pi_ref.row(prompt).sum();
        if (sum - 1.0).abs() > DISTRIBUTION_SUM_TOL {
            return Err(ProblemError::RowNotNormalised {
                prompt,
                sum,
                tolerance: DISTRIBUTION_SUM_TOL,
            });
        }
        row -= sum.ln();
    }
    Ok(log_ref)
}

/// Validates a table of $\log\pi_{\text{ref}}$ in the log domain and renormalises each row,
/// $\log\pi_{\text{ref}}(y|x) - \operatorname{logsumexp}\_{y\'}\log\pi_{\text{ref}}(y\'|x)$: an entry of
/// $-\infty$ is [`ProblemError::ZeroReferenceProbability`], NaN or $+\infty$ is
/// [`ProblemError::InvalidReferenceProbability`] (with the probability $e^{v}$), and a row whose
/// $\sum_y \pi_{\text{ref}}(y|x) = e^{\operatorname{logsumexp}}$ is not 1 within
/// [`DISTRIBUTION_SUM_TOL`] is [`ProblemError::RowNotNormalised`].
pub fn normalise_log_reference(mut log_ref: Array2<f64>) -> Result<Array2<f64>, ProblemError> {
    let (prompts, responses) = log_ref.dim();
    if prompts == 0 || responses == 0 {
        return Err(ProblemError::EmptyResponseSet { prompts, responses });
    }
    for ((prompt, response), &v) in log_ref.indexed_iter() {
        if v == f64::NEG_INFINITY {
            return Err(ProblemError::ZeroReferenceProbability { prompt, response });
        }
        if !v.is_finite() {
            return Err(ProblemError::InvalidReferenceProbability {
                prompt,
                response,
                value: v.exp(),
            });
        }
    }
    for (prompt, mut row) in log_ref.rows_mut().into_iter().enumerate() {
        let lse = f64::logsumexp(&row.to_vec())
            .map_err(|_| ProblemError::EmptyResponseSet { prompts, responses })?;
        let sum = lse.exp();
        if (sum - 1.0).abs() > DISTRIBUTION_SUM_TOL {
            return Err(ProblemError::RowNotNormalised {
                prompt,
                sum,
                tolerance: DISTRIBUTION_SUM_TOL,
            });
        }
        row -= lse;
    }
    Ok(log_ref)
}

impl Problem {
    /// Validates $(\pi_{\text{ref}}, r, \beta)$; `pi_ref` and `reward` are (prompts × responses).
    pub fn new(pi_ref: &Array2<f64>, reward: Array2<f64>, beta: f64) -> Result<Self, ProblemError> {
        let log_ref = log_reference(pi_ref)?;
        Self::from_log_reference(log_ref, reward, beta)
    }

    /// As [`Problem::new`], from $\log \pi_{\text{ref}}$ (rows must exponentiate to distributions).
    /// Validated and renormalised in the log domain ([`normalise_log_reference`]), so
    /// log-probabilities far below $-700$ (whose exponentials are subnormal or $0$) are kept
    /// exactly rather than rounded through `exp` and `ln`.
    pub fn from_log_reference(
        log_ref: Array2<f64>,
        reward: Array2<f64>,
        beta: f64,
    ) -> Result<Self, ProblemError> {
        let log_ref = normalise_log_reference(log_ref)?;
        check_reward(&reward)?;
        check_same_shape(&log_ref, &reward)?;
        let beta = check_beta(beta)?;
        check_reward_over_beta(&reward, beta)?;
        Ok(Self {
            log_ref,
            reward,
            beta,
        })
    }

    /// The same reference and reward with another $\beta$.
    pub fn with_beta(&self, beta: f64) -> Result<Self, ProblemError> {
        let beta = check_beta(beta)?;
        check_reward_over_beta(&self.reward, beta)?;
        Ok(Self {
            beta,
            ..self.clone()
        })
    }

    /// The same reference and $\beta$ with another reward.
    pub fn with_reward(&self, reward: Array2<f64>) -> Result<Self, ProblemError> {
        check_reward(&reward)?;
        check_same_shape(&self.log_ref, &reward)?;
        check_reward_over_beta(&reward, self.beta)?;
        Ok(Self {
            reward,
            ..self.clone()
        })
    }

    /// $\log \pi_{\text{ref}}(\cdot|\cdot)$, prompts × responses.
    pub fn log_ref(&self) -> &Array2<f64> {
        &self.log_ref
    }

    /// $\log \pi_{\text{ref}}(\cdot|x)$.
    pub fn log_ref_row(&self, x: usize) -> ArrayView1<'_, f64> {
        self.log_ref.row(x)
    }

    /// $r(\cdot,\cdot)$, prompts × responses.
    pub fn reward(&self) -> &Array2<f64> {
        &self.reward
    }

    /// $\beta$.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Number of prompts $X$.
    pub fn prompts(&self) -> usize {
        self.log_ref.nrows()
    }

    /// Number of responses per prompt $Y$.
    pub fn responses(&self) -> usize {
        self.log_ref.ncols()
    }
}

/// Checks $|r(x,y)|/\beta \le$ `f64::MAX / 4` for every entry, so that the exponents
/// $\log\pi_{\text{ref}} + r/\beta$ of Eq. 4 and their log-sum-exp $\log Z(x)$ are finite.
pub fn check_reward_over_beta(reward: &Array2<f64>, beta: f64) -> Result<(), ProblemError> {
    match reward
        .indexed_iter()
        .find(|(_, r)| r.abs() / beta > f64::MAX / 4.0)
    {
        Some(((prompt, response), &reward)) => Err(ProblemError::RewardOverBetaOverflow {
            prompt,
            response,
            reward,
            beta,
        }),
        None => Ok(()),
    }
}

fn check_same_shape(a: &Array2<f64>, b: &Array2<f64>) -> Result<(), ProblemError> {
    if a.dim() == b.dim() {
        Ok(())
    } else {
        Err(ProblemError::ShapeMismatch {
            reference: a.dim(),
            reward: b.dim(),
        })
    }
}

impl Problem {
    /// A random instance: $\pi_{\text{ref}}(\cdot|x) = \operatorname{softmax}$ of
    /// $\mathcal N(0,1)$ logits and $r(x,y) \sim U(-s, s)$, from the seeded generator.
    ///
    /// # Errors
    /// [`ProblemError::EmptyResponseSet`] if a size is zero, [`ProblemError::TooLarge`] if the
    /// table would exceed [`MAX_ENTRIES`], [`ProblemError::InvalidRewardScale`] for a bad $s$
    /// (all before allocating), and the errors of [`Problem::from_log_reference`] for $\beta$.
    pub fn random(
        prompts: usize,
        responses: usize,
        reward_scale: f64,
        beta: f64,
        seed: u64,
    ) -> Result<Self, ProblemError> {
        use crate::policy::{Policy, TabularPolicy};
        check_table_size(prompts, responses)?;
        let reward = random_reward(prompts, responses, reward_scale, seed ^ 0x5eed)?;
        let reference = TabularPolicy::random(prompts, responses, 1.0, seed)
            .map_err(|_| ProblemError::EmptyResponseSet { prompts, responses })?;
        Self::from_log_reference(reference.log_prob_table(), reward, beta)
    }
}

/// [`ProblemError::EmptyResponseSet`] or [`ProblemError::TooLarge`] unless
/// $1 \le$ prompts × responses $\le$ [`MAX_ENTRIES`].
fn check_table_size(prompts: usize, responses: usize) -> Result<(), ProblemError> {
    if prompts == 0 || responses == 0 {
        return Err(ProblemError::EmptyResponseSet { prompts, responses });
    }
    checked_entries(&[prompts, responses])
        .map(|_| ())
        .ok_or(ProblemError::TooLarge { prompts, responses })
}

/// Rewards $r(x,y) \sim U(-s, s)$ i.i.d. from the seeded generator.
///
/// # Errors
/// [`ProblemError::InvalidRewardScale`] unless $0 \le s \le$ `f64::MAX / 4` (so that the
/// sampler's arithmetic on the width $2s$ is finite); the size errors of [`Problem::random`].
/// Both before allocating.
pub fn random_reward(
    prompts: usize,
    responses: usize,
    scale: f64,
    seed: u64,
) -> Result<Array2<f64>, ProblemError> {
    use ndarray_rand::rand::rngs::StdRng;
    use ndarray_rand::rand::SeedableRng;
    use ndarray_rand::rand_distr::Uniform;
    use ndarray_rand::RandomExt;
    check_table_size(prompts, responses)?;
    if !(0.0..=f64::MAX / 4.0).contains(&scale) {
        return Err(ProblemError::InvalidRewardScale(scale));
    }
    let uniform = Uniform::new_inclusive(-scale, scale)
        .map_err(|_| ProblemError::InvalidRewardScale(scale))?;
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(Array2::random_using(
        (prompts, responses),
        uniform,
        &mut rng,
    ))
}
