"""TRL's DPOTrainer, driven through a stand-in trainer object.

`object.__new__(DPOTrainer)` gives a trainer without a model, a dataset or an accelerator; the
harness sets the attributes TRL's loss method reads (beta, loss type, label smoothing, the
`DPOConfig` built by TRL itself from the group's parameters) and a stand-in model whose output
carries the fixture's summed policy log-probabilities. Everything after the model's output is
TRL's own code:

* TRL up to 0.28: `get_batch_loss_metrics` -> `concatenated_forward` (prompt/completion layout,
  masking, IPO's token averaging) -> `dpo_loss`. The stand-in model returns one logit per
  position and TRL's `selective_log_softmax` is replaced by reading that logit, so the summed
  log-probability of a response is exactly the fixture's value (the log-softmax itself is what
  `logps_from_logits_test.json` is about).
* TRL 0.29: `_compute_loss`, the same stand-in model and log-softmax replacement.
* TRL 1.x: `_compute_loss` with the fused LM head contract: the stand-in model returns the
  per-token log-probabilities (`log_probs`) directly, so no TRL code is replaced.

Each response is laid out as one prompt token followed by its scored tokens (the fixture's token
count, or 1 where the family has none); the whole log-probability sits on the first scored token.
Per-pair losses and rewards are read from the loss method's locals at its return; the gradient
is autograd's, with respect to the injected policy log-probabilities.
"""

import tempfile
from collections import defaultdict
from types import SimpleNamespace

import torch

from ..capture import LocalsAtReturn
from ..pair import Unreachable, scalar, to_list

METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
)


def _layout(case):
    """Scored-token counts per response (chosen rows then rejected rows), checked for reachability."""
    b = len(case.logps["policy_chosen_logps"])
    if not case.same_length():
        raise Unreachable("arrays of different lengths cannot form one TRL batch (chosen and rejected rows pair up)")
    if b == 0:
        raise Unreachable("an empty batch has no TRL layout")
    cc = case.chosen_counts if case.chosen_counts is not None else [1] * b
    rc = case.rejected_counts if case.rejected_counts is not None else [1] * b
    if len(cc) != b or len(rc) != b:
        raise Unreachable("token counts of a different length than the batch")
    counts = list(cc) + list(rc)
    policy = case.logps["policy_chosen_logps"] + case.logps["policy_rejected_logps"]
    ref = case.logps["reference_chosen_logps"] + case.logps["reference_rejected_logps"]
    for n, lp, rlp in zip(counts, policy, ref):
        if n < 0:
            raise Unreachable("a negative token count")
        if n == 0 and (lp != 0.0 or rlp != 0.0):
            raise Unreachable("a response with no scored token but a non-zero log-probability cannot reach TRL")
    return counts


