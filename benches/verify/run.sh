#!/usr/bin/env bash
# Benchmark of `proofgate verify` and start-up.
#   bash benches/verify/run.sh          # 1,000 scripts (quick)
#   bash benches/verify/run.sh --full   # 10,000 scripts (the README's figures)
# Targets: verify of 10,000 signed proofs against a 10,000-script model <= 1 s;
# `proofgate --version` cold start <= 3 ms. Baselines, measured in the same run:
# `sha256sum` over every proof and envelope (hashing the input alone), goldenpath's
# Python gate (proof files exist; no signature, digest or verdict check), `/bin/true`.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=1000
[ "${1:-}" = "--full" ] && N=10000
RUNS=${RUNS:-5}
command -v hyperfine >/dev/null || { echo "hyperfine is required (scripts/setup.d/30-gate.sh)" >&2; exit 2; }

BIN=$(bash scripts/build-static.sh)
OUT=${BENCH_OUT:-bench-out}/verify-$N
COMMIT=0123456789abcdef0123456789abcdef01234567
rm -rf "$OUT" && mkdir -p "$OUT"
python3 benches/verify/gen.py "$N" "$OUT" "$COMMIT"

VERIFY="$BIN --root $OUT/repo verify --proofs $OUT/proofs --commit $COMMIT --format json"
$VERIFY > "$OUT/report.json" || { echo "verify did not pass the generated proofs:" >&2; head -c 2000 "$OUT/report.json" >&2; exit 1; }
python3 -c "import json,sys; r=json.load(open('$OUT/report.json')); assert r['counts']['ci']==$N, r['counts']"

hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$OUT/verify.json" \
  -n "proofgate verify ($N signed)" "$VERIFY" \
  -n "sha256sum proofs+envelopes" "bash -c 'cat $OUT/proofs/* | sha256sum'" \
  -n "goldenpath gate (exists only)" "python3 benches/verify/goldenpath_gate.py $OUT/repo $OUT/proofs" >&2
hyperfine -N --warmup 20 --runs 300 --export-json "$OUT/startup.json" \
  -n "proofgate --version" "$BIN --version" \
  -n "/bin/true" "/bin/true" >&2

python3 - "$OUT/verify.json" "$OUT/startup.json" <<'PY'
import json, sys
rows = []
for f in sys.argv[1:]:
    res = json.load(open(f))["results"]
    base = res[0]
    for r in res:
        rows.append((r["command"], r["mean"] * 1000, r["min"] * 1000, r["mean"] / base["mean"]))
print("| command | mean ms | min ms | vs proofgate |")
print("| --- | ---: | ---: | ---: |")
for c, m, lo, ratio in rows:
    print(f"| {c} | {m:.2f} | {lo:.2f} | {ratio:.2f}x |")
PY
