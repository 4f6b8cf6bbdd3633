"""One peer, in its own process: run the peer's code on every case of the groups it is named by.

    python -m dpo_conformance.worker PEER FIXTURE_DIR CONVENTION[,CONVENTION] OUT.json

Writes what the peer produced for each case (its outputs, the exception it raised, or why the case
cannot be given to it); comparing with the expected values is the parent's job."""

import json
import math
import sys
import time
import traceback

from .fixtures import fixture_files, load
from .pair import PairCase, Unreachable

DTYPES = {"f64": "float64", "f32": "float32", "bf16": "bfloat16"}


def make_peer(name):
    if name == "trl":
        from .peers.trl import Trl

        return Trl()
    if name == "torchtune":
        from .peers.torchtune import Torchtune

        return Torchtune()
    if name == "openrlhf":
        from .peers.openrlhf import Openrlhf

        return Openrlhf()
    if name == "liger":
        from .peers.liger import Liger

        return Liger()
    raise SystemExit(f"unknown peer {name!r}")


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    return x


def run_case(peer, torch, group, test):
    params = group["params"]
    if group["type"] != "PairLossTest":
        return {"status": "unreachable", "reason": f"the harness does not drive {group['type']} for this peer"}
    dtype = getattr(torch, DTYPES[params["precision"]])
    try:
        case = PairCase.of(params, test["inputs"])
        out = peer.pair_case(case, dtype)
        return {"status": "observed", "outputs": out}
    except Unreachable as e:
        return {"status": "unreachable", "reason": str(e)}
    except Exception as e:  # the peer's own exception: a rejection
        frames = traceback.extract_tb(e.__traceback__)
        where = f"{frames[-1].filename.split('site-packages/')[-1]}:{frames[-1].lineno}" if frames else ""
        return {"status": "raised", "error": f"{type(e).__name__}: {str(e)[:300]}", "where": where}


def main(argv):
    peer_name, fixture_dir, conventions, out_path = argv
    conventions = conventions.split(",")
    started = time.time()
    import torch

    torch.set_num_threads(1)
    peer = make_peer(peer_name)
    results = []
    for name in fixture_files(fixture_dir):
        fixture = load(fixture_dir, name)
        for gi, group in enumerate(fixture["testGroups"]):
            if group["convention"] not in conventions:
                continue
            for test in group["tests"]:
                r = run_case(peer, torch, group, test)
                r.update(file=name, group=gi, tcId=test["tcId"])
                results.append(_json_safe(r))
    with open(out_path, "w") as f:
        json.dump(
            {
                "peer": peer_name,
                "version": peer.version,
                "driver": peer.describe(),
                "torch": torch.__version__,
                "seconds": round(time.time() - started, 1),
                "results": results,
            },
            f,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
