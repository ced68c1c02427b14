#!/usr/bin/env bash
# Runs inside an act job (ACTIONS_RUNTIME_TOKEN / ACTIONS_RESULTS_URL point at act's
# artifact server): upload once, then time both clients downloading the same artifact.
set -euo pipefail
work=$1 bin=$2 js=$3 here=$(cd "$(dirname "$0")" && pwd)
"$bin" upload --path "$work/proofs" --name bench >/dev/null 2>&1
sync
LABEL=download-proofgate python3 "$here/measure.py" "$work/times" -- "$bin" download --name bench --path "$work/dl-pg"
cd "$js"
sync
LABEL=download-official python3 "$here/measure.py" "$work/times" -- node client.mjs download bench "$work/dl-js"
diff -r "$work/proofs" "$work/dl-pg" >/dev/null
diff -r "$work/proofs" "$work/dl-js" >/dev/null
echo "downloads identical" >&2
