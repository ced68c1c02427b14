#!/usr/bin/env bash
# benches/run.sh (its quick mode runs in scripts/test.sh): python3 for the row table and
# check (benches/rows.py), bc for timings, hyperfine for the verify bench. The benches'
# other peers come from the areas' own steps: node and act (20-artifact.sh), PyYAML and
# cryptography (tests/requirements/gate.txt); the JUnit bench makes its own venv.
set -euo pipefail

missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v bc >/dev/null || missing+=(bc)
command -v hyperfine >/dev/null || missing+=(hyperfine)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
