#!/usr/bin/env bash
# Benchmark: `proofgate lint` + `proofgate matrix` on a generated repository of 20,000
# scripts (target ≤ 1 s for both together), against two baselines measured in the same
# run: reading every script once (`cat`, the I/O floor) and the goldenpath-style Python
# pipeline (regex + PyYAML + matrix, benches/model/baseline.py).
#
#   bash benches/model/run.sh --quick  # 500 scripts, 5 rounds (seconds)
#   bash benches/model/run.sh          # 2,000 scripts, 5 rounds
#   bash benches/model/run.sh --full   # 20,000 scripts, 10 rounds (the README figures)
#
# Every round runs each command once, in turn; the tables quote the median round.
# PROOFGATE_BIN=path uses that binary instead of building; BENCH_ROWS=file appends one
# row (lint + matrix against the Python pipeline; target 1 s per 20,000 scripts).
set -euo pipefail
cd "$(dirname "$0")/../.."

N=2000
RUNS=5
case "${1:-}" in
  --quick) N=500 ;;
  --full) N=20000 RUNS=10 ;;
  "") ;;
  *) echo "usage: bash benches/model/run.sh [--quick|--full]" >&2; exit 2 ;;
esac
REPO="target/bench-model/repo-$N"
BIN=${PROOFGATE_BIN:-target/release/proofgate}

if [ -z "${PROOFGATE_BIN:-}" ]; then
  echo "building release binary…" >&2
  cargo build --release --quiet --bin proofgate
fi

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

# RUNS rounds, each command once per round, in turn: wall-clock and CPU (user + sys,
# children included) milliseconds, the median of each. On a shared machine the CPU
# figure is the steadier one.
one_ms() {
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time bash -c "$1" >/dev/null 2>&1; } 2>&1 )
  echo "$t" | awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

times=$(mktemp -d)
trap 'rm -rf "$times"' EXIT
for i in "${!cmds[@]}"; do
  bash -c "${cmds[$i]}" # warm the page cache
done
for _ in $(seq "$RUNS"); do
  for i in "${!cmds[@]}"; do
    one_ms "${cmds[$i]}" >> "$times/$i"
  done
done
results=()
cpus=()
for i in "${!cmds[@]}"; do
  results+=("$(cut -d' ' -f1 "$times/$i" | median)")
  cpus+=("$(cut -d' ' -f2 "$times/$i" | median)")
done

total=${results[3]}
# The named baseline: the goldenpath-style Python pipeline when PyYAML is there, else cat.
base_i=0
base_name="cat"
if [ "$have_pyyaml" = 1 ]; then base_i=4; base_name="python"; fi
base=${results[$base_i]}
printf '\n%d scripts, median of %d rounds, %s cores\n\n' "$N" "$RUNS" "$(nproc)"
printf '| %-34s | %9s | %8s | %-12s |\n' "what" "wall (ms)" "cpu (ms)" "wall vs $base_name"
printf '|%s|%s|%s|%s|\n' "------------------------------------" "----------:" "---------:" "-------------:"
for i in "${!names[@]}"; do
  ratio=$(awk -v a="${results[$i]}" -v b="$base" 'BEGIN { if (b == 0) b = 1; printf "%.2fx", a / b }')
  printf '| %-34s | %9s | %8s | %12s |\n' "${names[$i]}" "${results[$i]}" "${cpus[$i]}" "$ratio"
done
echo
# The target: lint + matrix <= 1 s on 20,000 scripts, scaled by scripts below that size.
limit=$(( 1000 * N / 20000 ))
if [ "$total" -le "$limit" ]; then status=met; else status=missed; fi
echo "target $status: lint + matrix ${total} ms (target ≤ ${limit} ms for $N scripts)"
if [ -n "${BENCH_ROWS:-}" ]; then
  if [ "$N" = 20000 ]; then target="≤ 1 s"; else target="≤ 1 s per 20k scripts"; fi
  awk -v n="$N" -v t="$total" -v b="$base" -v bn="${names[$base_i]}" -v tg="$target" -v st="$status" 'BEGIN {
    if (t == 0) t = 1
    printf "lint + matrix %gk scripts\t%.3f s\t%s %.3f s\t%.2f×\t%s\t%s\n", n / 1000, t / 1000, bn, b / 1000, b / t, tg, st
  }' >> "$BENCH_ROWS"
fi
