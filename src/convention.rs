//! The named conventions: how each implementation people train with computes the loss, the
//! sequence log-probabilities and the token counts.
//!
//! The implementations disagree (§2–§4 of the conventions sheet); the oracle names each one and
//! computes exactly what it means, never a silent substitute: asking a convention for a loss or
//! an option it lacks is [`LossError::Unsupported`]. Each convention's choices are a
//! [`Choices`] value so that fixtures can record them.
//!
//! | choice | authors | trl-0.28 | trl-0.29 | trl-1 | torchtune | openrlhf | liger |
//! |---|---|---|---|---|---|---|---|
//! | label smoothing on sigmoid | honoured (cDPO) | honoured | ignored | ignored | honoured | honoured | ignored |
//! | sigmoid_norm | — | — | — | yes | — | — | — |
//! | IPO log-ratios | summed | token-mean log-probs | token mean | token mean | — | summed | — |
//! | IPO zero-token response | — | refused (TRL: 0/0 = NaN) | count clamped to 1 | count clamped to 1 | — | — | — |
//! | empty response under the mean | NaN | NaN | clamp count to 1 | clamp count to 1 | NaN | NaN | NaN |
//! | reference-free | yes | yes, not for 6 losses | no | no | no | no | yes |
//! | reference-free rewards | $\beta(\log\pi - \log\pi_{ref})$ | $\beta(\log\pi - \log\pi_{ref})$ | — | — | — | — | $\beta\log\pi$ |
//! | bco running-mean shift | — | yes | no | no | — | — | no |
//! | log-softmax precision | f32 | model dtype | model dtype | f32 | model dtype | model dtype | f32 |
//! | computed in f32 whatever the input dtype | — | `rewards/accuracies` | exo_pair's $\log\varepsilon$, `rewards/accuracies` | exo_pair's $\log\varepsilon$, `rewards/accuracies` | — | — | exo_pair's $\log\varepsilon$ |
//! | causal shift | inside | inside | inside | inside | inside | inside | caller |
//! | masking | label −100 | completion mask | completion mask | completion mask | label −100 | attention mask + prompt length | ignore index |
//!
//! The loss lists, label smoothing, IPO, reference-free, BCO shift, precision and shift entries
//! are those of the conventions reference sheet (§2–§3), checked against each trainer's source
//! and by running its own loss code on the fixtures. The empty-response rule is stated
//! there for the authors' code (NaN) and TRL (clamp); for torchtune, OpenRLHF and Liger the
//! table records a division by the raw count (NaN), which is this crate's reading of their
//! averaging code, not a documented guarantee.
//!
//! **TRL versions.** `trl-0.28` is TRL up to 0.28 (`DPOTrainer.dpo_loss`). It averages IPO's
//! log-probabilities over the completion tokens *before* the loss, dividing by the raw count:
//! $\log\pi/n$ and $\log\pi_{ref}/n$, so its rewards ($\beta(\log\pi - \log\pi_{ref})/n$) and
//! its `logps/*` metrics are token means too, and an empty response gives 0/0 = NaN (the
//! oracle refuses it with [`LossError::ZeroTokenCount`]). With `reference_free`, its
//! `bco_pair`, `sppo_hard`, `nca_pair`, `aot`, `aot_unpaired` and `discopop` branches still
//! read the reference log-probabilities, so the flag changes nothing there: the oracle refuses
//! those combinations ([`LossError::Unsupported`]) rather than give a reference-free value TRL
//! never computes. `trl-0.29` is TRL 0.29 (and up to 1.3): one `_compute_loss` method, no
//! cDPO, no reference-free mode, no running-mean shift, IPO on summed log-probabilities whose
//! log-ratios are divided by the completion-token count clamped to $\ge 1$; it has no
//! `sigmoid_norm` (TRL 0.29 raises `Unknown loss type`). `trl-1` is TRL from 1.4: as
//! `trl-0.29`, plus `sigmoid_norm`
//! $-\log\sigma\big(\beta(\ell_w/n_w - \ell_l/n_l)\big)$ with the same clamped counts, and
//! the log-softmax taken in f32 by its fused LM head whatever the model dtype. Under the
//! default `f_divergence_type` every other loss of `trl-1` is the same formula as in
//! `trl-0.29` (1.x writes `nca_pair`, `bco_pair`, `sppo_hard` and `apo_down` on the log-ratios
//! rather than the divergence scores, which coincide for the reverse KL).
//!
//! **Which convention to pick.** TRL ≤ 0.28: `trl-0.28`; TRL 0.29 to 1.3: `trl-0.29`;
//! TRL ≥ 1.4: `trl-1`; the paper's code: `authors`; torchtune: `torchtune`; OpenRLHF:
//! `openrlhf`; Liger-Kernel's fused DPO loss: `liger`.
//!
//! **Quantities a peer computes in f32.** TRL ≥ 0.29 and Liger build exo_pair's $\varepsilon$
//! as a float32 tensor, so $\log(1-\varepsilon)$ and $\log\varepsilon$ carry f32 rounding even in a
//! float64 run; TRL's `rewards/accuracies` is the float32 mean of the 0/1 wins.
//! [`Choices::float32`] lists them, and fixture groups carry them (with the tolerance that
//! covers them) as `peerFloat32`.

