"""Run every peer on the fixtures and write the conformance report.

    python -m dpo_conformance --fixtures DIR --cache DIR --python VENV_PYTHON --out DIR
        [--check] [--peers ID,ID] [--files NAME,NAME]

`--check` writes nothing: it fails when a failure of class (a) remains or when the committed
report differs from this run's. Uses only the standard library; each peer runs in its own process
(`dpo_conformance.worker`) under the venv's Python with its own install folder on `sys.path`."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from . import report
from .classify import INVALID_ACCEPTED, classify, compare
from .fixtures import digest, fixture_files, load
from .peerset import PEERS, WITHOUT_PEER

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_peer(entry, args, files_dir):
    target = os.path.join(args.cache, "peers", entry["target"])
    if not os.path.isdir(target):
        return None, f"not installed: {target} is missing (run scripts/conformance.sh)"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([target, HERE])
    env["PYTHONWARNINGS"] = "ignore"
    if entry["peer"] == "openrlhf":
        env["DPO_CONFORMANCE_OPENRLHF_ROOT"] = target
        env["DPO_CONFORMANCE_OPENRLHF_VERSION"] = entry["id"].rsplit("-", 1)[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        cmd = [args.python, "-m", "dpo_conformance.worker", entry["peer"], files_dir, ",".join(entry["conventions"]), out]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.isfile(out):
            tail = [l for l in proc.stderr.strip().splitlines() if l.strip()][-1:] or ["no output"]
            return None, f"not importable or crashed (exit {proc.returncode}): {tail[0][:300]}"
        with open(out) as f:
            return json.load(f), None


def evaluate(fixture_dir, observed_by_peer, peer_status):
    """Turn raw observations into the report's records."""
    records = []
    for name in fixture_files(fixture_dir):
        fixture = load(fixture_dir, name)
        for gi, group in enumerate(fixture["testGroups"]):
            conv = group["convention"]
            entries = [p for p in PEERS if conv in p["conventions"]]
            if not entries:
                reason = WITHOUT_PEER.get(conv, f"no peer is configured for convention {conv}")
                records.append(report.group_not_run(name, gi, group, None, reason))
                continue
            for entry in entries:
                status = peer_status[entry["id"]]
                if status["status"] != "ran":
                    records.append(report.group_not_run(name, gi, group, entry["id"], status["reason"]))
                    continue
                obs = observed_by_peer[entry["id"]]
                for test in group["tests"]:
                    r = obs.get((name, gi, test["tcId"]))
                    records.append(case_record(entry["id"], name, gi, group, test, r))
    return records


def case_record(peer_id, name, gi, group, test, r):
    base = {"peer": peer_id, "file": name, "group": gi, "groupName": group["name"], "tcId": test["tcId"]}
    if r is None or r["status"] == "unreachable":
        return {**base, "outcome": "not run", "reason": (r or {}).get("reason", "no observation")}
    if test["result"] == "invalid":
        if r["status"] == "raised":
            return {**base, "outcome": "passed", "note": "rejected: " + r["error"][:120]}
        return {**base, "outcome": "failed", "class": "b", "bugClass": INVALID_ACCEPTED[0], "fields": {}}
    if r["status"] == "raised":
        return {**base, "outcome": "failed", "class": "a", "bugClass": None, "error": r["error"], "fields": {}}
    cmp = compare(test["expected"], r["outputs"], group["params"])
    fails = {k: {"peer": got, "expected": want} for k, (ok, got, want) in cmp.items() if not ok}
    if not fails:
        return {**base, "outcome": "passed", "fields": sorted(cmp)}
    if test["result"] == "acceptable":
        return {**base, "outcome": "acceptable-differs", "fields": fails}
    cls, bug = classify(peer_id, name, fails, r["outputs"])
    return {**base, "outcome": "failed", "class": cls, "bugClass": bug, "fields": fails}


def run_all(args, fixture_dir, only_peers=None):
    observed, status = {}, {}
    for entry in PEERS:
        if only_peers and entry["id"] not in only_peers:
            status[entry["id"]] = {"status": "not run", "reason": "not selected in this run"}
            continue
        started = time.time()
        raw, why = run_peer(entry, args, fixture_dir)
        took = time.time() - started
        print(f"{entry['id']}: {'ran' if raw else why} ({took:.0f} s)", file=sys.stderr)
        if raw is None:
            status[entry["id"]] = {"status": "not run", "reason": why}
            continue
        status[entry["id"]] = {"status": "ran", "version": raw["version"], "driver": raw["driver"], "torch": raw["torch"]}
        observed[entry["id"]] = {(r["file"], r["group"], r["tcId"]): r for r in raw["results"]}
    return evaluate(fixture_dir, observed, status), status


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--peers")
    args = ap.parse_args(argv)
    only = set(args.peers.split(",")) if args.peers else None
    records, status = run_all(args, args.fixtures, only)
    doc = report.build(records, status, digest(args.fixtures), fixture_files(args.fixtures))
    text_json, text_md = report.render_json(doc), report.render_md(doc)
    crate_wrong = sum(1 for r in records if r.get("class") == "a")
    if args.check:
        ok = True
        path = os.path.join(args.out, "report.json")
        committed = json.load(open(path)) if os.path.isfile(path) else None
        if committed is None or report.verdicts(committed) != report.verdicts(doc):
            # Verdicts, not peer values: a peer's last bits may differ between CPUs.
            print(f"conformance: {path} differs from this run; regenerate with scripts/conformance.sh", file=sys.stderr)
            ok = False
        if crate_wrong:
            print(f"conformance: {crate_wrong} failures of class (a): the crate's model is wrong", file=sys.stderr)
            ok = False
        return 0 if ok else 1
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        f.write(text_json)
    with open(os.path.join(args.out, "REPORT.md"), "w") as f:
        f.write(text_md)
    print(report.one_line(doc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
