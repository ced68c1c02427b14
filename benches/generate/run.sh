#!/usr/bin/env bash
# Benchmark: `proofgate generate` with signing on a synthetic repository.
#
#   bash benches/generate/run.sh          # quick: 1,000 scripts x 100 cases (100k cases)
#   bash benches/generate/run.sh --full   # target size: 10,000 scripts x 100 cases (1M cases)
#
# Prints wall times (best of 3 runs; 2 with --full) with ratios against two baselines measured in the
# same run on the same JUnit files:
#   - `cat` of the JUnit files (the I/O floor),
#   - `proofgate inspect --summary` (parsing alone),
# and the phase split of the fastest generate run (`generate --timings`).
# Target (full size): generate with signing <= 2 s wall.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts=1000 per=100 parts=4 runs=3
if [ "${1:-}" = "--full" ]; then scripts=10000 parts=10 runs=2; fi

cargo build --release --locked --quiet --bin proofgate
bin="$PWD/target/release/proofgate"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 benches/generate/make_repo.py "$work/repo" "$scripts" "$per" "$parts"
"$bin" keygen --out "$work/key.pem" >/dev/null 2>&1

calc() { python3 -c "print($1)"; }

# best wall time in seconds of `runs` runs of a command
best() {
  local b="" s e t
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || true; e=$(date +%s.%N)
    t=$(calc "$e - $s")
    if [ -z "$b" ] || [ "$(calc "int($t < $b)")" = 1 ]; then b=$t; cp "$work/last.err" "$work/best.err"; fi
  done
  echo "$b"
}

t_cat=$(best sh -c "cat '$work'/repo/junit/*.xml > /dev/null")
t_inspect=$(best "$bin" --root "$work/repo" inspect --summary --format json 'junit/*.xml')
t_unsigned=$(best "$bin" --root "$work/repo" generate --junit 'junit/*.xml' --out "$work/out-u" --timings)
t_signed=$(best "$bin" --root "$work/repo" generate --junit 'junit/*.xml' --out "$work/out-s" \
  --signing-key-file "$work/key.pem" --timings)
split=$(grep '^timings' "$work/best.err" || true)
cases=$((scripts * per))
proofs=$(ls "$work/out-s" | grep -c '\.dsse\.json$' || true)

printf '\ngenerate benchmark: %d scripts, %d cases, %d JUnit files, %d signed proofs (best of %d, %s cores)\n' \
  "$scripts" "$cases" "$parts" "$proofs" "$runs" "$(nproc)"
printf '%-34s %9s %12s %14s\n' "command" "wall (s)" "vs cat" "vs inspect"
row() { printf '%-34s %9.3f %11.1fx %13.2fx\n' "$1" "$2" "$(calc "$2 / $t_cat")" "$(calc "$2 / $t_inspect")"; }
row "cat (baseline: I/O floor)" "$t_cat"
row "inspect --summary (baseline)" "$t_inspect"
row "generate (unsigned)" "$t_unsigned"
row "generate --signing-key-file" "$t_signed"
echo "signed run split: ${split#timings }"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$scripts" -ge 10000 ]; then
  if [ "$(calc "int($t_signed <= 2.0)")" = 1 ]; then echo "target (<= 2 s): met"; else echo "target (<= 2 s): NOT met"; fi
fi
