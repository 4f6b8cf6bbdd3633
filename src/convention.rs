//! The named conventions: how each implementation people train with computes the loss, the
//! sequence log-probabilities and the token counts.
//!
//! The implementations disagree (§2–§4 of the conventions sheet); the oracle names each one and
//! computes exactly what it means, never a silent substitute: asking a convention for a loss or
//! an option it lacks is [`LossError::Unsupported`]. Each convention's choices are a
//! [`Choices`] value so that fixtures can record them.
//!
//! | choice | authors | trl-0.28 | trl-0.29 | torchtune | openrlhf | liger |
//! |---|---|---|---|---|---|---|
//! | label smoothing on sigmoid | honoured (cDPO) | honoured | ignored | honoured | honoured | ignored |
//! | IPO log-ratios | summed | token mean | token mean | — | summed | — |
//! | empty response under the mean | NaN | clamp count to 1 | clamp count to 1 | NaN | NaN | NaN |
//! | reference-free | yes | yes | no | no | no | yes |
//! | bco running-mean shift | — | yes | no | — | — | no |
//! | log-softmax precision | f32 | model dtype | model dtype | model dtype | model dtype | f32 |
//! | causal shift | inside | inside | inside | inside | inside | caller |
//! | masking | label −100 | completion mask | completion mask | label −100 | attention mask + prompt length | ignore index |
//!
//! The loss lists, label smoothing, IPO, reference-free, BCO shift, precision and shift entries
//! are those of the conventions reference sheet (§2–§3). The empty-response rule is stated
//! there for the authors' code (NaN) and TRL (clamp); for torchtune, OpenRLHF and Liger the
//! table records a division by the raw count (NaN), which is this crate's reading of their
//! averaging code, not a documented guarantee.

use std::fmt;

use crate::logps::{EmptyRule, LogpOptions};
use crate::loss::{LossError, LossOutput, LossSpec, LossType, PairLogps, PreparedLoss, ZeroCount};

/// An implementation whose conventions the oracle reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Convention {
    /// The paper's code (`preference_loss` with `label_smoothing`, `ipo`, `reference_free`).
    Authors,
    /// TRL up to 0.28.
    Trl028,
    /// TRL from 0.29.
    Trl029,
    /// torchtune (`DPOLoss`, `RSOLoss`).
    Torchtune,
    /// OpenRLHF (`DPOLoss` with `label_smoothing`, `ipo`).
    Openrlhf,
    /// Liger's fused linear preference losses.
    Liger,
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
    /// Each log-ratio divided by its response's scored-token count (clamped to $\ge 1$).
    TokenMean,
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
    /// Whether bco_pair subtracts a running mean $\delta$ of rewards.
    pub bco_running_mean: bool,
    /// Precision of the log-softmax for bf16 models.
    pub log_softmax: LogSoftmaxPrecision,
    /// Who applies the causal shift.
    pub shift: CausalShift,
    /// How scored tokens are selected.
    pub masking: Masking,
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
/// TRL from 0.29: sigmoid_norm, and no cDPO.
const TRL_029: [LossType; 14] = trl_with(L::SigmoidNorm);
/// Liger: no IPO, no aot.
const LIGER: &[LossType] = TRL_SHARED.split_at(10).0;

impl Convention {
    /// Every convention.
    pub const ALL: [Convention; 6] = [
        Self::Authors,
        Self::Trl028,
        Self::Trl029,
        Self::Torchtune,
        Self::Openrlhf,
        Self::Liger,
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
                bco_running_mean: false,
                log_softmax: LogSoftmaxPrecision::Float32,
                shift: CausalShift::Inside,
                masking: Masking::IgnoreLabel,
            },
            Self::Trl028 => Choices {
                name: "trl-0.28",
                losses: &TRL_028,
                label_smoothing: LabelSmoothing::Honoured,
                ipo: IpoLogRatios::TokenMean,
                empty_response: EmptyRule::ClampToOne,
                reference_free: true,
                bco_running_mean: true,
                log_softmax: LogSoftmaxPrecision::ModelDtype,
                shift: CausalShift::Inside,
                masking: Masking::CompletionMask,
            },
            Self::Trl029 => Choices {
                name: "trl-0.29",
                losses: &TRL_029,
                label_smoothing: LabelSmoothing::Ignored,
                reference_free: false,
                bco_running_mean: false,
                ..Self::Trl028.choices()
            },
            Self::Torchtune => Choices {
                name: "torchtune",
                losses: &[L::Sigmoid, L::Cdpo, L::Hinge],
                label_smoothing: LabelSmoothing::Honoured,
                ipo: IpoLogRatios::Absent,
                empty_response: EmptyRule::Nan,
                reference_free: false,
                bco_running_mean: false,
                log_softmax: LogSoftmaxPrecision::ModelDtype,
                shift: CausalShift::Inside,
                masking: Masking::IgnoreLabel,
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
                bco_running_mean: false,
                log_softmax: LogSoftmaxPrecision::Float32,
                shift: CausalShift::Caller,
                masking: Masking::IgnoreLabel,
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
        let zero_count = match c.empty_response {
            EmptyRule::ClampToOne => ZeroCount::ClampToOne,
            EmptyRule::Nan => ZeroCount::Reject,
        };
        PreparedLoss::new(spec, batch, c.ipo == IpoLogRatios::TokenMean, zero_count)
    }
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
