#!/usr/bin/env bash
# Benchmark: `proofgate lint` + `proofgate matrix` on a generated repository of 20,000
# scripts (target ≤ 1 s for both together), against two baselines measured in the same
# run: reading every script once (`cat`, the I/O floor) and the goldenpath-style Python
# pipeline (regex + PyYAML + matrix, benches/model/baseline.py).
#
#   bash benches/model/run.sh          # quick: 2,000 scripts, 3 runs
#   bash benches/model/run.sh --full   # 20,000 scripts, 10 runs (the README figures)
set -euo pipefail
cd "$(dirname "$0")/../.."

N=2000
RUNS=3
if [ "${1:-}" = "--full" ]; then
  N=20000
  RUNS=10
fi
REPO="target/bench-model/repo-$N"
BIN="target/release/proofgate"

echo "building release binary…" >&2
cargo build --release --quiet --bin proofgate

if [ ! -f "$REPO/.done" ]; then
  echo "generating $N scripts under $REPO…" >&2
  rm -rf "$REPO"
  mkdir -p "$REPO"
  python3 benches/model/gen.py "$REPO" "$N"
  touch "$REPO/.done"
fi

have_pyyaml=0
if python3 -c 'import yaml' 2>/dev/null; then have_pyyaml=1; fi

# Sanity: the generated repository lints clean.
"$BIN" --root "$REPO" lint >/dev/null

names=("cat every script (I/O floor)" "proofgate lint" "proofgate matrix" "proofgate lint + matrix")
cmds=(
  "find $REPO/scripts -type f -print0 | xargs -0 cat > /dev/null"
  "$BIN --root $REPO lint > /dev/null"
  "$BIN --root $REPO matrix > /dev/null"
  "$BIN --root $REPO lint > /dev/null && $BIN --root $REPO matrix > /dev/null"
)
if [ "$have_pyyaml" = 1 ]; then
  names+=("python goldenpath-style (PyYAML)")
  cmds+=("python3 benches/model/baseline.py $REPO > /dev/null")
else
  echo "note: PyYAML is not installed; the Python baseline is left out (pip install pyyaml)" >&2
fi

# Best of RUNS, in milliseconds.
best_ms() {
  local best=""
  for _ in $(seq "$RUNS"); do
    local s e ms
    s=$(date +%s%N)
    bash -c "$1"
    e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

results=()
for i in "${!cmds[@]}"; do
  bash -c "${cmds[$i]}" # warm the page cache
  results+=("$(best_ms "${cmds[$i]}")")
done

total=${results[3]}
# The named baseline: the goldenpath-style Python pipeline when PyYAML is there, else cat.
base_i=0
base_name="cat"
if [ "$have_pyyaml" = 1 ]; then base_i=4; base_name="python"; fi
base=${results[$base_i]}
printf '\n%d scripts, best of %d runs, %s cores\n\n' "$N" "$RUNS" "$(nproc)"
printf '| %-34s | %9s | %-12s |\n' "what" "time (ms)" "vs $base_name"
printf '|%s|%s|%s|\n' "------------------------------------" "----------:" "-------------:"
for i in "${!names[@]}"; do
  ratio=$(awk -v a="${results[$i]}" -v b="$base" 'BEGIN { if (b == 0) b = 1; printf "%.2fx", a / b }')
  printf '| %-34s | %9s | %12s |\n' "${names[$i]}" "${results[$i]}" "$ratio"
done
echo
if [ "$N" = 20000 ]; then
  if [ "$total" -le 1000 ]; then
    echo "target met: lint + matrix ${total} ms ≤ 1000 ms"
  else
    echo "target missed: lint + matrix ${total} ms > 1000 ms"
    exit 1
  fi
fi
