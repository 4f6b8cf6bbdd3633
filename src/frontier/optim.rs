//! The optimisers the methods share: Adam and plain gradient descent, minimising a loss from
//! its gradient.

/// An optimiser and its learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimiser {
    /// Adam (Kingma & Ba) with $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$, bias
    /// correction, and a constant learning rate after a linear warm-up over the first
    /// [`WARMUP`] steps: $\eta_t = \eta\min(1, t/W)$.
    Adam {
        /// Peak learning rate $\eta$.
        learning_rate: f64,
    },
    /// Gradient descent $\theta \leftarrow \theta - \eta\nabla\mathcal L$ (the claims' route: it
    /// converges to machine precision on the strongly convex problems they pose).
    Gradient {
        /// Step size $\eta$.
        learning_rate: f64,
    },
}

/// Warm-up steps $W$ of Adam's schedule.
pub const WARMUP: usize = 10;

/// An optimiser's running state.
#[derive(Debug, Clone)]
pub struct State {
    optimiser: Optimiser,
    t: usize,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl State {
    /// Fresh state for `parameters` parameters.
    pub fn new(optimiser: Optimiser, parameters: usize) -> Self {
        Self {
            optimiser,
            t: 0,
            m: vec![0.0; parameters],
            v: vec![0.0; parameters],
        }
    }

    /// One step against the gradient `grad`.
    pub fn step(&mut self, theta: &mut [f64], grad: &[f64]) {
        self.t += 1;
        match self.optimiser {
            Optimiser::Gradient { learning_rate } => {
                for (t, g) in theta.iter_mut().zip(grad) {
                    *t -= learning_rate * g;
                }
            }
            Optimiser::Adam { learning_rate } => {
                let (b1, b2, eps) = (0.9_f64, 0.999_f64, 1e-8);
                let t = self.t as i32;
                let lr = learning_rate * (self.t as f64 / WARMUP as f64).min(1.0);
                let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                for ((th, g), (m, v)) in theta
                    .iter_mut()
                    .zip(grad)
                    .zip(self.m.iter_mut().zip(self.v.iter_mut()))
                {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *th -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                }
            }
        }
    }
}

/// How long to train and when to record a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The optimiser.
    pub optimiser: Optimiser,
    /// Number of steps.
    pub steps: usize,
    /// A checkpoint every this many steps (and at the last step).
    pub every: usize,
}

/// Minimises a loss from `theta0` with `gradient(theta) -> ∇L`, calling `checkpoint(step,
/// theta)` every [`Schedule::every`] steps and after the last; returns the final parameters.
pub fn train(
    theta0: &[f64],
    schedule: Schedule,
    mut gradient: impl FnMut(&[f64]) -> Vec<f64>,
    mut checkpoint: impl FnMut(usize, &[f64]),
) -> Vec<f64> {
    let mut theta = theta0.to_vec();
    let mut state = State::new(schedule.optimiser, theta.len());
    for step in 1..=schedule.steps {
        let g = gradient(&theta);
        state.step(&mut theta, &g);
        if step % schedule.every.max(1) == 0 || step == schedule.steps {
            checkpoint(step, &theta);
        }
    }
    theta
}

/// L-BFGS's memory (pairs of steps and gradient changes kept).
pub const LBFGS_MEMORY: usize = 10;

/// Full-batch quasi-Newton (L-BFGS with [`LBFGS_MEMORY`] pairs, two-loop recursion, Armijo
/// backtracking allowing for rounding in the loss) minimising `loss_and_gradient` from
/// `theta0`, for at most `iterations` iterations; stops when a step moves no coordinate by more
/// than $10^{-15}\max(1, \\|\theta\\|\_\infty)$ or the line search can make no progress. The
/// claims' exact optimisations use it: it reaches rounding level in tens of iterations where
/// gradient descent needs thousands.
pub fn lbfgs(
    theta0: &[f64],
    iterations: usize,
    mut loss_and_gradient: impl FnMut(&[f64]) -> (f64, Vec<f64>),
) -> Vec<f64> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut theta = theta0.to_vec();
    let (mut loss, mut grad) = loss_and_gradient(&theta);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::new();
    for _ in 0..iterations {
        // Two-loop recursion: d = -H g.
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let Some((s, y, _)) = history.back() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|qi| *qi *= gamma);
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&grad, &direction);
        if slope >= 0.0 {
            direction = grad.iter().map(|g| -g).collect();
            slope = -dot(&grad, &grad);
            history.clear();
        }
        if slope == 0.0 {
            break;
        }
        let mut t = 1.0;
        let accepted = loop {
            let candidate: Vec<f64> = theta
                .iter()
                .zip(&direction)
                .map(|(x, d)| x + t * d)
                .collect();
            let (l, g) = loss_and_gradient(&candidate);
            let rounding = 64.0 * f64::EPSILON * loss.abs();
            if l <= loss + 1e-4 * t * slope + rounding {
                break Some((candidate, l, g));
            }
            t *= 0.5;
            if t < 1e-20 {
                break None;
            }
        };
        let Some((next, next_loss, next_grad)) = accepted else {
            break;
        };
        let s: Vec<f64> = next.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let largest = s.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let sy = dot(&s, &y);
        theta = next;
        loss = next_loss;
        grad = next_grad;
        if largest <= 1e-15 * theta.iter().fold(1.0_f64, |m, v| m.max(v.abs())) {
            break;
        }
        if sy > 0.0 {
            if history.len() == LBFGS_MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
    }
    theta
}
