#!/usr/bin/env bash
# Peers of tests/proof.rs beyond the Python packages in tests/requirements/proof.txt:
# Debian's OpenSSL (ed25519 keys from `openssl genpkey`, signatures checked with
# `openssl pkeyutl`). Idempotent.
set -euo pipefail

if openssl genpkey -algorithm ed25519 >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi
openssl genpkey -algorithm ed25519 >/dev/null
