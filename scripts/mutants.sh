#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the maths modules, the fixture generator and `check`:
# every mutant the test suite does not catch must be listed in scripts/mutants-survivors.md as
# equivalent or message-only, with the reason. Too long for CI (see that file for the measured
# times); run it on a quiet machine.
#
#   scripts/mutants.sh                      # every file below, the whole test suite per mutant
#   scripts/mutants.sh --file src/reward.rs # one file (the arguments replace the file list)
#   JOBS=4 scripts/mutants.sh               # parallel builds (each needs its own copy of target/)
#
# Needs cargo-mutants (`cargo install --locked cargo-mutants`); results land in mutants.out/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
    exit 2
fi

FILES=(
    --file 'src/loss/*.rs'
    --file src/partition.rs
    --file src/reward.rs
    --file src/preference.rs
    --file src/dpo.rs
    --file src/fixtures/generate.rs
    --file 'src/fixtures/gen_*.rs'
    --file src/fixtures/certify.rs
    --file src/fixtures/check.rs
)
if [ "$#" -gt 0 ]; then
    FILES=("$@")
fi

export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20231129}"
exec cargo mutants --jobs "${JOBS:-1}" --timeout "${TIMEOUT:-600}" "${FILES[@]}"
