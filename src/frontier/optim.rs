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
