"""Liger-Kernel's DPO: `LigerFusedLinearDPOFunction.preference_loss_fn`, the function its fused
linear preference base calls on the policy's and the reference's log-probabilities.

It returns the batch loss (sum over pairs / number of pairs) and the rewards; per-pair losses are
the loss of each pair on its own (every Liger loss is a per-pair mean). Reference-free means no
reference model: the reference log-probabilities are not passed (`None`)."""

import torch

from ..pair import scalar, to_list


class Liger:
    name = "liger"

    def __init__(self):
        from importlib.metadata import version

        from liger_kernel.chunked_loss.dpo_loss import LigerFusedLinearDPOFunction

        self.version = version("liger-kernel")
        self.fn = LigerFusedLinearDPOFunction.preference_loss_fn

    def describe(self):
        return "liger_kernel.chunked_loss.dpo_loss.LigerFusedLinearDPOFunction.preference_loss_fn"

    def _call(self, case, x, idx=None):
        pick = (lambda t: t) if idx is None else (lambda t: t[idx : idx + 1])
        pc, pr = pick(x["policy_chosen_logps"]), pick(x["policy_rejected_logps"])
        refs = (
            (None, None)
            if case.reference_free
            else (pick(x["reference_chosen_logps"]), pick(x["reference_rejected_logps"]))
        )
        full_target = torch.zeros(2 * pc.shape[0], 1)
        return self.fn(
            pc,
            pr,
            full_target,
            refs[0],
            refs[1],
            beta=case.beta,
            loss_type=case.loss_type,
            label_smoothing=case.epsilon,
            discopop_tau=case.tau,
        )

    def pair_case(self, case, dtype):
        x = case.tensors(torch, dtype)
        loss, cr, rr = self._call(case, x)
        loss.backward()
        out = {"loss": scalar(loss), "chosen_rewards": to_list(cr), "rejected_rewards": to_list(rr)}
        out["grad_policy_chosen_logps"] = to_list(x["policy_chosen_logps"].grad)
        out["grad_policy_rejected_logps"] = to_list(x["policy_rejected_logps"].grad)
        with torch.no_grad():
            n = x["policy_chosen_logps"].shape[0]
            out["losses"] = [scalar(self._call(case, x, i)[0]) for i in range(n)]
        return out
