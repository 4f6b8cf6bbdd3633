//! The log-linear policy: $\pi_\theta(y|x) \propto \exp(\theta\cdot\phi(x,y))$ with user features
//! $\phi(x,y)\in\mathbb R^d$.

use ndarray::{Array1, Array3};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::Normal;
use ndarray_rand::RandomExt;

use super::{log_softmax_nonempty, softmax, Policy};
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
    /// # Panics
    /// If `theta.len()` differs from the feature dimension d.
    pub fn new(features: Array3<f64>, theta: Array1<f64>) -> Self {
        assert_eq!(features.dim().2, theta.len(), "one weight per feature");
        Self {
            features,
            theta: theta.to_vec(),
        }
    }

    /// Features and weights drawn i.i.d. $\mathcal N(0, 1)$ from the seeded generator.
    pub fn random(prompts: usize, responses: usize, dim: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
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
    /// $\log\pi(y|x) = \theta\cdot\phi(x,y) - \log\sum_{y'} e^{\theta\cdot\phi(x,y')}$.
    fn log_probs<R: Real>(&self, theta: &[R], x: usize) -> Vec<R> {
        log_softmax_nonempty(&self.logits(theta, x))
    }
    /// $\nabla_\theta\log\pi(y|x) = \phi(x,y) - \sum_{y'}\pi(y'|x)\,\phi(x,y')$.
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