class Trl:
    name = "trl"

    def __init__(self):
        import trl
        from trl.trainer import dpo_trainer

        self.version = trl.__version__
        self.module = dpo_trainer
        self.cls = dpo_trainer.DPOTrainer
        major_minor = tuple(int(x) for x in self.version.split(".")[:2])
        self.api = "legacy" if major_minor < (0, 29) else ("logits" if major_minor < (1, 0) else "fused")
        self.tmp = tempfile.mkdtemp(prefix="dpo-conformance-trl-")
        self.configs = {}

    def describe(self):
        return {
            "legacy": "get_batch_loss_metrics -> concatenated_forward -> dpo_loss on a stand-in trainer",
            "logits": "_compute_loss on a stand-in trainer (stand-in model, log-softmax read from its output)",
            "fused": "_compute_loss on a stand-in trainer (stand-in model with TRL's fused-LM-head outputs)",
        }[self.api]

    # -- configuration: TRL's own DPOConfig validates the parameters
    def _config(self, case):
        kwargs = dict(
            output_dir=self.tmp,
            beta=case.beta,
            # cDPO is TRL's sigmoid loss with label smoothing
            loss_type="sigmoid" if case.loss_type == "cdpo" else case.loss_type,
            label_smoothing=case.epsilon,
            report_to=[],
            use_cpu=True,
        )
        if case.loss_type == "discopop":
            kwargs["discopop_tau"] = case.tau
        if self.api == "legacy":
            kwargs["reference_free"] = case.reference_free
        elif case.reference_free:
            raise Unreachable(f"TRL {self.version} has no reference-free option")
        key = repr(sorted(kwargs.items()))
        if key not in self.configs:  # one DPOConfig per parameter set (building one is slow)
            try:
                self.configs[key] = self.module.DPOConfig(**kwargs)
            except Exception as e:  # TRL rejects the parameters: raise the same error for each case
                self.configs[key] = e
        config = self.configs[key]
        if isinstance(config, Exception):
            raise config
        return config

    def _trainer(self, case, args):
        tr = object.__new__(self.cls)
        accelerator = SimpleNamespace(
            device=torch.device("cpu"),
            gather_for_metrics=lambda x: x,
            gather=lambda x: x,
            unwrap_model=lambda m: m,
        )
        loss_types = list(args.loss_type) if isinstance(args.loss_type, (list, tuple)) else [args.loss_type]
        common = dict(
            args=args,
            accelerator=accelerator,
            beta=args.beta,
            label_smoothing=args.label_smoothing,
            aux_loss_enabled=False,
            use_weighting=False,
            is_encoder_decoder=False,
        )
        for k, v in common.items():
            setattr(tr, k, v)
        if self.api == "legacy":
            tr.loss_type = loss_types
            tr.loss_weights = getattr(args, "loss_weights", None)
            tr.reference_free = args.reference_free
            tr.f_divergence_type = args.f_divergence_type
            tr.f_divergence_params = {}
            tr.padding_free = False
            tr.pad_token_id = 0
            tr.max_length = None
            tr.use_logits_to_keep = False
            delta = case.bco_delta
            tr.running = SimpleNamespace(update=lambda _r: None, mean=0.0 if delta is None else float(delta))
        else:
            tr.loss_types = loss_types
            tr.loss_weights = list(getattr(args, "loss_weights", None) or [1.0] * len(loss_types))
            tr.f_divergence_type = getattr(args, "f_divergence_type", "reverse_kl")
            tr.f_alpha_divergence_coef = getattr(args, "f_alpha_divergence_coef", 1.0)
            tr.ld_alpha = None
            tr.precompute_ref_logps = True
            tr.use_liger_kernel = False
            tr.model = SimpleNamespace(training=True)
            tr.ref_model = None
            tr._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
            tr._total_train_tokens = 0
            tr._tp_size = 1
        return tr

    def pair_case(self, case, dtype):
        counts = _layout(case)
        args = self._config(case)  # may raise: TRL rejects the parameters
        tr = self._trainer(case, args)
        b = len(counts) // 2
        seq = 1 + max(1, max(counts))
        policy = torch.tensor(
            case.logps["policy_chosen_logps"] + case.logps["policy_rejected_logps"], dtype=torch.float64
        ).to(dtype)
        policy.requires_grad_()
        ref_c = torch.tensor(case.logps["reference_chosen_logps"], dtype=torch.float64).to(dtype)
        ref_r = torch.tensor(case.logps["reference_rejected_logps"], dtype=torch.float64).to(dtype)
        scored = torch.tensor([[1 if 1 <= t <= n else 0 for t in range(seq)] for n in counts], dtype=torch.long)
        carries = torch.tensor([n >= 1 for n in counts])
        if self.api == "legacy":
            loss, per_pair, cr, rr, metrics = self._run_legacy(tr, policy, ref_c, ref_r, scored, carries, b, seq)
        else:
            loss, per_pair, cr, rr, metrics = self._run_compute_loss(tr, policy, ref_c, ref_r, scored, carries, seq)
        loss.backward()
        grad = policy.grad
        out = {
            "loss": scalar(loss),
            "losses": to_list(per_pair),
            "chosen_rewards": to_list(cr),
            "rejected_rewards": to_list(rr),
        }
        # A response with no scored token has a log-probability of 0 that no model output feeds:
        # the trainer has no gradient for it, so the gradient fields are not observed.
        if grad is not None and bool(carries.all()):
            out["grad_policy_chosen_logps"] = to_list(grad[:b])
            out["grad_policy_rejected_logps"] = to_list(grad[b:])
        for k in METRICS:
            if k in metrics:
                out[k] = float(metrics[k])
        return out

    def _logits(self, policy, carries, seq):
        """One logit per position; position 0 (predicting the first scored token) carries the log-prob."""
        logits = torch.zeros(policy.shape[0], seq, 1, dtype=policy.dtype)
        value = torch.where(carries, policy, torch.zeros_like(policy))
        return torch.cat([value.reshape(-1, 1, 1), logits[:, 1:, :]], dim=1)

    def _patched_log_softmax(self):
        module = self.module
        original = module.selective_log_softmax

        def read_logit(logits, index):
            return logits[..., 0].clone()

        class Patch:
            def __enter__(self_inner):
                module.selective_log_softmax = read_logit

            def __exit__(self_inner, *exc):
                module.selective_log_softmax = original
                return False

        return Patch()

    def _run_legacy(self, tr, policy, ref_c, ref_r, scored, carries, b, seq):
        completion = scored[:, 1:]
        batch = {
            "prompt_input_ids": torch.ones(b, 1, dtype=torch.long),
            "prompt_attention_mask": torch.ones(b, 1, dtype=torch.long),
            "chosen_input_ids": torch.ones(b, seq - 1, dtype=torch.long),
            "chosen_attention_mask": completion[:b].clone(),
            "rejected_input_ids": torch.ones(b, seq - 1, dtype=torch.long),
            "rejected_attention_mask": completion[b:].clone(),
        }
        logits = self._logits(policy, carries, seq)
        ref_logits = self._logits(torch.cat([ref_c, ref_r]), carries, seq)

        def model(input_ids, **_kwargs):
            return SimpleNamespace(logits=logits[:, : input_ids.shape[1], :])

        # The reference goes through TRL's own compute_ref_log_probs -> concatenated_forward, as
        # precomputed reference log-probabilities do (so IPO's token averaging applies to both).
        def ref_model(input_ids, **_kwargs):
            return SimpleNamespace(logits=ref_logits[:, : input_ids.shape[1], :])

        tr.ref_model = ref_model
        tr._peft_has_been_casted_to_bf16 = False

        with self._patched_log_softmax(), LocalsAtReturn(self.cls.get_batch_loss_metrics) as cap:
            loss, metrics = tr.get_batch_loss_metrics(model, batch, train_eval="train")
        loc = cap.captured
        return loss, loc["losses"], loc["chosen_rewards"], loc["rejected_rewards"], metrics

    def _run_compute_loss(self, tr, policy, ref_c, ref_r, scored, carries, seq):
        completion_mask = scored
        inputs = {
            "input_ids": torch.ones(policy.shape[0], seq, dtype=torch.long),
            "attention_mask": torch.ones(policy.shape[0], seq, dtype=torch.long),
            "completion_mask": completion_mask,
            "ref_chosen_logps": ref_c,
            "ref_rejected_logps": ref_r,
        }
        if self.api == "fused":
            value = torch.where(carries, policy, torch.zeros_like(policy))
            log_probs = torch.cat([value.reshape(-1, 1), torch.zeros(policy.shape[0], seq - 2, dtype=policy.dtype)], 1)

            def model(**_kwargs):
                zeros = torch.zeros(policy.shape[0], seq - 1, dtype=policy.dtype)
                return SimpleNamespace(
                    log_probs=log_probs,
                    entropy=zeros,
                    mean_logits=zeros,
                    is_top1=torch.zeros(policy.shape[0], seq - 1, dtype=torch.bool),
                )

            patch = _NoPatch()
        else:
            logits = self._logits(policy, carries, seq)

            def model(**_kwargs):
                return SimpleNamespace(logits=logits)

            patch = self._patched_log_softmax()
        with patch, LocalsAtReturn(self.cls._compute_loss) as cap:
            loss = tr._compute_loss(model, inputs, return_outputs=False)
        loc = cap.captured
        metrics = {k: v[-1] for k, v in tr._metrics["train"].items() if v}
        return loss, loc["per_sequence_loss"], loc["chosen_rewards"], loc["rejected_rewards"], metrics


class _NoPatch:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
