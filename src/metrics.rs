//! Training metrics of a DPO batch, under TRL's names with the torchtune and OpenRLHF aliases.
//!
//! With $r_w^i = \beta(\log\pi_\theta(y_w^i) - \log\pi_{\text{ref}}(y_w^i))$ and $r_l^i$ likewise:
//! `rewards/chosen` $= \overline{r_w}$, `rewards/rejected` $= \overline{r_l}$,
//! `rewards/margins` $= \overline{r_w - r_l}$, `rewards/accuracies` $= \overline{\mathbb 1(r_w > r_l)}$
//! (strict: a tie counts as wrong, so at initialisation, $\pi_\theta = \pi_{\text{ref}}$, the
//! accuracy is $0$ while the loss is $\ln 2$), `logps/chosen` and `logps/rejected` the means of
//! the policy's summed log-probabilities.

use crate::loss::scaled::{mean, scaled_difference};
use crate::loss::{LossError, PairLogps};

/// The batch metrics.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// `rewards/chosen`.
    pub rewards_chosen: f64,
    /// `rewards/rejected`.
    pub rewards_rejected: f64,
    /// `rewards/accuracies` (strict $>$).
    pub rewards_accuracies: f64,
    /// `rewards/margins`.
    pub rewards_margins: f64,
    /// `logps/chosen`.
    pub logps_chosen: f64,
    /// `logps/rejected`.
    pub logps_rejected: f64,
}

/// Whose metric names to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricNames {
    /// TRL: `rewards/chosen`, …, `logps/chosen`, `logps/rejected`.
    Trl,
    /// torchtune: as TRL, with `log_probs/chosen` and `log_probs/rejected`.
    Torchtune,
    /// OpenRLHF: `chosen_reward`, `reject_reward`, `acc` (it logs no margin or log-probs).
    Openrlhf,
}

/// The per-pair values of one metric, or [`LossError::Overflow`] naming it if one is not finite
/// (checked only when `check` is set: the inputs are finite).
fn per_pair(name: &'static str, values: Vec<f64>, check: bool) -> Result<Vec<f64>, LossError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(pair) if check => Err(LossError::Overflow {
            quantity: name,
            pair,
        }),
        _ => Ok(values),
    }
}

/// The per-pair margins $r_w^i - r_l^i$.
fn margins(rw: &[f64], rl: &[f64]) -> Vec<f64> {
    rw.iter().zip(rl).map(|(w, l)| w - l).collect()
}

impl Metrics {
    /// The metrics of a batch at temperature $\beta$. Checks lengths, emptiness and finiteness like
    /// the losses do (`propagate` lets non-finite values through). Rewards are
    /// $\beta(\log\pi_\theta - \log\pi_{\text{ref}})$ with the difference taken first and means
    /// are overflow-safe ([`crate::loss::scaled`]); a reward or margin beyond `f64::MAX` from
    /// finite inputs is [`LossError::Overflow`] naming it.
    pub fn of(beta: f64, batch: &PairLogps, propagate: bool) -> Result<Metrics, LossError> {
        if !(beta.is_finite() && beta > 0.0) {
            return Err(LossError::InvalidParameter {
                name: "beta",
                value: beta,
                allowed: "finite and > 0",
            });
        }
        batch.check(propagate)?;
        let check = batch
            .fields()
            .iter()
            .all(|(_, a)| a.iter().all(|x| x.is_finite()));
        let rewards = |p: &[f64], r: &[f64]| -> Vec<f64> {
            p.iter()
                .zip(r)
                .map(|(&p, &r)| scaled_difference(beta, p, r))
                .collect()
        };
        let rw = per_pair(
            "rewards/chosen",
            rewards(batch.policy_chosen, batch.reference_chosen),
            check,
        )?;
        let rl = per_pair(
            "rewards/rejected",
            rewards(batch.policy_rejected, batch.reference_rejected),
            check,
        )?;
        per_pair("rewards/margins", margins(&rw, &rl), check)?;
        Ok(Metrics::from_rewards(
            &rw,
            &rl,
            batch.policy_chosen,
            batch.policy_rejected,
        ))
    }

    /// The metrics from per-pair rewards $r_w^i$, $r_l^i$ and the reported policy
    /// log-probabilities (equal non-zero lengths; the callers check them). Means are
    /// overflow-safe ([`crate::loss::scaled::mean`]).
    pub(crate) fn from_rewards(rw: &[f64], rl: &[f64], pc: &[f64], pr: &[f64]) -> Metrics {
        let accuracies: Vec<f64> = rw
            .iter()
            .zip(rl)
            .map(|(w, l)| f64::from(u8::from(w > l)))
            .collect();
        Metrics {
            rewards_chosen: mean(rw),
            rewards_rejected: mean(rl),
            rewards_accuracies: mean(&accuracies),
            rewards_margins: mean(&margins(rw, rl)),
            logps_chosen: mean(pc),
            logps_rejected: mean(pr),
        }
    }

    /// The metrics under an implementation's names (those it logs), in a fixed order.
    pub fn named(&self, names: MetricNames) -> Vec<(&'static str, f64)> {
        match names {
            MetricNames::Trl => vec![
                ("rewards/chosen", self.rewards_chosen),
                ("rewards/rejected", self.rewards_rejected),
                ("rewards/accuracies", self.rewards_accuracies),
                ("rewards/margins", self.rewards_margins),
                ("logps/chosen", self.logps_chosen),
                ("logps/rejected", self.logps_rejected),
            ],
            MetricNames::Torchtune => {
                let mut named = self.named(MetricNames::Trl);
                named[4].0 = "log_probs/chosen";
                named[5].0 = "log_probs/rejected";
                named
            }
            MetricNames::Openrlhf => vec![
                ("chosen_reward", self.rewards_chosen),
                ("reject_reward", self.rewards_rejected),
                ("acc", self.rewards_accuracies),
            ],
        }
    }

    /// A metric by any of its names (TRL, torchtune or OpenRLHF).
    pub fn get(&self, name: &str) -> Option<f64> {
        [
            MetricNames::Trl,
            MetricNames::Torchtune,
            MetricNames::Openrlhf,
        ]
        .iter()
        .flat_map(|&n| self.named(n))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
    }
}
