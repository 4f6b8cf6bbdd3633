#!/usr/bin/env bash
# Compiles the kernels' CUDA C for the host (src/cuda/kernels/host/emu.h emulates the CUDA
# built-ins with threads and barriers) and checks them against long-double references on fresh
# random inputs: their indexing, reductions and formulas, on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
"${CXX:-g++}" -std=c++20 -O1 -pthread -o target/kernels-on-host src/cuda/kernels/host/check.cpp
target/kernels-on-host
