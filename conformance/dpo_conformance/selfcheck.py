"""The harness checks itself.

1. A fixture value changed by a relative 1e-9 (far beyond any f64 tolerance) in a temporary copy
   must make exactly that case fail, while the untouched cases of its group pass.
2. A peer whose install folder is missing, and one whose package raises on import, must be
   reported as "not run" with the reason, and none of their cases as passed.

    python -m dpo_conformance.selfcheck --fixtures DIR --cache DIR --python VENV_PYTHON
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from types import SimpleNamespace

from .__main__ import run_all

FAMILY = "dpo_sigmoid_test.json"
PEER = "trl-0.28.0"


def perturbed_copy(fixture_dir, tmp):
    with open(os.path.join(fixture_dir, FAMILY)) as f:
        fixture = json.load(f)
    group = next(g for g in fixture["testGroups"] if g["convention"] == "trl-0.28" and g["name"] == "typical/f64")
    test = group["tests"][0]
    test["expected"]["loss"] = test["expected"]["loss"] * (1 + 1e-9)
    with open(os.path.join(tmp, FAMILY), "w") as f:
        json.dump(fixture, f)
    return test["tcId"], group["name"]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--python", required=True)
    a = ap.parse_args(argv)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fx = os.path.join(tmp, "fixtures")
        os.makedirs(fx)
        tc, group_name = perturbed_copy(a.fixtures, fx)
        args = SimpleNamespace(cache=a.cache, python=a.python)
        records, status = run_all(args, fx, {PEER})
        mine = [r for r in records if r["peer"] == PEER and r["groupName"] == group_name]
        hit = [r for r in mine if r["tcId"] == tc]
        if status[PEER]["status"] != "ran":
            problems.append(f"{PEER} did not run: {status[PEER].get('reason')}")
        elif not hit or hit[0]["outcome"] != "failed" or "loss" not in hit[0].get("fields", {}):
            problems.append(f"the perturbed loss of tcId {tc} was not caught: {hit}")
        elif any(r["outcome"] != "passed" for r in mine if r["tcId"] != tc):
            problems.append("untouched cases of the perturbed group did not all pass")
        else:
            print(f"self-check: perturbed loss of {FAMILY} tcId {tc} caught; the rest of its group passed")

        # A missing install folder, then a package that raises on import.
        empty = os.path.join(tmp, "cache")
        os.makedirs(os.path.join(empty, "peers"))
        for label in ("missing", "unimportable"):
            if label == "unimportable":
                pkg = os.path.join(empty, "peers", PEER, "trl")
                os.makedirs(pkg)
                with open(os.path.join(pkg, "__init__.py"), "w") as f:
                    f.write("raise ImportError('deliberately broken for the self-check')\n")
            records, status = run_all(SimpleNamespace(cache=empty, python=a.python), fx, {PEER})
            mine = [r for r in records if r["peer"] == PEER]
            if status[PEER]["status"] != "not run" or not status[PEER].get("reason"):
                problems.append(f"{label} peer not reported as not run: {status[PEER]}")
            elif not mine or any(r["outcome"] != "not run" for r in mine):
                problems.append(f"{label} peer: some cases not reported as not run")
            else:
                print(f"self-check: {label} peer reported as not run ({status[PEER]['reason'][:80]})")
        shutil.rmtree(empty, ignore_errors=True)
    for p in problems:
        print("self-check FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
