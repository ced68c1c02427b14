#!/usr/bin/env bash
# Peers of tests/rerun.rs beyond pytest and cargo-nextest: pytest-randomly, in a venv of its
# own at target/peers/pytest-randomly (pinned in tests/requirements/venv/pytest-randomly.txt).
# Installed beside the other Python packages it would shuffle every pytest run on the
# machine. Idempotent: the venv is rebuilt only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/../.."

req=tests/requirements/venv/pytest-randomly.txt
venv=target/peers/pytest-randomly
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.txt"; then
  exit 0
fi
# Debian's own python3 keeps venv (and its ensurepip) in a package of its own.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && command -v apt-get >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$venv/requirements.txt"
