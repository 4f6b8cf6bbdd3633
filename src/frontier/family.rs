//! The policy classes the methods train: the toy autoregressive (bigram) policy of the
//! experiment, and the tabular policy (which contains every $\pi_r$) for the claims that need
//! it.
//!
//! Each class gives $\log\pi_\theta(\cdot|x)$ in `f64`, $\log\pi_\theta(y|x)$ for listed
//! responses on any [`Real`] (the tape's route for DPO), and the weighted score
//! $\sum_y w_y\\,\nabla_\theta\log\pi_\theta(y|x)$ in closed form (the route every
//! policy-gradient method takes, and the independent check of the tape).

use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::Rng;

use crate::policy::sequence::END;
use crate::policy::{log_softmax_nonempty, softmax, Policy, SequencePolicy};
use crate::scalar::Real;

/// A parametric policy class over an enumerated response set.
pub trait Family {
    /// Number of prompts $X$.
    fn prompts(&self) -> usize;
    /// Number of responses $Y$ of every prompt.
    fn responses(&self) -> usize;
    /// Length of $\theta$.
    fn parameters(&self) -> usize;
    /// $\log\pi_\theta(y|x)$ for every response $y$ of prompt $x$.
    fn log_probs(&self, theta: &[f64], x: usize) -> Vec<f64>;
    /// $\log\pi_\theta(y|x)$ for the responses `ys` of prompt $x$, on any [`Real`].
    fn log_probs_of<R: Real>(&self, theta: &[R], x: usize, ys: &[usize]) -> Vec<R>;
    /// Adds $\sum_{(y, w)} w\\,\nabla_\theta\log\pi_\theta(y|x)$ to `grad`.
    fn add_score(&self, theta: &[f64], x: usize, weights: &[(usize, f64)], grad: &mut [f64]);
    /// One response drawn from $\pi_\theta(\cdot|x)$.
    fn sample(&self, theta: &[f64], x: usize, rng: &mut StdRng) -> usize {
        let lp = self.log_probs(theta, x);
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for (y, l) in lp.iter().enumerate() {
            acc += l.exp();
            if u < acc {
                return y;
            }
        }
        lp.len() - 1
    }
}

/// The bigram policy class of [`SequencePolicy`] (same parameter layout: $\theta_{x,c,t}$ at
/// `(x * (V+1) + c) * (V+1) + t`, output $t = 0$ the end token).
#[derive(Debug, Clone)]
pub struct Bigram {
    prompts: usize,
    vocab: usize,
    max_len: usize,
    /// Each response's steps (context, emitted output index).
    steps: Vec<Vec<(usize, usize)>>,
    /// The shape as a [`SequencePolicy`] (its parameters are the reference's).
    shape: SequencePolicy,
}

impl Bigram {
    /// The class of `policy`'s shape.
    pub fn of(policy: &SequencePolicy) -> Self {
        let vocab = (policy.params().len() / policy.prompts()).isqrt() - 1;
        let steps = (0..policy.responses())
            .map(|y| {
                let tokens = policy.tokens(y);
                let mut context = 0;
                let mut steps: Vec<(usize, usize)> = tokens
                    .iter()
                    .map(|&t| (std::mem::replace(&mut context, t), t))
                    .collect();
                if tokens.len() < policy.max_len() {
                    steps.push((context, END));
                }
                steps
            })
            .collect();
        Self {
            prompts: policy.prompts(),
            vocab,
            max_len: policy.max_len(),
            steps,
            shape: policy.clone(),
        }
    }

    /// Content tokens of response `y`.
    pub fn tokens(&self, y: usize) -> &[usize] {
        self.shape.tokens(y)
    }

    /// Vocabulary size $V$.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Length bound $L$.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    fn block(&self, x: usize, context: usize) -> std::ops::Range<usize> {
        let width = self.vocab + 1;
        let start = (x * width + context) * width;
        start..start + width
    }

    /// Index of the response with content `tokens` (responses are enumerated by length, then
    /// lexicographically): $\sum_{j<k}V^j + \sum_i (t_i - 1)V^{k-1-i}$.
    fn index(&self, tokens: &[usize]) -> usize {
        let offset: usize = (0..tokens.len()).map(|j| self.vocab.pow(j as u32)).sum();
        offset + tokens.iter().fold(0, |acc, &t| acc * self.vocab + (t - 1))
    }
}

