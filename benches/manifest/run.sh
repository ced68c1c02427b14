#!/usr/bin/env bash
# Benchmark `proofgate manifest` against, in the same run: (a) the SHA-256 ceiling, the
# same files' bytes already in memory hashed file by file with the same library on every
# core (examples/sha_limit.rs), and (b) `find DIR -type f -print0 | xargs -0 -P2 sha256sum`.
# Warm page cache; all of them are run in turn (A B C A B C …) and the median of each quoted.
# Beside them, the bounds of what read(2) allows (examples/sha_limit.rs): (c) reading
# alone, (d) reading and hashing a list made before the clock starts, and (e) the same with
# the directory walk timed: what a manifest with no ignore rules and no Merkle tree costs.
#
#   bash benches/manifest/run.sh --quick  # 2,000 files / 20 MB, 5 rounds (seconds)
#   bash benches/manifest/run.sh          # 10,000 files / 100 MB, 5 rounds
#   bash benches/manifest/run.sh --full   # 100,000 files / 1 GB, 5 rounds
#
# Targets: manifest >= 80% of (a) (ratio (a)/manifest >= 0.8); >= 3x faster than (b).
# PROOFGATE_BIN=path uses that binary (and sha_limit beside it in examples/) instead of
# building; BENCH_ROWS=file appends one row per target (benches/run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

files=10000 total_mb=100 rounds=5
case "${1:-}" in
  --quick) files=2000 total_mb=20 ;;
  --full) files=100000 total_mb=1000 ;;
  "") ;;
  *) echo "usage: bash benches/manifest/run.sh [--quick|--full]" >&2; exit 2 ;;
esac

base=target/bench-manifest
tree="$base/tree-${files}-${total_mb}"
mkdir -p "$base"

if [ -n "${PROOFGATE_BIN:-}" ]; then
  bin=$PROOFGATE_BIN
  limit=$(dirname "$bin")/examples/sha_limit
else
  echo "== building (release)" >&2
  # Separately: together, the example's dev-dependency features would change the binary's
  # dependencies and every other bench script's build would start over.
  cargo build --quiet --release --locked --bin proofgate
  cargo build --quiet --release --locked --example sha_limit
  bin=target/release/proofgate
  limit=target/release/examples/sha_limit
fi
[ -x "$limit" ] || { echo "missing $limit: cargo build --release --example sha_limit" >&2; exit 2; }

if [ ! -f "$tree/.complete" ]; then
  echo "== generating $files files / $total_mb MB under $tree" >&2
  rm -rf "$tree"
  python3 - "$tree" "$files" "$total_mb" <<'PY'
import os, random, sys
root, n, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) * 1000 * 1000
rng = random.Random(42)
# Sizes spread over two orders of magnitude, scaled so they sum to `total`.
raw = [rng.lognormvariate(0, 1.0) for _ in range(n)]
scale = total / sum(raw)
sizes = [max(1, int(r * scale)) for r in raw]
block = rng.randbytes(1 << 20)
for i, size in enumerate(sizes):
    d = os.path.join(root, f"d{i % 100:02d}", f"e{(i // 100) % 10}")
    os.makedirs(d, exist_ok=True)
    off = (i * 7919) % (len(block) - 1)
    data = (block[off:] + block) * (size // len(block) + 1)
    with open(os.path.join(d, f"f{i:06d}.src"), "wb") as f:
        f.write(data[:size])
open(os.path.join(root, ".complete"), "w").close()
PY
fi

# Warm the cache.
find "$tree" -type f -print0 | xargs -0 cat > /dev/null

secs() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.4f}")' "$1" "$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== measuring ($rounds rounds, manifest / ceiling / read / read+hash / walk+read+hash / find|xargs in turn, medians)" >&2
for t in m l s r d e; do : > "$base/$t.times"; done
for _ in $(seq "$rounds"); do
  s=$(date +%s.%N)
  "$bin" --root "$tree" manifest --exclude .complete --format table > "$base/manifest.txt"
  e=$(date +%s.%N)
  secs "$s" "$e" >> "$base/m.times"

  "$limit" "$tree" "$(nproc)" hash | cut -d' ' -f1 >> "$base/l.times"
  "$limit" "$tree" "$(nproc)" read | cut -d' ' -f1 >> "$base/r.times"
  "$limit" "$tree" "$(nproc)" read-hash | cut -d' ' -f1 >> "$base/d.times"
  "$limit" "$tree" "$(nproc)" walk-read-hash | cut -d' ' -f1 >> "$base/e.times"

  s=$(date +%s.%N)
  find "$tree" -type f -print0 | xargs -0 -P2 sha256sum > /dev/null
  e=$(date +%s.%N)
  secs "$s" "$e" >> "$base/s.times"
