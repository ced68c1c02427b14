#!/usr/bin/env bash
# Benchmark `proofgate manifest` against (a) the SHA-256 ceiling: the same bytes hashed
# from memory with the same library on every core (examples/sha_limit.rs), and (b)
# `find DIR -type f -print0 | xargs -0 -P2 sha256sum`. Warm page cache; best of N runs.
#
#   bash benches/manifest/run.sh          # quick: 10,000 files / 100 MB
#   bash benches/manifest/run.sh --full   # full: 100,000 files / 1 GB
#
# Targets: manifest >= 80% of (a); >= 3x faster than (b).
set -euo pipefail
cd "$(dirname "$0")/../.."

files=10000
total_mb=100
runs=3
if [ "${1:-}" = "--full" ]; then
  files=100000
  total_mb=1000
fi

base=target/bench-manifest
tree="$base/tree-${files}-${total_mb}"
mkdir -p "$base"

echo "== building (release)" >&2
cargo build --quiet --release --bin proofgate --example sha_limit
bin=target/release/proofgate
limit=target/release/examples/sha_limit

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

best() { sort -n | head -1; }

# Warm the cache.
find "$tree" -type f -print0 | xargs -0 cat > /dev/null

echo "== measuring ($runs runs each, best kept)" >&2
m_times=(); l_times=(); s_times=()
for _ in $(seq "$runs"); do
  s=$(date +%s.%N)
  "$bin" --root "$tree" manifest --exclude .complete --format table > "$base/manifest.txt"
  e=$(date +%s.%N)
  m_times+=("$(echo "$e - $s" | bc -l)")

  l_times+=("$("$limit" "$tree" | cut -d' ' -f1)")

  s=$(date +%s.%N)
  find "$tree" -type f -print0 | xargs -0 -P2 sha256sum > /dev/null
  e=$(date +%s.%N)
  s_times+=("$(echo "$e - $s" | bc -l)")
done
m=$(printf '%s\n' "${m_times[@]}" | best)
l=$(printf '%s\n' "${l_times[@]}" | best)
s=$(printf '%s\n' "${s_times[@]}" | best)
bytes=$(awk '/^bytes/ {print $2}' "$base/manifest.txt")
nfiles=$(awk '/^files/ {print $2}' "$base/manifest.txt")

mbps() { echo "scale=0; $bytes / $1 / 1000000" | bc -l; }
printf '\n%s files, %s bytes, %s cores, best of %s\n\n' "$nfiles" "$bytes" "$(nproc)" "$runs"
printf '| %-44s | %8s | %9s | %-22s |\n' "measurement" "seconds" "MB/s" "ratio"
printf '| %-44s | %8s | %9s | %-22s |\n' "--------------------------------------------" "--------" "---------" "----------------------"
printf '| %-44s | %8.3f | %9s | %-22s |\n' "proofgate manifest (walk + hash + Merkle)" "$m" "$(mbps "$m")" "-"
printf '| %-44s | %8.3f | %9s | %-22s |\n' "(a) SHA-256 from memory, same lib, all cores" "$l" "$(mbps "$l")" "manifest at $(echo "scale=1; 100 * $l / $m" | bc -l)% of (a)"
printf '| %-44s | %8.3f | %9s | %-22s |\n' "(b) find | xargs -0 -P2 sha256sum" "$s" "$(mbps "$s")" "manifest $(echo "scale=2; $s / $m" | bc -l)x faster"
echo
echo "targets: >= 80% of (a), >= 3x faster than (b)"
