#!/usr/bin/env bash
# Runs the registry with embedded defaults: SQLite, local tarball storage, local
# bare git repositories and the project's stand-in compiler (as purs-0_15_15),
# all under DATA (default: .registry-data in the repository). The first run
# seeds the repositories from ../shared/data/registry-snapshot when it exists.
# Stop with Ctrl-C (SIGTERM/SIGINT stop it cleanly). Extra arguments go to
# `registry serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data="${REGISTRY_DATA_DIR:-$PWD/.registry-data}"
cargo build --release --locked -p registry -p purs-standin
mkdir -p "$data/compilers"
ln -sf "$PWD/target/release/purs-standin" "$data/compilers/purs-0_15_15"
seed=()
snapshot="${REGISTRY_SEED:-../shared/data/registry-snapshot}"
[ -d "$snapshot" ] && seed=(--seed "$snapshot")
./target/release/registry init --data-dir "$data" "${seed[@]}"
echo "registry: serving $data (stand-in compiler 0.15.15; storage at /<name>/<version>.tar.gz)"
exec ./target/release/registry serve --data-dir "$data" --compilers "$data/compilers" "$@"
