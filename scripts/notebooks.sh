#!/usr/bin/env bash
# Executes every teaching notebook in notebooks/ headless with the evcxr Rust kernel and fails
# if any cell's output shows an error, a panic or an `Err` value.
#
#   scripts/notebooks.sh            execute into a temporary folder; also fail if the committed
#                                   outputs (or notebooks/figures/) differ from the fresh run
#   scripts/notebooks.sh --update   the same, then write the fresh outputs over the committed
#                                   notebooks and regenerate notebooks/figures/
#   scripts/notebooks.sh NOTEBOOK…  only the named notebooks
#
# evcxr's kernel answers a panicking cell, or one whose value is an `Err`, like any other, and
# `jupyter nbconvert --execute` exits 0 for them: the outputs are scanned instead
# (scripts/notebooks_scan.py), and a self-test first proves the scan catches both.
#
# Installs what it needs: evcxr_jupyter at a pinned version (`cargo install --locked`, about six
# minutes on two cores, skipped when that version is installed) and Jupyter's nbconvert from
# scripts/notebooks-requirements.txt in a virtual environment cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/dpo-oracle/ (rebuilt when the requirements change).
set -euo pipefail
cd "$(dirname "$0")/.."

EVCXR_VERSION=0.22.0
# Seconds a cell (or the kernel's start, which compiles a first cell) may take: the first cell
# that loads the crate compiles it and its dependencies.
CELL_TIMEOUT_S=1800
# The figure shown in the README: SVG output number FIGURE_INDEX (from 0) of FIGURE_NOTEBOOK.
FIGURE_NOTEBOOK=notebooks/01-optimal-policy.ipynb
FIGURE_INDEX=0
FIGURE=notebooks/figures/optimal-policy-against-beta.svg

update=0
notebooks=()
for arg in "$@"; do
    case "$arg" in
        --update) update=1 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "error: unknown option $arg" >&2; exit 2 ;;
        *) notebooks+=("$arg") ;;
    esac
done
if [ ${#notebooks[@]} -eq 0 ]; then
    notebooks=(notebooks/[0-9][0-9]-*.ipynb)
fi
for nb in "${notebooks[@]}"; do
    [ -f "$nb" ] || { echo "error: no notebook $nb" >&2; exit 2; }
done

scan() { python3 scripts/notebooks_scan.py "$@"; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dpo-oracle"
mkdir -p "$cache"
export PATH="$HOME/.cargo/bin:$PATH"

echo "== scanner self-test on synthetic outputs"
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
scan self-test

echo "== evcxr_jupyter $EVCXR_VERSION"
installed=$(cargo install --list | sed -n 's/^evcxr_jupyter v\(.*\):$/\1/p')
if [ "$installed" != "$EVCXR_VERSION" ] || ! command -v evcxr_jupyter >/dev/null; then
    echo "installing evcxr_jupyter $EVCXR_VERSION (found: ${installed:-none})"
    cargo install --locked --version "$EVCXR_VERSION" evcxr_jupyter
fi

echo "== Jupyter nbconvert (pinned, virtual environment)"
requirements=scripts/notebooks-requirements.txt
venv="$cache/notebooks-venv"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/jupyter" ] || [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$want" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$venv/requirements.sha256"
fi
"$venv/bin/jupyter" nbconvert --version

echo "== register the evcxr kernel"
evcxr_jupyter --install >/dev/null
"$venv/bin/jupyter" kernelspec list | grep -q '^ *rust ' \
    || { echo "error: the kernel 'rust' is not registered" >&2; exit 1; }

# Every notebook builds in one evcxr folder, so the crate and its dependencies are compiled by
# the first notebook and reused by the others (and by the next run on this machine). The
# crate's Cargo.lock seeds it, so the notebooks build against the versions the tests use.
export EVCXR_TMPDIR="$cache/evcxr-build"
mkdir -p "$EVCXR_TMPDIR"
[ -f "$EVCXR_TMPDIR/Cargo.lock" ] || cp Cargo.lock "$EVCXR_TMPDIR/Cargo.lock"
# evcxr links each cell against the toolchain's libstd through a relative run path computed
# for the cargo output folder, one level below where evcxr moves the library; it resolves only
# when the build folder shares no leading directory with the toolchain (as under /tmp). The
# library path makes it resolve wherever the folder is.
LD_LIBRARY_PATH="$(rustc --print target-libdir)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
export RUST_BACKTRACE=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

execute() { # NOTEBOOK: executes it into $out (its own folder is the kernel's working directory)
    "$venv/bin/jupyter" nbconvert --to notebook --execute --allow-errors \
        --ExecutePreprocessor.timeout="$CELL_TIMEOUT_S" \
        --ExecutePreprocessor.startup_timeout="$CELL_TIMEOUT_S" --ExecutePreprocessor.kernel_name=rust \
        --ExecutePreprocessor.record_timing=False \
        --output-dir "$out" --log-level WARN "$1"
}

echo "== the scan catches a panicking cell and an Err cell of the real kernel"
mkdir -p "$out/self-test"
python3 - "$out/self-test/deliberate-failures.ipynb" <<'EOF'
import json, sys
sources = ['let beta = -0.1_f64;\nassert!(beta > 0.0, "beta = {beta} must be positive");',
           'let r: Result<f64, String> = Err("beta must be positive".into());\nr']
cells = [{"cell_type": "code", "id": "c%d" % i, "metadata": {}, "execution_count": None,
          "outputs": [], "source": s} for i, s in enumerate(sources)]
nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
      "metadata": {"kernelspec": {"name": "rust", "display_name": "Rust", "language": "rust"}}}
json.dump(nb, open(sys.argv[1], "w"))
EOF
execute "$out/self-test/deliberate-failures.ipynb" >"$out/self-test/log" 2>&1 || true
if [ ! -f "$out/deliberate-failures.ipynb" ]; then
    cat "$out/self-test/log" >&2
    echo "error: the kernel did not execute the self-test notebook" >&2
    exit 1
fi
report=$(scan scan "$out/deliberate-failures.ipynb" || true)
for cell in "cell 0: .*panic" "cell 1: .*Err"; do
    if ! grep -q "$cell" <<<"$report"; then
        echo "$report" >&2
        echo "error: the scan missed a deliberate failure ($cell)" >&2
        exit 1
    fi
done
echo "a panicking cell and an Err cell: both caught"
rm "$out/deliberate-failures.ipynb"

failed=0
for nb in "${notebooks[@]}"; do
    name=$(basename "$nb")
    echo "== $nb"
    start=$SECONDS
    execute "$nb" || { echo "error: nbconvert failed on $nb" >&2; failed=1; continue; }
    echo "executed in $((SECONDS - start)) s"
    scan scan "$out/$name" || failed=1
    if [ "$update" = 1 ]; then
        cp "$out/$name" "$nb"
    else
        scan compare "$out/$name" "$nb" || failed=1
    fi
done

for nb in "${notebooks[@]}"; do
    [ "$nb" = "$FIGURE_NOTEBOOK" ] || continue
    fresh="$out/$(basename "$FIGURE_NOTEBOOK")"
    [ -f "$fresh" ] || continue
    if [ "$update" = 1 ]; then
        scan svg "$fresh" "$FIGURE_INDEX" "$FIGURE" || failed=1
    else
        scan same-svg "$fresh" "$FIGURE_INDEX" "$FIGURE" || failed=1
    fi
done

if [ "$failed" != 0 ]; then
    echo "notebooks: FAILED" >&2
    exit 1
fi
echo "notebooks: ${#notebooks[@]} executed, every output clean"
