#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The binary's `bench` feature only adds the `registry bench` glue (the benchmarks
# themselves are the registry-bench crate, checked and tested above and below).
cargo clippy -p registry --features bench --all-targets --locked -- -D warnings
cargo test --workspace --locked
