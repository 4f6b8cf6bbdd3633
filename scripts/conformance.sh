#!/usr/bin/env bash
# Conformance: run the DPO trainers' own loss code (installed from PyPI at pinned versions) on the
# fixtures and write conformance/REPORT.md and conformance/report.json.
#
#   scripts/conformance.sh               install what is missing, run, rewrite the report
#   scripts/conformance.sh --check       run and fail if a class (a) failure remains or the
#                                        committed report differs from this run (writes nothing)
#   scripts/conformance.sh --self-check  the harness must catch a perturbed fixture value and
#                                        report a missing peer as "not run"
#
# Installs under ${XDG_CACHE_HOME:-$HOME/.cache}/dpo-oracle/conformance (override with
# DPO_CONFORMANCE_CACHE): a venv with the pinned base (requirements/base.txt: CPU-capable torch,
# transformers, ...), and one `pip install --target` folder per peer version
# (requirements/<peer>.txt, installed without dependency resolution so the pins are exact).
# An existing folder is reused when its pins are unchanged. Needs python3 (3.10+) and network
# access to PyPI on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="${DPO_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpo-oracle/conformance}"
REQ="$ROOT/conformance/requirements"
PY="$CACHE/venv/bin/python"
mkdir -p "$CACHE/peers"

stamp_ok() { # folder, requirements file: installed from exactly these pins?
    [ -f "$1/.pins" ] && cmp -s "$1/.pins" "$2"
}

if ! stamp_ok "$CACHE/venv" "$REQ/base.txt"; then
    echo "== base venv (torch and shared dependencies)" >&2
    rm -rf "$CACHE/venv"
    python3 -m venv "$CACHE/venv"
    "$PY" -m pip install -q --disable-pip-version-check -r "$REQ/base.txt"
    cp "$REQ/base.txt" "$CACHE/venv/.pins"
fi

for req in "$REQ"/*.txt; do
    name=$(basename "$req" .txt)
    [ "$name" = base ] && continue
    dir="$CACHE/peers/$name"
    stamp_ok "$dir" "$req" && continue
    echo "== $name" >&2
    rm -rf "$dir"
    if [ "${name%%-*}" = openrlhf ]; then
        # Not installable without CUDA packages: fetch the wheel alone and unpack its sources.
        wheels="$CACHE/wheels/$name"
        mkdir -p "$wheels"
        "$PY" -m pip download -q --disable-pip-version-check --no-deps -r "$req" -d "$wheels"
        "$PY" - "$wheels" "$dir" <<'EOF'
import glob, os, sys, zipfile
wheels, dest = sys.argv[1:]
(wheel,) = glob.glob(os.path.join(wheels, "*.whl"))
with zipfile.ZipFile(wheel) as z:
    for member in z.namelist():
        parts = member.split("/")
        if len(parts) > 3 and parts[1] == "purelib":  # NAME.data/purelib/openrlhf/...
            target = os.path.join(dest, *parts[2:])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(z.read(member))
EOF
    else
        "$PY" -m pip install -q --disable-pip-version-check --no-deps --target "$dir" -r "$req"
    fi
    cp "$req" "$dir/.pins"
done

run() {
    PYTHONPATH="$ROOT/conformance" "$PY" -m dpo_conformance --cache "$CACHE" --python "$PY" "$@"
}

case "${1:-}" in
--check)
    run --fixtures "$ROOT/fixtures" --out "$ROOT/conformance" --check
    ;;
--self-check)
    PYTHONPATH="$ROOT/conformance" "$PY" -m dpo_conformance.selfcheck \
        --fixtures "$ROOT/fixtures" --cache "$CACHE" --python "$PY"
    ;;
"")
    run --fixtures "$ROOT/fixtures" --out "$ROOT/conformance"
    ;;
*)
    echo "usage: scripts/conformance.sh [--check | --self-check]" >&2
    exit 2
    ;;
esac
