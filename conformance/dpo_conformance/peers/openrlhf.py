"""OpenRLHF's `DPOLoss` (sigmoid, cDPO through `label_smoothing`, IPO through `ipo=True`).

OpenRLHF cannot be installed without CUDA packages (deepspeed, flash-attn); its wheel is downloaded
without dependencies and only `openrlhf/models/loss.py` is loaded, with `openrlhf.models.utils`
(which imports deepspeed for unrelated helpers) replaced by a stub providing nothing the DPO loss
uses. The loss returns the batch mean; the per-pair losses are read from its locals."""

import importlib.util
import os
import sys
import types

import torch

from ..capture import LocalsAtReturn
from ..pair import Unreachable
from ._functional import run_four_tensor_loss


def _load_loss_module(root):
    package_dir = os.path.join(root, "openrlhf")
    for name, path in (("openrlhf", package_dir), ("openrlhf.models", os.path.join(package_dir, "models"))):
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    utils = types.ModuleType("openrlhf.models.utils")

    def masked_mean(*_args, **_kwargs):
        raise RuntimeError("openrlhf.models.utils is stubbed: masked_mean is not part of DPOLoss")

    utils.masked_mean = masked_mean
    sys.modules["openrlhf.models.utils"] = utils
    spec = importlib.util.spec_from_file_location("openrlhf.models.loss", os.path.join(package_dir, "models", "loss.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["openrlhf.models.loss"] = module
    spec.loader.exec_module(module)
    return module


class Openrlhf:
    name = "openrlhf"

    def __init__(self):
        root = os.environ.get("DPO_CONFORMANCE_OPENRLHF_ROOT")
        if not root or not os.path.isfile(os.path.join(root, "openrlhf", "models", "loss.py")):
            raise ImportError("OpenRLHF's unpacked wheel not found (DPO_CONFORMANCE_OPENRLHF_ROOT)")
        self.module = _load_loss_module(root)
        self.version = os.environ.get("DPO_CONFORMANCE_OPENRLHF_VERSION", "unknown")

    def describe(self):
        return "openrlhf/models/loss.py DPOLoss forward (module loaded alone from the wheel)"

    def pair_case(self, case, dtype):
        if case.loss_type in ("sigmoid", "cdpo"):
            loss = self.module.DPOLoss(beta=case.beta, label_smoothing=case.epsilon, ipo=False)
        elif case.loss_type == "ipo":
            loss = self.module.DPOLoss(beta=case.beta, label_smoothing=0.0, ipo=True)
        else:
            raise Unreachable(f"OpenRLHF's DPOLoss has no {case.loss_type} loss")
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
            per_pair_name="losses",
            capture=LocalsAtReturn(self.module.DPOLoss.forward),
        )
