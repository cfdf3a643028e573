#!/usr/bin/env bash
# Installs what the project needs on a fresh machine of the `rust` kind.
# Idempotent: does nothing that is already done.
set -euo pipefail

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v cc >/dev/null || need_apt+=(gcc)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)  # transfer tests sign with real keys
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# A real S3-compatible server for the S3 storage test (which skips without it).
if ! command -v moto_server >/dev/null && command -v pip >/dev/null; then
  echo "setup: installing moto[server] from PyPI"
  pip install -q 'moto[server]' || echo "setup: moto not installed; the S3 test will be skipped"
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# git refuses to commit without an identity; tests create real repositories.
git config --global user.name >/dev/null 2>&1 || git config --global user.name "registry-dev"
git config --global user.email >/dev/null 2>&1 || git config --global user.email "registry-dev@localhost"
