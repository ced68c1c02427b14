#!/usr/bin/env bash
# Every benchmark, one table. Runs each bench script with BENCH_ROWS set (one
# tab-separated row per measured target: path, figure, anchor, ratio, target, met|missed),
# then prints the rows as one Markdown table under a line describing the machine.
#
#   bash benches/run.sh [--quick|--full] [--rows FILE] [--check BASELINE]
#
#   --quick          seconds: small inputs (what CI runs)
#   (default)        medium inputs
#   --full           the sizes the targets are stated for (the benches/README.md table)
#   --rows FILE      also write this run's rows to FILE (to refresh a baseline)
#   --check BASELINE compare with a committed table of rows (benches/baseline.tsv holds the
#                    quick one): exit 1 only when a ratio is worse by more than 2×
#                    (ratio_now < ratio_baseline / 2)
#
# A bench script that fails or writes no row is reported as an error; without --check it
# makes the run exit 1. With --check, rows present on one side only are listed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The benches, in the order they run: benches/NAME/run.sh. Adding one is adding its name.
benches=(
  junit
  model
  generate
  artifact
  verify
  manifest
  store
)
# Left out of --quick (CI), and said so in the output: the store bench builds its own load
# client (a second release build) and starts a PostgreSQL cluster — minutes, not seconds.
not_quick=(store)

mode="" rows_out="" baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick | --full) mode=$1 ;;
    --rows) rows_out=${2:?--rows needs a file}; shift ;;
    --check) baseline=${2:?--check needs a file}; shift ;;
    *) echo "usage: bash benches/run.sh [--quick|--full] [--rows FILE] [--check BASELINE]" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One release build for every script (each would otherwise build it again). The binary
# alone first, exactly as the scripts build it: built together with an example, cargo
# unifies the dev-dependencies' features into the dependencies, and the scripts' own
# `cargo build --release --bin proofgate` would then rebuild them.
echo "== building (release)" >&2
t0=$(date +%s.%N)
cargo build --release --locked --quiet --bin proofgate
cargo build --release --locked --quiet --example sha_limit
export PROOFGATE_BIN=$PWD/target/release/proofgate
printf '== release build: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc -l)" >&2

errors=()
: > "$work/rows.tsv"
for name in "${benches[@]}"; do
  script=benches/$name/run.sh
  rows=$work/$name.tsv
  if [ "$mode" = --quick ] && [[ " ${not_quick[*]} " == *" $name "* ]]; then
    echo "== $script: not run in --quick (run it without --quick)" >&2
    continue
  fi
  : > "$rows"
  if [ ! -f "$script" ]; then
    errors+=("$name: $script does not exist")
    continue
  fi
  echo "== $script ${mode}" >&2
  s=$(date +%s.%N)
  # shellcheck disable=SC2086 # an empty mode passes no argument
  if ! BENCH_ROWS=$rows bash "$script" $mode > "$work/$name.log" 2>&1; then
    tail -n 30 "$work/$name.log" >&2
    errors+=("$name: $script $mode failed (log tail printed above)")
  elif [ ! -s "$rows" ]; then
    tail -n 10 "$work/$name.log" >&2
    errors+=("$name: $script $mode wrote no row to BENCH_ROWS")
  fi
  printf '   %.1f s, %d row(s)\n' "$(echo "$(date +%s.%N) - $s" | bc -l)" "$(grep -c . "$rows" || true)" >&2
  cat "$rows" >> "$work/rows.tsv"
done

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
load=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (modified)"; fi
echo
echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, load average $load (at the end), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, mode ${mode:-default}"
echo
python3 benches/rows.py table "$work/rows.tsv"
echo
for e in "${errors[@]}"; do echo "error: $e"; done

if [ -n "$rows_out" ]; then cp "$work/rows.tsv" "$rows_out"; fi

if [ -n "$baseline" ]; then
  echo
  status=0
  python3 benches/rows.py check "$baseline" "$work/rows.tsv" || status=$?
  # Only a regressed ratio (or an unreadable table) fails the check; a bench that failed
  # or wrote no row is in the errors above and its baseline rows are listed as missing.
  exit "$status"
fi
[ ${#errors[@]} -eq 0 ]
