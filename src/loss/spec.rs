//! [`LossSpec`]: a loss type with its parameters ($\beta$, $\varepsilon$, $\tau$, $\delta$), and
//! their validation.

use super::{LossError, LossType, DEFAULT_DISCOPOP_TAU};

/// A loss and its parameters. Build with [`LossSpec::new`] and the `with_…` methods; check with
/// [`LossSpec::validate`] (every entry point validates).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossSpec {
    pub(super) loss_type: LossType,
    pub(super) beta: f64,
    pub(super) label_smoothing: f64,
    pub(super) tau: f64,
    pub(super) reference_free: bool,
    pub(super) bco_delta: Option<f64>,
    pub(super) propagate_non_finite: bool,
}

impl LossSpec {
    /// A loss of the given type with temperature $\beta$; $\varepsilon = 0$,
    /// $\tau = 0.05$ ([`DEFAULT_DISCOPOP_TAU`]), with a reference model, no BCO shift, and
    /// non-finite inputs rejected.
    pub fn new(loss_type: LossType, beta: f64) -> LossSpec {
        LossSpec {
            loss_type,
            beta,
            label_smoothing: 0.0,
            tau: DEFAULT_DISCOPOP_TAU,
            reference_free: false,
            bco_delta: None,
            propagate_non_finite: false,
        }
    }

    /// The same specification with another $\beta$.
    pub fn with_beta(self, beta: f64) -> LossSpec {
        LossSpec { beta, ..self }
    }

    /// Label smoothing $\varepsilon$ (cDPO, robust, exo_pair, aot).
    pub fn with_label_smoothing(self, eps: f64) -> LossSpec {
        LossSpec {
            label_smoothing: eps,
            ..self
        }
    }

    /// Reference-free: the reference log-probabilities are taken as $0$ in the loss (they still
    /// define the reported rewards, as in the authors' code).
    pub fn with_reference_free(self, on: bool) -> LossSpec {
        LossSpec {
            reference_free: on,
            ..self
        }
    }

    /// DiscoPOP's temperature $\tau > 0$.
    pub fn with_tau(self, tau: f64) -> LossSpec {
        LossSpec { tau, ..self }
    }

    /// BCO's running-mean shift $\delta$ (a constant: no gradient flows into it).
    pub fn with_bco_delta(self, delta: f64) -> LossSpec {
        LossSpec {
            bco_delta: Some(delta),
            ..self
        }
    }

    /// Let NaN and infinite log-probabilities through (IEEE propagation) instead of rejecting
    /// them with [`LossError::NonFinite`].
    pub fn with_propagate_non_finite(self, on: bool) -> LossSpec {
        LossSpec {
            propagate_non_finite: on,
            ..self
        }
    }

    /// The loss family.
    pub fn loss_type(&self) -> LossType {
        self.loss_type
    }
    /// $\beta$.
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// $\varepsilon$.
    pub fn label_smoothing(&self) -> f64 {
        self.label_smoothing
    }
    /// DiscoPOP's $\tau$.
    pub fn tau(&self) -> f64 {
        self.tau
    }
    /// Whether the reference is taken as $0$ in the loss.
    pub fn reference_free(&self) -> bool {
        self.reference_free
    }
    /// BCO's shift $\delta$, if set.
    pub fn bco_delta(&self) -> Option<f64> {
        self.bco_delta
    }
    /// Whether non-finite inputs propagate instead of being rejected.
    pub fn propagate_non_finite(&self) -> bool {
        self.propagate_non_finite
    }

    /// Checks every parameter against its allowed range: $\beta$ finite and $> 0$; $\varepsilon$ in
    /// $[0, 1]$ (sigmoid, cDPO, aot), $[0, \frac12)$ (robust), $(0, 1)$ (exo_pair), and exactly $0$
    /// for losses that do not use it; $\tau$ finite and $> 0$; $\delta$ finite and only for
    /// bco_pair.
    pub fn validate(&self) -> Result<(), LossError> {
        let invalid = |name, value, allowed| {
            Err(LossError::InvalidParameter {
                name,
                value,
                allowed,
            })
        };
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return invalid("beta", self.beta, "finite and > 0");
        }
        let eps = self.label_smoothing;
        match self.loss_type.label_smoothing_range() {
            Some((allowed, ok)) if !ok(eps) => return invalid("label_smoothing", eps, allowed),
            None if eps != 0.0 => {
                return invalid(
                    "label_smoothing",
                    eps,
                    "0 (this loss does not use label smoothing)",
                )
            }
            _ => {}
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return invalid("tau", self.tau, "finite and > 0");
        }
        if let Some(delta) = self.bco_delta {
            if self.loss_type != LossType::BcoPair {
                return invalid("bco_delta", delta, "unset (only bco_pair uses it)");
            }
            if !delta.is_finite() {
                return invalid("bco_delta", delta, "finite");
            }
        }
        Ok(())
    }
}
