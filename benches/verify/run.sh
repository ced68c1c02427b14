#!/usr/bin/env bash
# Benchmark of `proofgate verify` and start-up.
#   bash benches/verify/run.sh --quick  # 200 scripts, glibc release binary (seconds)
#   bash benches/verify/run.sh          # 1,000 scripts, static binary
#   bash benches/verify/run.sh --full   # 10,000 scripts, static binary (the README's figures)
# Targets: verify of 10,000 signed proofs against a 10,000-script model <= 1 s;
# `proofgate --version` cold start <= 3 ms. Baselines, measured in the same run:
# `sha256sum` over every proof and envelope (hashing the input alone), goldenpath's
# Python gate (proof files exist; no signature, digest or verdict check), `/bin/true`.
# The tables quote hyperfine's median. --quick uses PROOFGATE_BIN (or the glibc release
# build) instead of building the static binary. BENCH_ROWS=file appends two rows: verify
# against the Python gate (target 1 s per 10,000 proofs) and `--version` against
# `/bin/true` (target 3 ms).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=1000 RUNS=${RUNS:-5} STARTUP_RUNS=300 quick=0
case "${1:-}" in
  --quick) N=200 STARTUP_RUNS=100 quick=1 ;;
  --full) N=10000 ;;
  "") ;;
  *) echo "usage: bash benches/verify/run.sh [--quick|--full]" >&2; exit 2 ;;
esac
command -v hyperfine >/dev/null || { echo "hyperfine is required (scripts/setup.d/30-gate.sh)" >&2; exit 2; }

if [ "$quick" = 1 ]; then
  if [ -z "${PROOFGATE_BIN:-}" ]; then cargo build --release --quiet --bin proofgate; fi
  BIN=${PROOFGATE_BIN:-$PWD/target/release/proofgate}
else
  BIN=$(bash scripts/build-static.sh)
fi
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
hyperfine -N --warmup 20 --runs "$STARTUP_RUNS" --export-json "$OUT/startup.json" \
  -n "proofgate --version" "$BIN --version" \
  -n "/bin/true" "/bin/true" >&2

python3 - "$OUT/verify.json" "$OUT/startup.json" "$N" "${BENCH_ROWS:-}" <<'PY'
import json, sys
rows = []
verify, startup = (json.load(open(f))["results"] for f in sys.argv[1:3])
n, out = int(sys.argv[3]), sys.argv[4]
for res in (verify, startup):
    base = res[0]
    for r in res:
        rows.append((r["command"], r["median"] * 1000, r["mean"] * 1000, r["min"] * 1000, r["median"] / base["median"]))
print("| command | median ms | mean ms | min ms | vs proofgate |")
print("| --- | ---: | ---: | ---: | ---: |")
for c, med, m, lo, ratio in rows:
    print(f"| {c} | {med:.2f} | {m:.2f} | {lo:.2f} | {ratio:.2f}x |")
v, gate = verify[0]["median"], verify[2]["median"]
ver, true = startup[0]["median"], startup[1]["median"]
limit = n / 10000
vt = "≤ 1 s" if n == 10000 else "≤ 1 s per 10k proofs"
size = f"{n / 1000:g}k"
lines = [
    (f"verify {size} signed proofs", f"{v:.3f} s", f"Python gate (exists only) {gate:.3f} s", gate / v, vt, v <= limit),
    ("proofgate --version (start-up)", f"{ver * 1000:.2f} ms", f"/bin/true {true * 1000:.2f} ms", true / ver, "≤ 3 ms", ver <= 0.003),
]
for path, fig, anchor, ratio, target, met in lines:
    print(f"{path}: {fig} ({target}) {'met' if met else 'missed'}")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(f"{path}\t{fig}\t{anchor}\t{ratio:.2f}×\t{target}\t{'met' if met else 'missed'}\n")
PY
