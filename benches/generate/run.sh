#!/usr/bin/env bash
# Benchmark: `proofgate generate` with signing on a synthetic repository.
#
#   bash benches/generate/run.sh --quick  # seconds (CI): 200 scripts x 100 cases (20k cases), 3 rounds
#   bash benches/generate/run.sh          # 1,000 scripts x 100 cases (100k cases), 5 rounds
#   bash benches/generate/run.sh --full   # target size: 10,000 scripts x 100 cases (1M cases), 5 rounds
#
# Each round runs, one after the other on the same JUnit files (paired), every command
# below (the previous build and this one in turns: first in odd rounds, second in even); the table gives the median wall time of the rounds, and user/system CPU and
# peak RSS of the median round (`/usr/bin/time`):
#   - `cat` of the JUnit files (the I/O floor),
#   - `cp -r` of the signed run's output into a new directory (the write floor),
#   - `proofgate inspect --summary` (parsing alone),
#   - the previous build of `generate` (`main`, or BENCH_BASE_REF), when it can be built:
#     a `git worktree` of that commit built in release into target/bench-generate/base
#     (kept there and rebuilt only when the commit changes; BENCH_BASE=0 skips it, and
#     --quick skips it unless BENCH_BASE=1),
#   - `generate --signing-key-file` into a new output directory (every round gets its own),
#   - the same over the previous round's 20,000 files (files replaced, not created).
# It then prints the phase split of the median signed run (`generate --timings`).
# Target (full size): generate with signing <= 2 s wall for 1M cases. BENCH_ROUNDS=N
# overrides the number of rounds.
#
# When BENCH_ROWS names a file, one tab-separated row per comparison of the signed run is
# appended to it (benches/README.md, "row protocol"): path, figure, anchor, ratio, target,
# met|missed. Below full size the target is scaled by cases (<= 2 s per 1M cases).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=default scripts=1000 per=100 parts=4 rounds=5
case "${1:-}" in
  --quick) mode=quick scripts=200 parts=2 rounds=3 ;;
  --full) mode=full scripts=10000 parts=10 rounds=5 ;;
  "") ;;
  *) echo "usage: bash benches/generate/run.sh [--quick|--full]" >&2; exit 2 ;;
esac
rounds=${BENCH_ROUNDS:-$rounds}
cases=$((scripts * per))

cargo build --release --locked --quiet --bin proofgate
bin="$PWD/target/release/proofgate"

# The previous build: a release build of BENCH_BASE_REF (default `main`) from a worktree.
# Not in --quick (CI): building another release binary costs minutes, not seconds.
base=""
base_default=1
[ "$mode" = quick ] && base_default=0
if [ "${BENCH_BASE:-$base_default}" != 0 ]; then
  ref="${BENCH_BASE_REF:-main}"
  if commit=$(git rev-parse --verify --quiet "$ref^{commit}"); then
    bdir="$PWD/target/bench-generate/base"
    if [ ! -x "$bdir/proofgate" ] || [ "$(cat "$bdir/COMMIT" 2>/dev/null)" != "$commit" ]; then
      echo "building the previous generate ($ref, ${commit:0:12}) into $bdir" >&2
      src="$PWD/target/bench-generate/src"
      git worktree remove --force "$src" >/dev/null 2>&1 || rm -rf "$src"
      git worktree add --detach "$src" "$commit" >/dev/null
      # The shared target directory keeps the dependencies compiled once.
      (cd "$src" && cargo build --release --locked --quiet --bin proofgate --target-dir "$OLDPWD/target/bench-generate/target")
      mkdir -p "$bdir"
      cp "$PWD/target/bench-generate/target/release/proofgate" "$bdir/proofgate"
      echo "$commit" > "$bdir/COMMIT"
      git worktree remove --force "$src"
    fi
    base="$bdir/proofgate"
  else
    echo "no $ref to compare with: the previous build is left out" >&2
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 benches/generate/make_repo.py "$work/repo" "$scripts" "$per" "$parts" >/dev/null
"$bin" keygen --out "$work/key.pem" >/dev/null 2>&1
key="$work/key.pem"
repo="$work/repo"

calc() { python3 -c "print($1)"; }

# measure NAME CMD…: one timed run; appends "wall user sys rss_kb" to $work/NAME.
# The command's stderr of each run is kept as $work/NAME.err.N.
measure() {
  local name=$1 n
  shift
  n=0
  [ -f "$work/$name" ] && n=$(wc -l < "$work/$name")
  local rc=0
  # The previous command's dirty pages are written back before, not during, this one.
  sync
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >/dev/null 2>"$work/$name.err.$n" || rc=$?
  # generate exits 1 when a proof is FAIL (the synthetic repository has some): not an error.
  if [ "$rc" -gt 1 ]; then echo "failed ($rc): $*" >&2; cat "$work/$name.err.$n" >&2; exit 1; fi
  grep -v '^Command' "$work/time" >> "$work/$name"
}

