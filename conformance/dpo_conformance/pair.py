"""The inputs of a PairLossTest case as tensors, and what a peer run observed."""

from dataclasses import dataclass, field

from .fixtures import nums

KEYS = ("policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps", "reference_rejected_logps")


class Unreachable(Exception):
    """The case's inputs cannot be given to this peer in its own data layout (a "not run" reason)."""


@dataclass
class PairCase:
    """One case: beta, loss type, epsilon, tau, reference-free, bco delta; four log-prob arrays (f64 lists),
    optional scored-token counts."""

    beta: float
    loss_type: str
    epsilon: float
    tau: float
    reference_free: bool
    bco_delta: float | None
    logps: dict
    chosen_counts: list | None = None
    rejected_counts: list | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, params, inputs):
        counts = inputs.get("chosen_token_counts"), inputs.get("rejected_token_counts")
        return cls(
            beta=float(params["beta"]),
            loss_type=params["lossType"],
            epsilon=float(params.get("epsilon", 0.0) or 0.0),
            tau=float(params.get("tau", 0.05) or 0.05),
            reference_free=bool(params.get("referenceFree", False)),
            bco_delta=params.get("bcoDelta"),
            logps={k: nums(inputs[k]) for k in KEYS},
            chosen_counts=None if counts[0] is None else [int(c) for c in counts[0]],
            rejected_counts=None if counts[1] is None else [int(c) for c in counts[1]],
        )

    def same_length(self):
        return len({len(v) for v in self.logps.values()}) == 1

    def tensors(self, torch, dtype, requires_grad=True):
        """The four arrays in the peer's dtype (rounded once from f64); the policy ones track gradients."""
        out = {}
        for k in KEYS:
            t = torch.tensor(self.logps[k], dtype=torch.float64).to(dtype)
            if requires_grad and k.startswith("policy"):
                t.requires_grad_()
            out[k] = t
        return out


def to_list(t):
    return [float(x) for x in t.detach().double().reshape(-1).tolist()]


def scalar(t):
    return float(t.detach().double().item()) if hasattr(t, "detach") else float(t)
