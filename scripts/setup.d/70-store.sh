#!/usr/bin/env bash
# The evidence store's peers: PostgreSQL 15 (Debian's `postgresql`; scripts/pg.sh starts a
# throwaway cluster from its binaries, the packaged service is not used) and headless
# Chromium (Debian's `chromium`) with fonts for the page's screenshots.
set -euo pipefail

missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
