"""Comparing a peer's outputs with a case's expected values, and classifying each failure.

Classes (the report's vocabulary):

* (a) `crate-model`: the fixture's convention does not describe what the named peer computes.
  The crate's model is wrong; none may remain.
* (b) `peer-bug`: the fixture is right and the peer is wrong; the failure belongs to a named bug
  class (below) with the versions affected.
* (c) `precision-only`: the peer computes a stated quantity in float32; the difference is within
  the f32 tier's tolerance for that quantity.
"""

import math

from .fixtures import accepts, num

# f32 tier tolerance used by precision-only rules: 16 u of f32 relative, and an absolute floor of
# 4 u of f32 on values of order one (the fixture files' f32 groups use the same construction).
F32_TOL = {"rtol": 16 * 2.0**-24, "atol": 4 * 2.0**-24}

def _has_nan(v):
    values = v if isinstance(v, list) else [v]
    return any(math.isnan(num(x)) for x in values if isinstance(x, (int, float, str)))


# Named peer-bug classes: key -> (description, predicate on (peer id, family file, failing fields, outputs)).
PEER_BUGS = {
    "discopop-exp-overflow": (
        "DiscoPOP's exp(-z) overflows to infinity at very negative margins and is multiplied by a "
        "sigmoid weight of 0: loss and gradient NaN where the exact value is finite",
        lambda peer, file, fails, out: file == "discopop_test.json" and any(_has_nan(v["peer"]) for v in fails.values()),
    ),
}

# Precision-only rules: key -> (description, peers (id prefixes), families, fields, tolerance that
# bounds the stated precision effect).
PRECISION_ONLY = {
    "exo-epsilon-f32": (
        "exo_pair builds epsilon as a float32 tensor (torch.tensor(label_smoothing)), so log(eps) and "
        "log1p(-eps) carry float32 rounding",
        ("trl-0.29", "trl-1.", "liger-kernel"),
        ("exo_pair_test.json",),
        ("loss", "losses", "grad_policy_chosen_logps", "grad_policy_rejected_logps"),
        F32_TOL,
    ),
    "accuracy-f32-mean": (
        "rewards/accuracies is the float32 mean of a float32 0/1 tensor",
        ("trl-",),
        None,
        ("rewards/accuracies",),
        F32_TOL,
    ),
    "ipo-average-before-difference": (
        "TRL 0.28 divides each summed log-prob by its token count before taking the policy - reference "
        "difference (pc/nc - rc/nc); near |log-prob| = 1e4 the difference cancels and carries an f64 "
        "rounding error of about |log-prob|/n u relative to it, beyond the f64 group's tolerance; "
        "bounded here by a relative 1e-10",
        ("trl-0.28",),
        ("ipo_test.json",),
        ("loss", "losses", "grad_policy_chosen_logps", "grad_policy_rejected_logps"),
        {"rtol": 1e-10, "atol": 0.0},
    ),
}


def _as_float(v):
    return v if isinstance(v, float) else num(v)


def tolerance_for(params, field):
    """The group's tolerance, widened for a field the group states a peer computes in float32
    (params "peerFloat32": [{"quantity", "outputs", "tolerance"}]): the larger atol and rtol."""
    tol = dict(params["tolerance"])
    for entry in params.get("peerFloat32", []) or []:
        if field in entry.get("outputs", []):
            tol = {k: max(tol[k], float(entry["tolerance"][k])) for k in ("atol", "rtol")}
    return tol


def compare(expected, outputs, params):
    """Per expected field the peer reported: (ok, peer value, expected value). Lists compare
    elementwise, with the group's tolerance for that field."""
    result = {}
    for key, want in expected.items():
        if key not in outputs:
            continue
        got = outputs[key]
        tol = tolerance_for(params, key)
        if isinstance(want, list):
            if not isinstance(got, list) or len(got) != len(want):
                result[key] = (False, got, want)
                continue
            ok = all(accepts(tol, _as_float(g), num(w)) for g, w in zip(got, want))
        else:
            if isinstance(got, list):
                result[key] = (False, got, want)
                continue
            ok = accepts(tol, _as_float(got), num(want))
        result[key] = (ok, got, want)
    return result


def _within(tol, got, want):
    if isinstance(want, list):
        return isinstance(got, list) and all(accepts(tol, _as_float(g), num(w)) for g, w in zip(got, want))
    return not isinstance(got, list) and accepts(tol, _as_float(got), num(want))


def classify(peer_id, file, fails, outputs):
    """(class, bug-class key) of a failing valid case; `fails` maps field -> {peer, expected}."""
    for key, (_, predicate) in PEER_BUGS.items():
        if predicate(peer_id, file, fails, outputs):
            return "b", key
    for key, (_, peers, files, fields, tol) in PRECISION_ONLY.items():
        if not peer_id.startswith(peers) or (files is not None and file not in files):
            continue
        if all(f in fields and _within(tol, v["peer"], v["expected"]) for f, v in fails.items()):
            return "c", key
    return "a", None


INVALID_ACCEPTED = (
    "accepts-invalid-input",
    "the peer computes a value for inputs or parameters a correct implementation rejects "
    "(beta <= 0, an empty batch, non-finite log-probabilities, ...) instead of raising",
)
