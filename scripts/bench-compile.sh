#!/usr/bin/env bash
# Benchmark (issue 3): compiles the generated sources of the newest package set in
# ../shared/data/registry-snapshot with the stand-in compiler, from scratch and
# again after one package changes version. Prints modules compiled and wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot="${1:-../shared/data/registry-snapshot}"
cargo build -q --release --locked -p purs-standin -p registry-workload --example write_set
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
./target/release/examples/write_set "$snapshot" "$work"
purs="$PWD/target/release/purs-standin"
run() {
  local label="$1" start end
  start=$(date +%s.%N)
  (cd "$work" && "$purs" compile 'packages/**/*.purs' --json-errors >"$work/out.json" 2>"$work/progress.txt")
  end=$(date +%s.%N)
  printf '%-28s %6d modules compiled  %7.3f s\n' "$label" "$(grep -c 'Compiling' "$work/progress.txt" || true)" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
}
echo "modules in the set: $(find "$work/packages" -name '*.purs' | wc -l)"
run "clean build"
run "no-op rebuild"
./target/release/examples/write_set "$snapshot" "$work" --change-one
run "one package changed"