use std::fmt;

use crate::logps::{EmptyRule, LogpOptions};
use crate::loss::{
    LossError, LossOutput, LossSpec, LossType, PairLogps, PreparedLoss, RewardRule, ZeroCount,
};
use crate::metrics::Metrics;

/// An implementation whose conventions the oracle reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Convention {
    /// The paper's code (`preference_loss` with `label_smoothing`, `ipo`, `reference_free`).
    Authors,
    /// TRL up to 0.28.
    Trl028,
    /// TRL from 0.29 up to 1.3.
    Trl029,
    /// torchtune (`DPOLoss`, `RSOLoss`).
    Torchtune,
    /// OpenRLHF (`DPOLoss` with `label_smoothing`, `ipo`).
    Openrlhf,
    /// Liger's fused linear preference losses.
    Liger,
    /// TRL from 1.4 (`sigmoid_norm` added).
    Trl1,
}

/// Whether label smoothing on the sigmoid loss is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSmoothing {
    /// $\varepsilon$ gives cDPO.
    Honoured,
    /// $\varepsilon$ is accepted and has no effect (the oracle refuses $\varepsilon \ne 0$ instead).
    Ignored,
}

/// On which log-ratios IPO is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpoLogRatios {
    /// Log-ratios of summed log-probabilities.
    Summed,
    /// Each log-ratio divided by its response's scored-token count (clamped to $\ge 1$); the
    /// rewards stay on the summed log-probabilities.
    TokenMean,
    /// Each summed log-probability (policy and reference) divided by its response's raw
    /// scored-token count before the loss (TRL up to 0.28): the rewards and the `logps/*`
    /// metrics are token means too, and a zero count is 0/0 (refused).
    TokenMeanLogps,
    /// The implementation has no IPO.
    Absent,
}

/// Where the log-softmax is taken for a low-precision (bf16) model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSoftmaxPrecision {
    /// Upcast to f32 first.
    Float32,
    /// In the model's dtype.
    ModelDtype,
}

/// Who applies the causal shift (logits at $t$ predict the label at $t+1$).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CausalShift {
    /// The log-probability routine shifts.
    Inside,
    /// The caller passes already shifted logits and labels.
    Caller,
}

/// How scored positions are selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Masking {
    /// Labels set to $-100$.
    IgnoreLabel,
    /// A completion mask by position.
    CompletionMask,
    /// The attention mask plus the prompt length.
    AttentionMaskAndPromptLength,
}

