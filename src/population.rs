//! The population DPO loss and its minimiser over tabular policies.
//!
//! Pairs are drawn $y_1, y_2 \sim \pi_{\text{ref}}(\cdot|x)$ independently and labelled by
//! Bradley–Terry under the true reward $r^\*$, so the population loss is the exact finite sum
//! $$\mathcal L(\theta) = \mathbb E_x\sum_{y_1,y_2}\pi_{\text{ref}}(y_1|x)\\,\pi_{\text{ref}}(y_2|x)
//! \Big[p^\*\_{12}\\,\ell_\theta(y_1\succ y_2) + (1-p^\*\_{12})\\,\ell_\theta(y_2\succ y_1)\Big],\quad
//! p^\*\_{12} = \sigma(r^\*(x,y_1) - r^\*(x,y_2)),$$
//! with $\ell_\theta$ the pair loss of Eq. 7. With full support its minimiser over all policies
//! is $\pi_{r^\*}$ (up to the class of $r^\*$), which [`minimise_tabular`] reaches with Newton's
//! method.

use std::fmt;

use ndarray::Array2;

use crate::autodiff::with_tape;
use crate::dpo::{check_pairs, dpo_loss, DpoError, Pair};
use crate::policy::{Policy, PolicyError, TabularPolicy};
use crate::prec::MINIMISER_STEP;
use crate::problem::Problem;
use crate::scalar::Real;

/// Every (draw, label) outcome of the population as a weighted pair (weights sum to 1).
pub fn population_pairs(problem: &Problem) -> Vec<Pair> {
    let (xs, ys) = (problem.prompts(), problem.responses());
    let mut pairs = Vec::with_capacity(2 * xs * ys * ys);
    for x in 0..xs {
        let (l, r) = (problem.log_ref_row(x), problem.reward().row(x));
        for a in 0..ys {
            for b in 0..ys {
                let draw = (l[a] + l[b]).exp() / xs as f64;
                let p = (r[a] - r[b]).sigmoid();
                let pair = |chosen, rejected, weight| Pair {
                    prompt: x,
                    chosen,
                    rejected,
                    weight,
                };
                pairs.push(pair(a, b, draw * p));
                pairs.push(pair(b, a, draw * (1.0 - p)));
            }
        }
    }
    pairs
}

/// Why the minimiser stopped without an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum MinimiseError {
    /// The iteration limit was reached before the Newton step fell below the threshold
    /// (for an empirical loss: the maximum-likelihood policy need not exist, for example when
    /// one response wins every comparison it appears in).
    NotConverged {
        /// Iterations run.
        iterations: usize,
        /// Largest coordinate of the last Newton step.
        last_step: f64,
    },
    /// The Newton system was singular: some response is never compared with another.
    SingularHessian,
    /// The pairs, reference or β are invalid.
    Input(DpoError),
    /// The reference log-probabilities cannot start a tabular policy (a non-finite entry).
    Policy(PolicyError),
}

impl fmt::Display for MinimiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConverged {
                iterations,
                last_step,
            } => write!(
                f,
                "Newton's method did not converge in {iterations} iterations (last step {last_step:e})"
            ),
            Self::Input(e) => write!(f, "{e}"),
            Self::Policy(e) => write!(f, "{e}"),
            Self::SingularHessian => write!(
                f,
                "singular Hessian: some response is never compared, so its probability is not identified"
            ),
        }
    }
}

impl std::error::Error for MinimiseError {}

/// The result of [`minimise_tabular`].
#[derive(Debug, Clone, PartialEq)]
pub struct Minimised {
    /// The minimising policy.
    pub policy: TabularPolicy,
    /// Newton iterations used.
    pub iterations: usize,
    /// The loss at the minimiser.
    pub loss: f64,
}

const MAX_ITERATIONS: usize = 100;