impl Family for Bigram {
    fn prompts(&self) -> usize {
        self.prompts
    }
    fn responses(&self) -> usize {
        self.steps.len()
    }
    fn parameters(&self) -> usize {
        self.shape.params().len()
    }
    fn log_probs(&self, theta: &[f64], x: usize) -> Vec<f64> {
        self.shape.log_probs(theta, x)
    }
    fn log_probs_of<R: Real>(&self, theta: &[R], x: usize, ys: &[usize]) -> Vec<R> {
        let per_context: Vec<Vec<R>> = (0..=self.vocab)
            .map(|c| log_softmax_nonempty(&theta[self.block(x, c)]))
            .collect();
        ys.iter()
            .map(|&y| {
                let terms: Vec<R> = self.steps[y]
                    .iter()
                    .map(|&(c, t)| per_context[c][t])
                    .collect();
                R::sum(&terms).unwrap_or_else(|_| theta[0].constant(0.0))
            })
            .collect()
    }
    /// $\sum_y w_y\sum_i(e_{t_i} - \pi(\cdot|x, c_i))$ in the block of context $c_i$.
    fn add_score(&self, theta: &[f64], x: usize, weights: &[(usize, f64)], grad: &mut [f64]) {
        let mut context_weight = vec![0.0; self.vocab + 1];
        for &(y, w) in weights {
            for &(c, t) in &self.steps[y] {
                grad[self.block(x, c).start + t] += w;
                context_weight[c] += w;
            }
        }
        for (c, &cw) in context_weight.iter().enumerate() {
            if cw != 0.0 {
                let block = self.block(x, c);
                for (k, p) in softmax(&theta[block.clone()]).into_iter().enumerate() {
                    grad[block.start + k] -= cw * p;
                }
            }
        }
    }
    /// Token by token: each next output from $\operatorname{softmax}(\theta_{x,c,\cdot})$.
    fn sample(&self, theta: &[f64], x: usize, rng: &mut StdRng) -> usize {
        let mut tokens = Vec::with_capacity(self.max_len);
        let mut context = 0;
        while tokens.len() < self.max_len {
            let p = softmax(&theta[self.block(x, context)]);
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut next = p.len() - 1;
            for (t, pt) in p.iter().enumerate() {
                acc += pt;
                if u < acc {
                    next = t;
                    break;
                }
            }
            if next == END {
                break;
            }
            tokens.push(next);
            context = next;
        }
        self.index(&tokens)
    }
}

/// The tabular class: $\pi(\cdot|x) = \operatorname{softmax}(\theta_{x,\cdot})$, $\theta_{x,y}$ at
/// `x * Y + y`. It contains every policy with full support.
#[derive(Debug, Clone, Copy)]
pub struct Tabular {
    /// Number of prompts.
    pub prompts: usize,
    /// Number of responses per prompt.
    pub responses: usize,
}

impl Family for Tabular {
    fn prompts(&self) -> usize {
        self.prompts
    }
    fn responses(&self) -> usize {
        self.responses
    }
    fn parameters(&self) -> usize {
        self.prompts * self.responses
    }
    fn log_probs(&self, theta: &[f64], x: usize) -> Vec<f64> {
        log_softmax_nonempty(&theta[x * self.responses..(x + 1) * self.responses])
    }
    fn log_probs_of<R: Real>(&self, theta: &[R], x: usize, ys: &[usize]) -> Vec<R> {
        let all = log_softmax_nonempty(&theta[x * self.responses..(x + 1) * self.responses]);
        ys.iter().map(|&y| all[y]).collect()
    }
    /// $\sum_y w_y(e_y - \pi(\cdot|x))$ in row $x$.
    fn add_score(&self, theta: &[f64], x: usize, weights: &[(usize, f64)], grad: &mut [f64]) {
        let start = x * self.responses;
        let total: f64 = weights.iter().map(|w| w.1).sum();
        for &(y, w) in weights {
            grad[start + y] += w;
        }
        for (k, p) in softmax(&theta[start..start + self.responses])
            .into_iter()
            .enumerate()
        {
            grad[start + k] -= total * p;
        }
    }
}