/// One convention's documented choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Choices {
    /// The convention's name (`authors`, `trl-0.28`, …).
    pub name: &'static str,
    /// The loss types it implements.
    pub losses: &'static [LossType],
    /// Label smoothing on the sigmoid loss.
    pub label_smoothing: LabelSmoothing,
    /// IPO's log-ratios.
    pub ipo: IpoLogRatios,
    /// What a mean over zero scored tokens gives (the token-count rule).
    pub empty_response: EmptyRule,
    /// Whether a reference-free mode exists.
    pub reference_free: bool,
    /// The losses whose code reads the reference whatever `reference_free` says (refused as
    /// reference-free).
    pub reference_free_ignored_by: &'static [LossType],
    /// What the rewards are in reference-free mode.
    pub reference_free_rewards: ReferenceFreeRewards,
    /// Whether bco_pair subtracts a running mean $\delta$ of rewards.
    pub bco_running_mean: bool,
    /// Precision of the log-softmax for bf16 models.
    pub log_softmax: LogSoftmaxPrecision,
    /// Who applies the causal shift.
    pub shift: CausalShift,
    /// How scored tokens are selected.
    pub masking: Masking,
    /// Quantities the implementation computes in f32 whatever the dtype of its inputs.
    pub float32: &'static [Float32Quantity],
}

/// What a reference-free loss reports as the rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceFreeRewards {
    /// $\beta(\log\pi_\theta - \log\pi_{ref})$: the reference still defines the rewards
    /// (authors' code, TRL up to 0.28).
    WithReference,
    /// $\beta\log\pi_\theta$: there is no reference model (Liger).
    PolicyOnly,
}

/// A quantity an implementation holds in f32 even when its inputs are f64 (a precision-only
/// difference a fixture group's tolerance must cover).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Float32Quantity {
    /// exo_pair's $\varepsilon$ is a float32 tensor: $\log(1-\varepsilon)$ and
    /// $\log\varepsilon$ are f32 values.
    ExoPairEpsilon,
    /// `rewards/accuracies` is the float32 mean of the 0/1 wins.
    RewardsAccuracies,
}

impl Float32Quantity {
    /// The name fixtures record (`epsilon`, `rewards/accuracies`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ExoPairEpsilon => "epsilon",
            Self::RewardsAccuracies => "rewards/accuracies",
        }
    }
}

use LossType as L;

/// The losses TRL (both versions) and Liger share, ordered so that Liger's are a prefix.
const TRL_SHARED: [LossType; 13] = [
    L::Sigmoid,
    L::Robust,
    L::Hinge,
    L::ExoPair,
    L::NcaPair,
    L::BcoPair,
    L::SppoHard,
    L::ApoZero,
    L::ApoDown,
    L::Discopop,
    L::Ipo,
    L::Aot,
    L::AotUnpaired,
];

/// [`TRL_SHARED`] plus one version-specific loss.
const fn trl_with(extra: LossType) -> [LossType; 14] {
    let mut out = [extra; 14];
    let mut i = 0;
    while i < TRL_SHARED.len() {
        out[i] = TRL_SHARED[i];
        i += 1;
    }
    out
}

/// TRL up to 0.28: cDPO as `sigmoid` with label smoothing.
const TRL_028: [LossType; 14] = trl_with(L::Cdpo);
/// TRL from 1.4: sigmoid_norm, and no cDPO (TRL 0.29 to 1.3 is [`TRL_SHARED`] alone).
const TRL_1: [LossType; 14] = trl_with(L::SigmoidNorm);
/// The losses whose TRL ≤ 0.28 code reads the reference log-probabilities whatever
/// `reference_free` says.
const TRL_028_REFERENCE_ALWAYS: [LossType; 6] = [
    L::BcoPair,
    L::SppoHard,
    L::NcaPair,
    L::Aot,
    L::AotUnpaired,
    L::Discopop,
];
/// TRL from 0.29 (and Liger): exo_pair's ε as a float32 tensor, and the f32 accuracy.
const TRL_FLOAT32: [Float32Quantity; 2] = [
    Float32Quantity::ExoPairEpsilon,
    Float32Quantity::RewardsAccuracies,
];
/// Liger: no IPO, no aot.
const LIGER: &[LossType] = TRL_SHARED.split_at(10).0;

