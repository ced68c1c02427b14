#!/usr/bin/env bash
# The gate's peers: the musl target and C compiler for the static binary, hyperfine for
# the start-up benchmark, act (from tests/requirements/gate.txt) for the end-to-end test.
set -euo pipefail

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  rustup target add x86_64-unknown-linux-musl >/dev/null
fi

missing=()
command -v musl-gcc >/dev/null || missing+=(musl-tools)
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v git >/dev/null || missing+=(git)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
