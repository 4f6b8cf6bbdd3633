#!/usr/bin/env bash
# Builds (here, in release) the CUDA cross-check tests and the GPU benchmark against the
# link-time driver stub, copies them into .gpu/ at the repository root (ignored by git) with a
# runner script, and prints the one command to run on a machine with a GPU and its driver.
#
# The binaries record only `NEEDED libcuda.so.1` (no rpath): there the real driver is loaded.
# Do not carry the stub library there, nor put it on LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/cuda-stub.sh)"
export CUDA_LIBRARY_PATH

executable() {  # the executable cargo reports for one target of a --no-run build
    grep -o '"executable":"[^"]*"' | sed 's/^"executable":"//; s/"$//' | tail -n 1
}
tests=$(cargo test --release --locked --features cuda --test cuda --no-run --message-format=json | executable)
bench=$(cargo bench --locked --features cuda --bench gpu --no-run --message-format=json | executable)

out=.gpu
mkdir -p "$out"
cp "$tests" "$out/cuda-tests"
cp "$bench" "$out/gpu-bench"
for bin in "$out/cuda-tests" "$out/gpu-bench"; do
    if readelf -d "$bin" | grep -qE 'RPATH|RUNPATH'; then
        echo "gpu-check: $bin has an rpath; refusing (it could load the stub)" >&2
        exit 1
    fi
done
cat >"$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the CUDA cross-check against the CPU oracle, then the bandwidth benchmark. Prints a
# pass/fail line and the bandwidth table last. Logs also go to $OUT when that is set.
logs=$(cd "${OUT:-$(dirname "$0")}" && pwd)
cd "$(dirname "$0")"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv,noheader || true
./cuda-tests --test-threads=1 --nocapture >"$logs/cuda-tests.log" 2>&1
tests=$?
tail -n 40 "$logs/cuda-tests.log"
./gpu-bench >"$logs/gpu-bench.log" 2>&1
bench=$?
grep -v '^|' "$logs/gpu-bench.log" | tail -n 30
# Here a skip means the driver or the device was not usable: that is a failure, not a pass.
if grep -q 'SKIP' "$logs/cuda-tests.log"; then tests=skipped; fi
if grep -q '^SKIP' "$logs/gpu-bench.log"; then bench=skipped; fi
echo
echo "== cross-check: $([ "$tests" = 0 ] && echo PASS || echo "FAIL ($tests)"): $(grep '^test result:' "$logs/cuda-tests.log" | tail -n 1)"
grep -E 'largest error|SKIP|panicked' "$logs/cuda-tests.log" | sed 's/^/   /'
echo "== benchmark: $([ "$bench" = 0 ] && echo ran || echo "FAILED ($bench)")"
grep '^|' "$logs/gpu-bench.log"
grep -E '^gpu bench' "$logs/gpu-bench.log"
[ "$tests" = 0 ] && [ "$bench" = 0 ]
RUN
chmod +x "$out/run.sh"
du -sh "$out" >&2
echo "Built. On the GPU machine, from the repository root (with .gpu/ copied there), run:"
echo "    bash .gpu/run.sh"
