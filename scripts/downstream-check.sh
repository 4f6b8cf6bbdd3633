#!/usr/bin/env bash
# Checks the README's dev-dependency story from a registry copy of the crate: packages the crate
# (`cargo package`, the .crate a registry would serve), unpacks it into a temporary folder,
# and builds a scratch downstream crate whose test depends on the unpacked copy (not this
# source tree), loads a bundled fixture with `Fixture::bundled` and checks its own DPO loss
# against it, as the README shows. Offline: everything comes from the local registry cache
# that building this crate filled, with the versions of its Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
echo "== cargo package (dpo-oracle $version)"
# --allow-dirty: the check packages the working tree as it is (a clean clone in CI).
cargo package --no-verify --locked --allow-dirty --offline
crate="target/package/dpo-oracle-$version.crate"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar xzf "$crate" -C "$work"
unpacked="$work/dpo-oracle-$version"
[ -d "$unpacked/fixtures/schema" ] || { echo "the package lacks fixtures/schema" >&2; exit 1; }
[ ! -e "$unpacked/tests" ] || { echo "the package ships tests/" >&2; exit 1; }
# docs.rs builds the package with the rustdoc-args of [package.metadata.docs.rs].
[ -f "$unpacked/docs/katex-header.html" ] || { echo "the package lacks the KaTeX header" >&2; exit 1; }

mkdir -p "$work/downstream/src" "$work/downstream/tests"
cat > "$work/downstream/Cargo.toml" <<EOF
[package]
name = "downstream"
version = "0.0.0"
edition = "2021"
publish = false

[dev-dependencies]
dpo-oracle = { path = "$unpacked" }

[workspace]
EOF
# The package's own lock file pins the dependencies to the versions built here.
cp "$unpacked/Cargo.lock" "$work/downstream/Cargo.lock"
echo '//! A crate with a DPO trainer of its own.' > "$work/downstream/src/lib.rs"
cat > "$work/downstream/tests/fixtures.rs" <<'EOF'
//! The README's example, run from a crate that depends on dpo-oracle as published.

mod my_trainer {
    pub struct Output {
        pub loss: f64,
    }

    /// The mean over pairs of $-\log\sigma(\beta z)$, $z$ the chosen minus the rejected
    /// log-ratio, as $\operatorname{softplus}(-\beta z)$.
    pub fn dpo_loss(beta: f64, pc: &[f64], pr: &[f64], rc: &[f64], rr: &[f64]) -> Output {
        let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        let n = pc.len() as f64;
        let total: f64 = (0..pc.len())
            .map(|i| softplus(-beta * ((pc[i] - rc[i]) - (pr[i] - rr[i]))))
            .sum();
        Output { loss: total / n }
    }
}

#[test]
fn bundled_fixture_checks_a_trainer() -> Result<(), Box<dyn std::error::Error>> {
    let file = dpo_oracle::fixtures::Fixture::bundled("dpo_sigmoid_test.json")?;
    let mut checked = 0;
    for (group, case) in file.valid_cases().filter(|(g, _)| g.convention == "trl-0.29") {
        let x = case.pair_inputs()?;
        let out = my_trainer::dpo_loss(group.params.beta.unwrap_or(0.1), &x.policy_chosen_logps, &x.policy_rejected_logps, &x.reference_chosen_logps, &x.reference_rejected_logps);
        assert!(group.tolerance().accepts(out.loss, case.pair_expected()?.loss), "tcId {}", case.tc_id);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} cases checked");
    // The fixtures read are the packaged copy's, not a source tree's.
    let unpacked = std::env::var("DPO_ORACLE_UNPACKED")?;
    let bundled = std::path::Path::new(dpo_oracle::fixtures::BUNDLED_DIR);
    assert_eq!(bundled.canonicalize()?, std::path::Path::new(&unpacked).join("fixtures").canonicalize()?);
    println!("{checked} cases of the packaged dpo_sigmoid_test.json checked from {}", bundled.display());
    Ok(())
}
EOF

echo "== the downstream crate's test, against the unpacked package"
(cd "$work/downstream" && DPO_ORACLE_UNPACKED="$unpacked" CARGO_TARGET_DIR="$root/target" \
    cargo test --offline --test fixtures -- --nocapture)