done
m=$(median < "$base/m.times")
l=$(median < "$base/l.times")
s=$(median < "$base/s.times")
r=$(median < "$base/r.times")
d=$(median < "$base/d.times")
e=$(median < "$base/e.times")
bytes=$(awk '/^bytes/ {print $2}' "$base/manifest.txt")
nfiles=$(awk '/^files/ {print $2}' "$base/manifest.txt")

python3 - "$m" "$l" "$s" "$r" "$d" "$e" "$bytes" "$nfiles" "$rounds" "$total_mb" "${BENCH_ROWS:-}" <<'PY'
import os, sys
m, l, s, r, d, e = (float(x) for x in sys.argv[1:7])
nbytes, nfiles, rounds, total_mb, rows = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), sys.argv[11]
mbps = lambda t: f"{nbytes / t / 1e6:.0f}"
print(f"\n{nfiles} files, {nbytes} bytes, {os.cpu_count()} cores, median of {rounds} rounds\n")
print("| measurement | seconds | MB/s | ratio |")
print("| --- | ---: | ---: | --- |")
print(f"| proofgate manifest (walk + hash + Merkle) | {m:.3f} | {mbps(m)} | — |")
print(f"| (a) SHA-256 from memory, same library, all cores | {l:.3f} | {mbps(l)} | manifest at {100 * l / m:.0f}% of (a) |")
print(f"| (b) find \\| xargs -0 -P2 sha256sum | {s:.3f} | {mbps(s)} | manifest {s / m:.2f}× faster |")
print(f"| (c) read(2) alone: open, one sized read, close, all cores | {r:.3f} | {mbps(r)} | reading costs {r / l:.2f}× the hashing |")
print(f"| (d) read(2) + SHA-256, all cores, file list made untimed | {d:.3f} | {mbps(d)} | manifest at {100 * d / m:.0f}% of (d); (d) at {100 * l / d:.0f}% of (a) |")
print(f"| (e) (d) with the directory walk timed (no ignore rules or Merkle tree) | {e:.3f} | {mbps(e)} | manifest at {100 * e / m:.0f}% of (e); (e) at {100 * l / e:.0f}% of (a), {s / e:.2f}× (b) |")
size = f"{nfiles // 1000}k files {total_mb / 1000:g} GB" if total_mb >= 1000 else f"{nfiles // 1000}k files {total_mb} MB"
targets = [
    (f"manifest {size}: share of the SHA-256 ceiling", m, f"ceiling {l:.3f} s", l / m, 0.8, "≥ 0.80× (80% of the ceiling)"),
    (f"manifest {size}: vs find | xargs -P2 sha256sum", m, f"find|xargs {s:.3f} s", s / m, 3.0, "≥ 3×"),
    # The least a manifest can take with read(2) on this machine: list the tree, read and
    # hash every file. What it costs beyond that is the manifest's own doing.
    (f"manifest {size}: share of the walk+read(2)+hash bound", m, f"walk+read+hash {e:.3f} s", e / m, 0.8, "≥ 0.80× (80% of the least a manifest can take)"),
    # Whether the 3× target is within reach of any read(2)-based manifest on this machine
    # in this run: the bound (e) itself against find | xargs.
    (f"manifest {size}: walk+read(2)+hash bound vs find | xargs -P2 sha256sum", e, f"find|xargs {s:.3f} s", s / e, 3.0, "≥ 3× (is the 3× target within reach here?)"),
]
print()
for path, figure, anchor, ratio, goal, target in targets:
    status = "met" if ratio >= goal else "missed"
    print(f"{path}: {ratio:.2f}× (target {target}) {status}")
    if rows:
        with open(rows, "a", encoding="utf-8") as f:
            f.write(f"{path}\t{figure:.3f} s\t{anchor}\t{ratio:.2f}×\t{target}\t{status}\n")
PY
