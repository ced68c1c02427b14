#!/usr/bin/env bash
# Artifact transport peers: the official @actions/artifact client (pinned by the
# lockfile) and the results-service test server's dependencies. `act` comes from PyPI
# (tests/requirements/artifact.txt).
set -euo pipefail
cd "$(dirname "$0")/../../tests/peers/artifact-js"
if [ ! -d node_modules/@actions/artifact ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
fi
