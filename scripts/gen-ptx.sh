#!/usr/bin/env bash
# Regenerates the committed PTX (src/cuda/kernels/*.ptx) from the CUDA C sources beside it with
# a pinned nvcc (13.0, from PyPI wheels, in a virtual environment under target/). The driver of
# the GPU machines accepts PTX ISA up to 9.0, which is what nvcc 13.0 writes; compute_75 keeps the
# PTX loadable on any GPU from Turing on (the driver compiles it for the GPU at module load).
#
# Usage: scripts/gen-ptx.sh           write src/cuda/kernels/*.ptx
#        scripts/gen-ptx.sh --check   fail if the committed PTX differs from a fresh generation,
#                                     or if ptxas -arch=sm_90 (the H200's) rejects it or spills
#        scripts/gen-ptx.sh --ptxas   also print ptxas -arch=sm_90 -v (registers, spills)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/nvcc-13.0
pins="nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-crt==13.0.88"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -m pip freeze 2>/dev/null | grep -q '^nvidia-cuda-nvcc==13.0.88$'; then
    if ! python3 -m venv "$venv"; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins
fi
nvcc=$(ls "$venv"/lib/python3*/site-packages/nvidia/cu13/bin/nvcc)
bin=$(dirname "$nvcc")
command -v "${CXX:-g++}" >/dev/null || { echo "gen-ptx: nvcc needs a host C++ compiler (g++)" >&2; exit 1; }

mode=${1:-write}
src=src/cuda/kernels
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for cu in "$src"/*.cu; do
    name=$(basename "$cu" .cu)
    "$nvcc" -ptx -arch=compute_75 -std=c++17 -o "$tmp/$name.ptx" "$cu"
    case "$mode" in
    --check)
        if ! cmp -s "$tmp/$name.ptx" "$src/$name.ptx"; then
            echo "gen-ptx: $src/$name.ptx is not the PTX of $cu (run scripts/gen-ptx.sh)" >&2
            status=1
        fi
        # Assemble for sm_90 as the driver's JIT will: PTX it rejects, or register spills
        # (local-memory traffic in a memory-bound kernel), fail the check.
        if ! "$bin/ptxas" -arch=sm_90 -v "$tmp/$name.ptx" -o /dev/null >"$tmp/$name.ptxas" 2>&1; then
            cat "$tmp/$name.ptxas" >&2
            echo "gen-ptx: ptxas -arch=sm_90 rejects the PTX of $cu" >&2
            status=1
        elif grep -E '[1-9][0-9]* bytes spill (stores|loads)' "$tmp/$name.ptxas" >&2; then
            echo "gen-ptx: a kernel of $cu spills registers on sm_90" >&2
            status=1
        fi
        ;;
    --ptxas)
        cp "$tmp/$name.ptx" "$src/$name.ptx"
        "$bin/ptxas" -arch=sm_90 -v "$src/$name.ptx" -o /dev/null 2>&1 |
            grep -E "Compiling entry|registers|spill" | sed 's/ptxas info    : //'
        ;;
    *) cp "$tmp/$name.ptx" "$src/$name.ptx" ;;
    esac
done
[[ "$mode" == --check && $status == 0 ]] && echo "gen-ptx: committed PTX matches the sources and assembles for sm_90 without spills"
exit $status
