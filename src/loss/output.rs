//! The output of a batched loss: per-pair losses and rewards, the batch mean, its gradient.

/// Per-pair losses, rewards, the batch loss and its closed-form gradient.
///
/// The per-pair values are of type `T`: `f64` on the CPU, and the kernel's precision (`f32` or
/// `f64`) from the GPU path; the batch mean is always summed and reported in `f64`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LossOutput<T = f64> {
    /// The loss of each pair (for aot and aot_unpaired: of each rank of the sorted batch).
    pub losses: Vec<T>,
    /// $\beta(\log\pi_\theta(y_w|x) - \log\pi_{\text{ref}}(y_w|x))$ per pair.
    pub chosen_rewards: Vec<T>,
    /// $\beta(\log\pi_\theta(y_l|x) - \log\pi_{\text{ref}}(y_l|x))$ per pair.
    pub rejected_rewards: Vec<T>,
    /// The batch mean of `losses`.
    pub loss: f64,
    /// $\partial\\,\text{loss}/\partial\\,\text{policy\\\_chosen}\_i$ (closed form).
    pub grad_policy_chosen: Vec<T>,
    /// $\partial\\,\text{loss}/\partial\\,\text{policy\\\_rejected}\_i$.
    pub grad_policy_rejected: Vec<T>,
    /// $\partial\\,\text{loss}/\partial\\,\text{reference\\\_chosen}\_i$.
    pub grad_reference_chosen: Vec<T>,
    /// $\partial\\,\text{loss}/\partial\\,\text{reference\\\_rejected}\_i$.
    pub grad_reference_rejected: Vec<T>,
}
