"""torchtune's `DPOLoss` (sigmoid, cDPO through `label_smoothing`) and `RSOLoss` (hinge, gamma = beta),
called on the fixture's log-probabilities; they return per-pair losses and the rewards."""

import torch

from ..pair import Unreachable
from ._functional import run_four_tensor_loss


class Torchtune:
    name = "torchtune"

    def __init__(self):
        import torchtune
        from torchtune.rlhf.loss import DPOLoss, RSOLoss

        self.version = torchtune.__version__
        self.dpo, self.rso = DPOLoss, RSOLoss

    def describe(self):
        return "torchtune.rlhf.loss.DPOLoss / RSOLoss forward"

    def pair_case(self, case, dtype):
        if case.loss_type in ("sigmoid", "cdpo"):
            loss = self.dpo(beta=case.beta, label_smoothing=case.epsilon)
        elif case.loss_type == "hinge":
            loss = self.rso(gamma=case.beta)
        else:
            raise Unreachable(f"torchtune has no {case.loss_type} loss")
        return run_four_tensor_loss(
            case,
            dtype,
            torch,
            lambda x: loss(
                x["policy_chosen_logps"],
                x["policy_rejected_logps"],
                x["reference_chosen_logps"],
                x["reference_rejected_logps"],
            ),
        )
