//! The tabular policy: $\pi_\theta(y|x) = \operatorname{softmax}(\theta_{x,\cdot})\_y$.

use ndarray::Array2;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::RandomExt;

use super::{check_finite, log_softmax_nonempty, normal, softmax, Policy, PolicyError};
use crate::scalar::Real;

/// One logit row per prompt; parameters are stored row-major ($\theta_{x,y}$ at `x * Y + y`).
#[derive(Debug, Clone, PartialEq)]
pub struct TabularPolicy {
    prompts: usize,
    responses: usize,
    logits: Vec<f64>,
}

impl TabularPolicy {
    /// The policy with the given logits (prompts × responses).
    ///
    /// # Errors
    /// [`PolicyError::Empty`] for a table without rows or columns,
    /// [`PolicyError::NonFinite`] for a NaN or infinite logit.
    pub fn new(logits: &Array2<f64>) -> Result<Self, PolicyError> {
        let (prompts, responses) = logits.dim();
        if prompts == 0 || responses == 0 {
            return Err(PolicyError::Empty);
        }
        check_finite(logits.iter())?;
        Ok(Self {
            prompts,
            responses,
            logits: logits.iter().copied().collect(),
        })
    }

    /// Logits drawn i.i.d. $\mathcal N(0, s^2)$ from the seeded generator.
    ///
    /// # Errors
    /// [`PolicyError::InvalidScale`] unless $0 \le s < \infty$; [`PolicyError::Empty`] for
    /// zero prompts or responses.
    pub fn random(
        prompts: usize,
        responses: usize,
        scale: f64,
        seed: u64,
    ) -> Result<Self, PolicyError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = normal(scale)?;
        Self::new(&Array2::random_using(
            (prompts, responses),
            normal,
            &mut rng,
        ))
    }
}

impl Policy for TabularPolicy {
    fn prompts(&self) -> usize {
        self.prompts
    }
    fn responses(&self) -> usize {
        self.responses
    }
    fn params(&self) -> &[f64] {
        &self.logits
    }
    /// $\log\pi(y|x) = \theta_{x,y} - \log\sum_{y\'} e^{\theta_{x,y\'}}$.
    fn log_probs<R: Real>(&self, theta: &[R], x: usize) -> Vec<R> {
        let y = self.responses;
        log_softmax_nonempty(&theta[x * y..(x + 1) * y])
    }
    /// $\partial\log\pi(y|x)/\partial\theta_{x\',y\'} = [x\'=x]\\,([y\'=y] - \pi(y\'|x))$.
    fn score(&self, theta: &[f64], x: usize, y: usize) -> Vec<f64> {
        let n = self.responses;
        let mut g = vec![0.0; theta.len()];
        let p = softmax(&theta[x * n..(x + 1) * n]);
        for (k, pk) in p.into_iter().enumerate() {
            g[x * n + k] = f64::from(u8::from(k == y)) - pk;
        }
        g
    }
}
