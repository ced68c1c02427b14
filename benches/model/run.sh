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

# Best of RUNS: wall-clock and CPU (user + sys, children included) milliseconds. On a
# shared machine the CPU figure is the steadier one.
best_ms() {
  local best="" best_cpu=""
  for _ in $(seq "$RUNS"); do
    local t wall cpu
    t=$( { TIMEFORMAT='%R %U %S'; time bash -c "$1" >/dev/null 2>&1; } 2>&1 )
    wall=$(awk -v r="${t%% *}" 'BEGIN { printf "%d", r * 1000 }')
    cpu=$(echo "$t" | awk '{ printf "%d", ($2 + $3) * 1000 }')
    if [ -z "$best" ] || [ "$wall" -lt "$best" ]; then best=$wall; fi
    if [ -z "$best_cpu" ] || [ "$cpu" -lt "$best_cpu" ]; then best_cpu=$cpu; fi
  done
  echo "$best $best_cpu"
}

results=()
cpus=()
for i in "${!cmds[@]}"; do
  bash -c "${cmds[$i]}" # warm the page cache
  read -r w c < <(best_ms "${cmds[$i]}")
  results+=("$w")
  cpus+=("$c")
done

total=${results[3]}
# The named baseline: the goldenpath-style Python pipeline when PyYAML is there, else cat.
base_i=0
base_name="cat"
if [ "$have_pyyaml" = 1 ]; then base_i=4; base_name="python"; fi
base=${results[$base_i]}
printf '\n%d scripts, best of %d runs, %s cores\n\n' "$N" "$RUNS" "$(nproc)"
printf '| %-34s | %9s | %8s | %-12s |\n' "what" "wall (ms)" "cpu (ms)" "wall vs $base_name"
printf '|%s|%s|%s|%s|\n' "------------------------------------" "----------:" "---------:" "-------------:"
for i in "${!names[@]}"; do
  ratio=$(awk -v a="${results[$i]}" -v b="$base" 'BEGIN { if (b == 0) b = 1; printf "%.2fx", a / b }')
  printf '| %-34s | %9s | %8s | %12s |\n' "${names[$i]}" "${results[$i]}" "${cpus[$i]}" "$ratio"
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
