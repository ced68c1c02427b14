#!/usr/bin/env bash
# proofgate run / replay / manifest / ledger: git (the bundle's head SHA and diff stat,
# replay's worktree), setsid (util-linux: a test starts a process that leaves the group)
# and bc (the manifest benchmark's arithmetic). pytest and jsonschema come from
# tests/requirements/bundle.txt; cargo-nextest from scripts/setup.sh.
set -euo pipefail

missing=()
command -v git >/dev/null || missing+=(git)
command -v setsid >/dev/null || missing+=(util-linux)
command -v bc >/dev/null || missing+=(bc)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
