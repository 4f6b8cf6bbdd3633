"""Driving a loss that takes the four log-prob tensors directly (torchtune, OpenRLHF, Liger)."""

from ..pair import Unreachable, scalar, to_list


def run_four_tensor_loss(case, dtype, torch, call, per_pair_name=None, capture=None):
    """`call(x)` with the four tensors `x` returns (loss or per-pair losses, chosen rewards, rejected
    rewards). The gradient is autograd's with respect to the two policy tensors.

    When `call` returns the batch mean, `per_pair_name` names the local of `capture`d function that
    holds the per-pair losses."""
    x = case.tensors(torch, dtype)
    if case.reference_free:
        raise Unreachable("this peer's loss has no reference-free option")
    if capture is not None:
        with capture as cap:
            first, cr, rr = call(x)
        per_pair = cap.captured[per_pair_name] if cap.captured else None
    else:
        first, cr, rr = call(x)
        per_pair = None
    if first.dim() == 0:
        loss = first
    else:
        per_pair = first
        loss = first.mean()
    loss.backward()
    out = {"loss": scalar(loss), "chosen_rewards": to_list(cr), "rejected_rewards": to_list(rr)}
    if per_pair is not None:
        out["losses"] = to_list(per_pair)
    for side in ("chosen", "rejected"):
        g = x[f"policy_{side}_logps"].grad
        if g is not None:
            out[f"grad_policy_{side}_logps"] = to_list(g)
    return out