gen=(--root "$repo" generate --junit 'junit/*.xml' --signing-key-file "$key")

for r in $(seq "$rounds"); do
  measure cat sh -c "cat '$repo'/junit/*.xml > /dev/null"
  measure inspect "$bin" --root "$repo" inspect --summary --format json 'junit/*.xml'
  # Every round writes into directories of its own, removed only after the last round:
  # ext4 avoids reusing inodes freed in the last minutes, so creating 20,000 files right
  # after deleting 20,000 makes every create scan for a free inode (measured: 5 s of
  # system time growing to 20 s over three rounds) — a cost of the bench, not of generate.
  # The previous build and this one take turns at going first: whichever runs second
  # in a round was measured up to 1.5x slower with identical code (it fills page-cache
  # pages the first one has just taken; benches/README.md, generate).
  if [ -n "$base" ] && [ $((r % 2)) -eq 1 ]; then
    measure base "$base" "${gen[@]}" --out "$work/out-base-$r"
  fi
  measure signed "$bin" "${gen[@]}" --out "$work/out-$r" --timings
  if [ -n "$base" ] && [ $((r % 2)) -eq 0 ]; then
    measure base "$base" "${gen[@]}" --out "$work/out-base-$r"
  fi
  # The write floor: the same 20,000 files and bytes, created by `cp -r` from the page
  # cache. It pays what generate pays to create files and fill new page-cache pages, which
  # on this VM moves with the host's memory state (benches/README.md, generate).
  measure copy cp -r "$work/out-$r" "$work/copy-$r"
  measure replace "$bin" "${gen[@]}" --out "$work/out-$r" --timings
done

# median NAME: the line of the median wall time (the upper median for an even count).
median() { sort -n -k1,1 "$work/$1" | sed -n "$(( $(wc -l < "$work/$1") / 2 + 1 ))p"; }
# index of the median round of NAME (its line number, from 0), for its stderr.
median_round() { awk -v m="$(median "$1" | cut -d' ' -f1)" '$1 == m { print NR - 1; exit }' "$work/$1"; }
wall() { median "$1" | cut -d' ' -f1; }

proofs=$(find "$work/out-$rounds" -name '*.dsse.json' | wc -l)
printf '\ngenerate benchmark (%s): %d scripts, %d cases, %d JUnit files, %d signed proofs; median of %d paired rounds, %s cores\n' \
  "$mode" "$scripts" "$cases" "$parts" "$proofs" "$rounds" "$(nproc)"
printf '%-40s %9s %9s %9s %9s %10s\n' "command" "wall (s)" "user (s)" "sys (s)" "RSS (MB)" "vs signed"
t_signed=$(wall signed)
row() {
  local m; m=$(median "$2")
  read -r w u s k <<<"$m"
  printf '%-40s %9.2f %9.2f %9.2f %9.0f %9.2fx\n' "$1" "$w" "$u" "$s" "$(calc "$k / 1024")" "$(calc "$w / max($t_signed, 0.001)")"
}
row "cat (I/O floor)" cat
row "cp -r of the proofs (write floor)" copy
row "inspect --summary (parse only)" inspect
[ -n "$base" ] && row "previous generate --signing-key-file" base
row "generate --signing-key-file" signed
row "  the same, replacing the previous files" replace
split=$(grep -h '^timings' "$work/signed.err.$(median_round signed)" || true)
echo "signed run split: ${split#timings }"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"

# The target: 2 s for 1M cases (scaled by cases below full size).
target_s=$(calc "2.0 * $cases / 1000000")
if [ "$mode" = full ]; then target="≤ 2 s"; else target="≤ 2 s per 1M cases"; fi
met=$(calc "'met' if $t_signed <= $target_s else 'missed'")
echo "target (${target}, here ${target_s} s): $met"
if [ -n "${BENCH_ROWS:-}" ]; then
  label="generate signed $((cases / 1000))k cases"
  emit() { # emit ANCHOR_NAME ANCHOR_SECONDS
    printf '%s\t%.2f s\t%s %.2f s\t%.2f×\t%s\t%s\n' "$label vs $1" "$t_signed" "$1" "$2" \
      "$(calc "$2 / max($t_signed, 0.001)")" "$target" "$met" >> "$BENCH_ROWS"
  }
  [ -n "$base" ] && emit "previous generate" "$(wall base)"
  emit "inspect --summary" "$(wall inspect)"
  emit "cat" "$(wall cat)"
  emit "cp -r of its output" "$(wall copy)"
fi
