#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine: Rust components and
# targets, the Python verifiers and peers, the npm peers. Idempotent; every area of the
# project adds its own step as scripts/setup.d/NN-name.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "setup: rust components" >&2
rustup component add rustfmt clippy >/dev/null 2>&1 || true
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

for req in tests/requirements/*.txt; do
  [ -e "$req" ] || continue
  echo "setup: python packages ($req)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$req"
done

for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "setup: $step" >&2
  bash "$step"
done
