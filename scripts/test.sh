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
# The registry's HTTP suites and the server's in-process suites again, every store on
# Postgres (a cluster the tests start themselves; issue #13: the API suite passes
# against Postgres too).
REGISTRY_TEST_DATABASE=postgres cargo test --locked -p registry \
  --test api --test docs_repair --test executor --test hardening --test hung_compiler \
  --test matrix --test package_set_daily --test package_set_update --test publish \
  --test publish_crash --test transfer
REGISTRY_TEST_DATABASE=postgres cargo test --locked -p registry-server \
  --test after_failure --test api_internal --test dashboard --test new_compiler --test package_set --test readonly
