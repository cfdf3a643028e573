#!/usr/bin/env bash
# Runs the registry with embedded defaults. Until the server lands this verifies
# the real registry's data (../shared/data/registry-snapshot) with the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data="${1:-../shared/data/registry-snapshot}"
cargo build --release --locked -p registry
exec ./target/release/registry verify-data "$data"