impl Convention {
    /// Every convention.
    pub const ALL: [Convention; 7] = [
        Self::Authors,
        Self::Trl028,
        Self::Trl029,
        Self::Torchtune,
        Self::Openrlhf,
        Self::Liger,
        Self::Trl1,
    ];

    /// The convention's name as fixtures record it.
    pub fn name(self) -> &'static str {
        self.choices().name
    }

    /// The documented choices of this convention.
    pub fn choices(self) -> Choices {
        match self {
            Self::Authors => Choices {
                name: "authors",
                losses: &[L::Sigmoid, L::Cdpo, L::Ipo],
                label_smoothing: LabelSmoothing::Honoured,
                ipo: IpoLogRatios::Summed,
                empty_response: EmptyRule::Nan,
                reference_free: true,
                reference_free_ignored_by: &[],
                reference_free_rewards: ReferenceFreeRewards::WithReference,
                bco_running_mean: false,
                log_softmax: LogSoftmaxPrecision::Float32,
                shift: CausalShift::Inside,
                masking: Masking::IgnoreLabel,
                float32: &[],
            },
            Self::Trl028 => Choices {
                name: "trl-0.28",
                losses: &TRL_028,
                label_smoothing: LabelSmoothing::Honoured,
                ipo: IpoLogRatios::TokenMeanLogps,
                empty_response: EmptyRule::Nan,
                reference_free: true,
                reference_free_ignored_by: &TRL_028_REFERENCE_ALWAYS,
                reference_free_rewards: ReferenceFreeRewards::WithReference,
                bco_running_mean: true,
                log_softmax: LogSoftmaxPrecision::ModelDtype,
                shift: CausalShift::Inside,
                masking: Masking::CompletionMask,
                float32: &[Float32Quantity::RewardsAccuracies],
            },
            Self::Trl029 => Choices {
                name: "trl-0.29",
                losses: &TRL_SHARED,
                label_smoothing: LabelSmoothing::Ignored,
                ipo: IpoLogRatios::TokenMean,
                empty_response: EmptyRule::ClampToOne,
                reference_free: false,
                reference_free_ignored_by: &[],
                bco_running_mean: false,
                float32: &TRL_FLOAT32,
                ..Self::Trl028.choices()
            },
            Self::Trl1 => Choices {
                name: "trl-1",
                losses: &TRL_1,
                log_softmax: LogSoftmaxPrecision::Float32,
                ..Self::Trl029.choices()
            },
            Self::Torchtune => Choices {
                name: "torchtune",
                losses: &[L::Sigmoid, L::Cdpo, L::Hinge],
                label_smoothing: LabelSmoothing::Honoured,
                ipo: IpoLogRatios::Absent,
                empty_response: EmptyRule::Nan,
                reference_free: false,
                reference_free_ignored_by: &[],
                reference_free_rewards: ReferenceFreeRewards::WithReference,
                bco_running_mean: false,
                log_softmax: LogSoftmaxPrecision::ModelDtype,
                shift: CausalShift::Inside,
                masking: Masking::IgnoreLabel,
                float32: &[],
            },
            Self::Openrlhf => Choices {
                name: "openrlhf",
                losses: &[L::Sigmoid, L::Cdpo, L::Ipo],
                ipo: IpoLogRatios::Summed,
                masking: Masking::AttentionMaskAndPromptLength,
                ..Self::Torchtune.choices()
            },
            Self::Liger => Choices {
                name: "liger",
                losses: LIGER,
                label_smoothing: LabelSmoothing::Ignored,
                ipo: IpoLogRatios::Absent,
                empty_response: EmptyRule::Nan,
                reference_free: true,
                reference_free_ignored_by: &[],
                reference_free_rewards: ReferenceFreeRewards::PolicyOnly,
                bco_running_mean: false,
                log_softmax: LogSoftmaxPrecision::Float32,
                shift: CausalShift::Caller,
                masking: Masking::IgnoreLabel,
                float32: &[Float32Quantity::ExoPairEpsilon],
            },
        }
    }

    /// The sequence log-probability options of this convention for the given reduction
    /// (shift, empty-response rule, ignore index $-100$).
    pub fn logp_options(self, reduction: crate::logps::Reduction) -> LogpOptions {
        let c = self.choices();
        LogpOptions {
            shift: c.shift == CausalShift::Inside,
            reduction,
            empty: c.empty_response,
            ignore_index: -100,
        }
    }

    /// Validates `spec` against this convention and fixes the log-ratio scales, or says what the
    /// convention lacks.
    pub fn prepare(self, spec: &LossSpec, batch: &PairLogps) -> Result<PreparedLoss, LossError> {
        let c = self.choices();
        let unsupported = |what: String| {
            Err(LossError::Unsupported {
                convention: c.name,
                what,
            })
        };
        let ty = spec.loss_type();
        if !c.losses.contains(&ty) {
            return unsupported(format!("the {ty} loss"));
        }
        if c.label_smoothing == LabelSmoothing::Ignored
            && ty == L::Sigmoid
            && spec.label_smoothing() != 0.0
        {
            return unsupported(format!(
                "label smoothing on the sigmoid loss (it ignores ε = {}); ask for ε = 0",
                spec.label_smoothing()
            ));
        }
        if spec.reference_free() && !c.reference_free {
            return unsupported("a reference-free loss".to_string());
        }
        if spec.reference_free() && c.reference_free_ignored_by.contains(&ty) {
            return unsupported(format!(
                "a reference-free {ty} loss (its {ty} code reads the reference log-probabilities \
                 whatever reference_free says)"
            ));
        }
        if ty == L::BcoPair {
            match (c.bco_running_mean, spec.bco_delta()) {
                (true, None) => {
                    return Err(LossError::MissingParameter {
                        name: "bco_delta",
                        needed_by: "trl-0.28's bco_pair (running-mean shift)",
                    })
                }
                (false, Some(_)) => {
                    return unsupported("bco_pair's running-mean shift".to_string());
                }
                _ => {}
            }
        }
        let ipo_token_mean = matches!(
            c.ipo,
            IpoLogRatios::TokenMean | IpoLogRatios::TokenMeanLogps
        );
        // TRL ≤ 0.28 divides IPO's log-probabilities by the raw count (0/0 = NaN): refused.
        // TRL from 0.29 clamps the count to 1 (IPO and sigmoid_norm).
        let zero_count = if c.ipo == IpoLogRatios::TokenMeanLogps {
            ZeroCount::Reject
        } else {
            ZeroCount::ClampToOne
        };
        let rewards = RewardRule {
            token_mean: ty == L::Ipo && c.ipo == IpoLogRatios::TokenMeanLogps,
            policy_only: spec.reference_free()
                && c.reference_free_rewards == ReferenceFreeRewards::PolicyOnly,
        };
        PreparedLoss::new(spec, batch, ipo_token_mean, zero_count)
            .map(|p| p.with_reward_rule(rewards))
    }
}

/// The batch metrics under a named implementation's choices: as [`Metrics::of`], except where
/// the convention reports other rewards (TRL ≤ 0.28's IPO: token means, also for `logps/*`;
/// Liger reference-free: $\beta\log\pi$).
pub fn metrics_as(
    convention: Convention,
    spec: &LossSpec,
    batch: &PairLogps,
) -> Result<Metrics, LossError> {
    convention.prepare(spec, batch)?.metrics(batch)
}

/// Serialised as its name (`trl-0.28`, …).
impl serde::Serialize for Convention {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The loss under a named implementation's choices; [`LossError::Unsupported`] (naming the
/// convention and what it lacks) if that implementation does not have it.
pub fn compute_as(
    convention: Convention,
    spec: &LossSpec,
    batch: &PairLogps,
) -> Result<LossOutput, LossError> {
    convention.prepare(spec, batch)?.evaluate(batch)
}