/// Minimises the weighted DPO loss of `pairs` over tabular policies, starting from
/// $\pi_{\text{ref}}$.
///
/// Newton's method with the gradient from the reverse tape and the exact Hessian: for the
/// tabular policy $h = (\theta_{x,y_w} - \theta_{x,y_l}) - (\log\pi_{\text{ref}}(y_w|x) -
/// \log\pi_{\text{ref}}(y_l|x))$ is linear in $\theta$ (the log-normaliser cancels), so
/// $$\nabla^2\mathcal L = \beta^2\sum_i w_i\\,\sigma(\beta h_i)\\,\sigma(-\beta h_i)\\,d_i d_i^\top,
/// \qquad d_i = e_{x,y_w} - e_{x,y_l}.$$
/// The loss is invariant to adding a constant to a prompt's logits, so the last logit of every
/// row is held fixed (that removes the Hessian's null space). Steps are halved until the loss
/// does not increase beyond rounding.
pub fn minimise_tabular(
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> Result<Minimised, MinimiseError> {
    let (xs, ys) = log_ref.dim();
    let shape = TabularPolicy::new(log_ref).map_err(MinimiseError::Policy)?;
    check_pairs(&shape, log_ref, pairs, beta).map_err(MinimiseError::Input)?;
    let free = free_coordinates(xs, ys);
    let mut theta: Vec<f64> = log_ref.iter().copied().collect();
    let loss_at =
        |t: &[f64]| dpo_loss(&shape, t, log_ref, pairs, beta).map_err(MinimiseError::Input);
    let mut loss = loss_at(&theta)?;
    for iteration in 1..=MAX_ITERATIONS {
        let grad = with_tape(|tape| {
            let vars: Vec<_> = theta.iter().map(|&t| tape.var(t)).collect();
            let loss = dpo_loss(&shape, &vars, log_ref, pairs, beta)?;
            Ok(loss.backward().wrt_slice(&vars))
        })
        .map_err(MinimiseError::Input)?;
        let rhs: Vec<f64> = free.iter().map(|&f| -grad[f]).collect();
        let step = solve_hessian(&theta, log_ref, pairs, beta, &free, &rhs)
            .ok_or(MinimiseError::SingularHessian)?;
        let slope: f64 = free.iter().zip(&step).map(|(&f, s)| grad[f] * s).sum();
        let mut t = 1.0;
        let (next, next_loss) = loop {
            let mut cand = theta.clone();
            for (&f, s) in free.iter().zip(&step) {
                cand[f] += t * s;
            }
            let l = loss_at(&cand)?;
            let rounding = 64.0 * f64::EPSILON * loss.abs();
            if l <= loss + 1e-4 * t * slope + rounding || t < 1e-10 {
                break (cand, l);
            }
            t *= 0.5;
        };
        let largest = step.iter().fold(0.0_f64, |m, s| m.max((t * s).abs()));
        theta = next;
        loss = next_loss;
        if largest <= MINIMISER_STEP * theta.iter().fold(1.0_f64, |m, v| m.max(v.abs())) {
            return Ok(Minimised {
                policy: TabularPolicy::new(
                    &Array2::from_shape_vec((xs, ys), theta).expect("same shape"),
                )
                .map_err(MinimiseError::Policy)?,
                iterations: iteration,
                loss,
            });
        }
        if iteration == MAX_ITERATIONS {
            return Err(MinimiseError::NotConverged {
                iterations: iteration,
                last_step: largest,
            });
        }
    }
    unreachable!("the loop returns on its last iteration")
}

/// The logits that move: all but the last of every prompt's row (the gauge).
pub(crate) fn free_coordinates(prompts: usize, responses: usize) -> Vec<usize> {
    (0..prompts * responses)
        .filter(|i| i % responses != responses - 1)
        .collect()
}

/// Solves $H_{FF}\\,s = b$ for the Hessian restricted to the free coordinates $F$;
/// `None` if it is singular.
pub(crate) fn solve_hessian(
    theta: &[f64],
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
    free: &[usize],
    rhs: &[f64],
) -> Option<Vec<f64>> {
    let hessian = tabular_hessian(theta, log_ref, pairs, beta);
    let n = free.len();
    let mut a = vec![vec![0.0; n + 1]; n];
    for (i, &fi) in free.iter().enumerate() {
        for (j, &fj) in free.iter().enumerate() {
            a[i][j] = hessian[[fi, fj]];
        }
        a[i][n] = rhs[i];
    }
    solve(a)
}

/// The exact Hessian of the tabular DPO loss (see [`minimise_tabular`]).
fn tabular_hessian(theta: &[f64], log_ref: &Array2<f64>, pairs: &[Pair], beta: f64) -> Array2<f64> {
    let ys = log_ref.ncols();
    let n = theta.len();
    let mut h = Array2::zeros((n, n));
    for p in pairs {
        let (w, l) = (p.prompt * ys + p.chosen, p.prompt * ys + p.rejected);
        let margin = (theta[w] - theta[l])
            - (log_ref[[p.prompt, p.chosen]] - log_ref[[p.prompt, p.rejected]]);
        let z = beta * margin;
        let c = beta * beta * p.weight * z.sigmoid() * (-z).sigmoid();
        h[[w, w]] += c;
        h[[l, l]] += c;
        h[[w, l]] -= c;
        h[[l, w]] -= c;
    }
    h
}

/// Gaussian elimination with partial pivoting on the augmented matrix `[A | b]`;
/// `None` if a pivot vanishes relative to the matrix scale.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = a.len();
    let scale = a
        .iter()
        .flat_map(|row| row[..n].iter())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-14 * scale {
            return None;
        }
        a.swap(col, pivot);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for row in rest.iter_mut() {
            let f = row[col] / pivot_row[col];
            for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (a[i][n] - s) / a[i][i];
    }
    Some(x)
}

/// The policy's total-variation distance to a target, worst prompt:
/// $\max_x \tfrac12\sum_y|\pi(y|x) - \pi^\*(y|x)|$.
pub fn worst_total_variation<P: Policy>(policy: &P, target_log_pi: &Array2<f64>) -> f64 {
    (0..policy.prompts())
        .map(|x| {
            crate::divergence::total_variation(
                &policy.log_probs(policy.params(), x),
                &target_log_pi.row(x).to_vec(),
            )
        })
        .fold(0.0, f64::max)
}
