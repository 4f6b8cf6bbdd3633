//! Losses that anchor each response's log-ratio separately rather than only their difference:
//! NCA, BCO and the two APO variants. $\ell_w, \ell_l$ are the chosen and rejected
//! policy-minus-reference log-ratios; $s(x) = \sigma(x)$.

use crate::scalar::Real;

/// NCA (pair): $\ell = -\log\sigma(\beta\ell_w) - \tfrac12\log\sigma(-\beta\ell_w) -
/// \tfrac12\log\sigma(-\beta\ell_l)$.
///
/// Closed form: $\partial\ell/\partial\ell_w = \beta\big(-\sigma(-\beta\ell_w) + \tfrac12\sigma(\beta\ell_w)\big)$,
/// $\partial\ell/\partial\ell_l = \tfrac12\beta\\,\sigma(\beta\ell_l)$.
pub fn nca_pair<R: Real>(beta: f64, lw: R, ll: R) -> R {
    let (zw, zl) = (lw * beta, ll * beta);
    -zw.log_sigmoid() - (-zw).log_sigmoid() * 0.5 - (-zl).log_sigmoid() * 0.5
}

/// The closed-form gradient of [`nca_pair`].
pub fn nca_pair_grad(beta: f64, lw: f64, ll: f64) -> [f64; 2] {
    let (zw, zl) = (beta * lw, beta * ll);
    [
        beta * (-(-zw).sigmoid() + 0.5 * zw.sigmoid()),
        0.5 * beta * zl.sigmoid(),
    ]
}

/// BCO (pair): $\ell = -\log\sigma(\beta\ell_w - \delta) - \log\sigma(-(\beta\ell_l - \delta))$, where
/// $\delta$ is a running mean of past rewards (TRL up to 0.28) treated as a constant (it is
/// detached from the graph), or $0$ without the shift.
///
/// Closed form: $\partial\ell/\partial\ell_w = -\beta\\,\sigma(\delta - \beta\ell_w)$,
/// $\partial\ell/\partial\ell_l = \beta\\,\sigma(\beta\ell_l - \delta)$.
pub fn bco_pair<R: Real>(beta: f64, delta: f64, lw: R, ll: R) -> R {
    -(lw * beta - delta).log_sigmoid() - (-(ll * beta - delta)).log_sigmoid()
}

/// The closed-form gradient of [`bco_pair`].
pub fn bco_pair_grad(beta: f64, delta: f64, lw: f64, ll: f64) -> [f64; 2] {
    [
        -beta * (delta - beta * lw).sigmoid(),
        beta * (beta * ll - delta).sigmoid(),
    ]
}

/// APO-zero: $\ell = (1 - \sigma(\beta\ell_w)) + \sigma(\beta\ell_l)$: push the chosen log-ratio up and
/// the rejected one down, each on its own.
///
/// Closed form: $\partial\ell/\partial\ell_w = -\beta\\,\sigma(\beta\ell_w)\sigma(-\beta\ell_w)$,
/// $\partial\ell/\partial\ell_l = \beta\\,\sigma(\beta\ell_l)\sigma(-\beta\ell_l)$.
pub fn apo_zero<R: Real>(beta: f64, lw: R, ll: R) -> R {
    -(lw * beta).sigmoid() + 1.0 + (ll * beta).sigmoid()
}

/// The closed-form gradient of [`apo_zero`].
pub fn apo_zero_grad(beta: f64, lw: f64, ll: f64) -> [f64; 2] {
    [
        -beta * logistic_slope(beta * lw),
        beta * logistic_slope(beta * ll),
    ]
}

/// APO-down: $\ell = \sigma(\beta\ell_w) + (1 - \sigma(\beta(\ell_w - \ell_l)))$: keep the margin but
/// push the chosen log-ratio down.
///
/// Closed form, with $z = \beta(\ell_w - \ell_l)$:
/// $\partial\ell/\partial\ell_w = \beta\big(\sigma\'(\beta\ell_w) - \sigma\'(z)\big)$,
/// $\partial\ell/\partial\ell_l = \beta\\,\sigma\'(z)$, $\sigma\' = \sigma(x)\sigma(-x)$.
pub fn apo_down<R: Real>(beta: f64, lw: R, ll: R) -> R {
    (lw * beta).sigmoid() - ((lw - ll) * beta).sigmoid() + 1.0
}

/// The closed-form gradient of [`apo_down`].
pub fn apo_down_grad(beta: f64, lw: f64, ll: f64) -> [f64; 2] {
    let margin = logistic_slope(beta * (lw - ll));
    [beta * (logistic_slope(beta * lw) - margin), beta * margin]
}

/// $\sigma\'(x) = \sigma(x)\\,\sigma(-x)$, each factor computed without cancellation.
fn logistic_slope(x: f64) -> f64 {
    x.sigmoid() * (-x).sigmoid()
}

/// The running mean $\delta$ that bco_pair subtracts in TRL up to 0.28 (its `RunningMoments`,
/// single process): each step contributes one sample, the batch's mean reward
/// $\frac{1}{2B}\sum_i (\beta\ell_w^i + \beta\ell_l^i)$, detached; the mean starts at $0$ with a
/// count of $10^{-24}$, so after the first step it is that step's mean reward. The value after
/// the update is the $\delta$ of the same step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunningMean {
    mean: f64,
    count: f64,
}

impl Default for RunningMean {
    fn default() -> Self {
        RunningMean {
            mean: 0.0,
            count: 1e-24,
        }
    }
}

impl RunningMean {
    /// The current mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Folds in one step's chosen and rejected rewards (their mean is the sample) and returns
    /// the updated mean: $\mu \leftarrow \mu + (x - \mu)/(n + 1)$, $n \leftarrow n + 1$.
    pub fn update(&mut self, chosen_rewards: &[f64], rejected_rewards: &[f64]) -> f64 {
        let n = (chosen_rewards.len() + rejected_rewards.len()) as f64;
        let sample = chosen_rewards.iter().chain(rejected_rewards).sum::<f64>() / n;
        let total = self.count + 1.0;
        self.mean += (sample - self.mean) / total;
        self.count = total;
        self.mean
    }
}
