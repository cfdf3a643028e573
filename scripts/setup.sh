#!/usr/bin/env bash
# Installs what the project needs on a fresh machine of the `rust` kind.
# Idempotent: does nothing that is already done.
set -euo pipefail

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v cc >/dev/null || need_apt+=(gcc)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# git refuses to commit without an identity; tests create real repositories.
git config --global user.name >/dev/null 2>&1 || git config --global user.name "registry-dev"
git config --global user.email >/dev/null 2>&1 || git config --global user.email "registry-dev@localhost"
