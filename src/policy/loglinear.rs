//! The log-linear policy: $\pi_\theta(y|x) \propto \exp(\theta\cdot\phi(x,y))$ with user features
//! $\phi(x,y)\in\mathbb R^d$.

use ndarray::{Array1, Array3};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::RandomExt;

use super::{check_finite, log_softmax_nonempty, normal, softmax, Policy, PolicyError};
use crate::scalar::Real;

/// Features (prompts × responses × d) and a weight vector $\theta \in \mathbb R^d$.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLinearPolicy {
    features: Array3<f64>,
    theta: Vec<f64>,
}

impl LogLinearPolicy {
    /// The policy with features $\phi$ (prompts × responses × d) and weights $\theta$ (length d).
    ///
    /// # Errors
    /// [`PolicyError::Empty`] without prompts, responses or features;
    /// [`PolicyError::ParameterCount`] if `theta.len()` is not d; [`PolicyError::NonFinite`]
    /// for a NaN or infinite feature (index into the flattened features) or weight (index
    /// offset by the number of features).
    pub fn new(features: Array3<f64>, theta: Array1<f64>) -> Result<Self, PolicyError> {
        let (xs, ys, d) = features.dim();
        if xs == 0 || ys == 0 || d == 0 {
            return Err(PolicyError::Empty);
        }
        if theta.len() != d {
            return Err(PolicyError::ParameterCount {
                expected: d,
                got: theta.len(),
            });
        }
        check_finite(features.iter().chain(theta.iter()))?;
        Ok(Self {
            features,
            theta: theta.to_vec(),
        })
    }

    /// Features and weights drawn i.i.d. $\mathcal N(0, 1)$ from the seeded generator.
    ///
    /// # Errors
    /// [`PolicyError::Empty`] if a size is zero.
    pub fn random(
        prompts: usize,
        responses: usize,
        dim: usize,
        seed: u64,
    ) -> Result<Self, PolicyError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = normal(1.0)?;
        let features = Array3::random_using((prompts, responses, dim), normal, &mut rng);
        let theta = Array1::random_using(dim, normal, &mut rng);
        Self::new(features, theta)
    }

    fn logits<R: Real>(&self, theta: &[R], x: usize) -> Vec<R> {
        self.features
            .index_axis(ndarray::Axis(0), x)
            .rows()
            .into_iter()
            .map(|phi| {
                let terms: Vec<R> = theta.iter().zip(phi).map(|(&t, &f)| t * f).collect();
                R::sum(&terms).expect("at least one feature")
            })
            .collect()
    }
}

impl Policy for LogLinearPolicy {
    fn prompts(&self) -> usize {
        self.features.dim().0
    }
    fn responses(&self) -> usize {
        self.features.dim().1
    }
    fn params(&self) -> &[f64] {
        &self.theta
    }
    /// $\log\pi(y|x) = \theta\cdot\phi(x,y) - \log\sum_{y\'} e^{\theta\cdot\phi(x,y\')}$.
    fn log_probs<R: Real>(&self, theta: &[R], x: usize) -> Vec<R> {
        log_softmax_nonempty(&self.logits(theta, x))
    }
    /// $\nabla_\theta\log\pi(y|x) = \phi(x,y) - \sum_{y\'}\pi(y\'|x)\\,\phi(x,y\')$.
    fn score(&self, theta: &[f64], x: usize, y: usize) -> Vec<f64> {
        let p = softmax(&self.logits(theta, x));
        let phi = self.features.index_axis(ndarray::Axis(0), x);
        let mean = p
            .iter()
            .zip(phi.rows())
            .fold(Array1::<f64>::zeros(theta.len()), |acc, (&pk, row)| {
                acc + &row * pk
            });
        (&phi.row(y) - &mean).to_vec()
    }
}
