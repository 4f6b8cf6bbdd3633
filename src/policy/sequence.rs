//! A toy autoregressive policy: a bigram model over a small vocabulary with an end token.
//!
//! Content tokens are $1, \dots, V$; at each step the next token (a content token or END) is
//! drawn from $\operatorname{softmax}(\theta_{x,c,\cdot})$ where the context $c$ is the previous
//! content token ($c = 0$ at the start). A response is a content sequence $t_1\dots t_k$ with
//! $0 \le k \le L$: it ends with END when $k < L$, and the length bound $L$ ends it otherwise.
//! So
//! $$\log\pi(y|x) = \sum_{i=1}^{k} \log\pi(t_i \mid x, t_{i-1}) + \mathbf 1_{k < L}\\,\log\pi(\text{END}\mid x, t_k),$$
//! and the $\sum_{k=0}^{L} V^k$ responses are enumerated, making every expectation and
//! $Z(x)$ an exact sum. Unlike the tabular policy it cannot represent every distribution over
//! responses (a bigram forgets all but the last token).

use ndarray::Array1;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::RandomExt;

use super::{check_finite, log_softmax_nonempty, normal, softmax, Policy, PolicyError};
use crate::scalar::Real;

/// The bigram policy; $\theta_{x,c,t}$ is stored at `(x * (V+1) + c) * (V+1) + t`, where the
/// output index $t = 0$ is END and $t = 1..V$ the content tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct SequencePolicy {
    prompts: usize,
    vocab: usize,
    max_len: usize,
    theta: Vec<f64>,
    /// Each response's content tokens.
    responses: Vec<Vec<usize>>,
    /// Each response's steps as (context, emitted output index).
    steps: Vec<Vec<(usize, usize)>>,
}

/// Output index of the end token.
pub const END: usize = 0;

impl SequencePolicy {
    /// The policy over `vocab` content tokens with at most `max_len` of them per response.
    ///
    /// # Errors
    /// [`PolicyError::Empty`] without prompts or content tokens;
    /// [`PolicyError::ParameterCount`] unless `theta.len() == prompts * (vocab + 1)^2`;
    /// [`PolicyError::NonFinite`] for a NaN or infinite logit.
    pub fn new(
        prompts: usize,
        vocab: usize,
        max_len: usize,
        theta: Vec<f64>,
    ) -> Result<Self, PolicyError> {
        if prompts == 0 || vocab == 0 {
            return Err(PolicyError::Empty);
        }
        let expected = prompts * (vocab + 1) * (vocab + 1);
        if theta.len() != expected {
            return Err(PolicyError::ParameterCount {
                expected,
                got: theta.len(),
            });
        }
        check_finite(&theta)?;
        let mut responses: Vec<Vec<usize>> = vec![Vec::new()];
        let mut frontier = responses.clone();
        for _ in 0..max_len {
            frontier = frontier
                .iter()
                .flat_map(|prefix| {
                    (1..=vocab).map(move |t| {
                        let mut next = prefix.clone();
                        next.push(t);
                        next
                    })
                })
                .collect();
            responses.extend(frontier.iter().cloned());
        }
        let steps = responses
            .iter()
            .map(|tokens| {
                let mut context = 0;
                let mut steps: Vec<(usize, usize)> = tokens
                    .iter()
                    .map(|&t| (std::mem::replace(&mut context, t), t))
                    .collect();
                if tokens.len() < max_len {
                    steps.push((context, END));
                }
                steps
            })
            .collect();
        Ok(Self {
            prompts,
            vocab,
            max_len,
            theta,
            responses,
            steps,
        })
    }

    /// Logits drawn i.i.d. $\mathcal N(0, s^2)$ from the seeded generator.
    ///
    /// # Errors
    /// As [`SequencePolicy::new`], and [`PolicyError::InvalidScale`] for a bad scale.
    pub fn random(
        prompts: usize,
        vocab: usize,
        max_len: usize,
        scale: f64,
        seed: u64,
    ) -> Result<Self, PolicyError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = normal(scale)?;
        let n = prompts * (vocab + 1) * (vocab + 1);
        Self::new(
            prompts,
            vocab,
            max_len,
            Array1::random_using(n, normal, &mut rng).to_vec(),
        )
    }

    /// The content tokens of response `y`.
    pub fn tokens(&self, y: usize) -> &[usize] {
        &self.responses[y]
    }

    /// The length bound $L$.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Sequence-level $\mathrm{KL}(\pi(\cdot|x)\\,\\|\\,\rho(\cdot|x))$ to another bigram policy
    /// $\rho$ of the same vocabulary and length bound, by the chain rule of relative entropy:
    /// $$\mathrm{KL}(\pi\\|\rho) = \sum_{s:\\,|s| < L}\pi(s)\\,\mathrm{KL}\big(\pi(\cdot\mid x,s)\\,\\|\\,\rho(\cdot\mid x,s)\big),$$
    /// summing over content prefixes $s$ (whose next output is still drawn) the per-token
    /// divergence weighted by the prefix probability $\pi(s) = \prod_i \pi(t_i\mid x,t_{i-1})$.
    /// This is how per-token KL penalties add up to the sequence-level one.
    ///
    /// # Errors
    /// [`PolicyError::ShapeMismatch`] if `other` has another shape.
    pub fn sequence_kl(&self, other: &Self, x: usize) -> Result<f64, PolicyError> {
        if (other.prompts, other.vocab, other.max_len) != (self.prompts, self.vocab, self.max_len) {
            return Err(PolicyError::ShapeMismatch);
        }
        let token = |policy: &Self, c: usize| -> Vec<f64> {
            log_softmax_nonempty(&policy.theta[policy.block(x, c)])
        };
        let mut total = 0.0;
        for tokens in self.responses.iter().filter(|t| t.len() < self.max_len) {
            let mut log_prefix = 0.0;
            let mut context = 0;
            for &t in tokens {
                log_prefix += token(self, context)[t];
                context = t;
            }
            let (p, q) = (token(self, context), token(other, context));
            total += log_prefix.exp() * crate::divergence::kl(&p, &q);
        }
        Ok(total)
    }

    fn block(&self, x: usize, context: usize) -> std::ops::Range<usize> {
        let width = self.vocab + 1;
        let start = (x * width + context) * width;
        start..start + width
    }
}

impl Policy for SequencePolicy {
    fn prompts(&self) -> usize {
        self.prompts
    }
    fn responses(&self) -> usize {
        self.responses.len()
    }
    fn params(&self) -> &[f64] {
        &self.theta
    }
    /// The sum of per-token log-probabilities along the response (module docs).
    fn log_probs<R: Real>(&self, theta: &[R], x: usize) -> Vec<R> {
        let per_context: Vec<Vec<R>> = (0..=self.vocab)
            .map(|c| log_softmax_nonempty(&theta[self.block(x, c)]))
            .collect();
        self.steps
            .iter()
            .map(|steps| {
                let terms: Vec<R> = steps.iter().map(|&(c, t)| per_context[c][t]).collect();
                R::sum(&terms).unwrap_or_else(|_| theta[0].constant(0.0))
            })
            .collect()
    }
    /// $\sum_i (e_{t_i} - \pi(\cdot\mid x, c_i))$ placed in the block of context $c_i$.
    fn score(&self, theta: &[f64], x: usize, y: usize) -> Vec<f64> {
        let mut g = vec![0.0; theta.len()];
        for &(c, t) in &self.steps[y] {
            let block = self.block(x, c);
            let p = softmax(&theta[block.clone()]);
            for (k, pk) in p.into_iter().enumerate() {
                g[block.start + k] -= pk;
            }
            g[block.start + t] += 1.0;
        }
        g
    }
}
