#!/usr/bin/env bash
# Evidence store benchmark, for SQLite and PostgreSQL (a throwaway cluster, scripts/pg.sh):
#   1. publishing one run of N signed proofs with `proofgate publish` (wall clock, the
#      server verifies every envelope before storing) — target ≤ 2 s for 10,000 with SQLite;
#   2. R runs stored (seeded through the store layer: one verified run stored R times);
#   3. `GET /api/runs/{id}/proof` by 50 concurrent keep-alive clients for S seconds:
#      p50, p99 and requests/s.
#
#   bash benches/store/run.sh --quick   # 1,000 proofs, 2,000 runs, 3 s
#   bash benches/store/run.sh           # 10,000 proofs, 100,000 runs, 10 s
#   bash benches/store/run.sh --full    # the same, 30 s of load
#
# The publish is measured against an anchor in the same run, rounds paired (publish,
# anchor, publish, anchor …; medians quoted): benches/store/anchor.py, the least work any
# store must do with the run (every envelope's signature checked with OpenSSL, each proof's
# digest compared, every file inserted with Python's sqlite3 in one transaction). Its ratio
# (anchor/figure) says what proofgate's transport, gate rules and indexing cost on top.
#
# With BENCH_ROWS=FILE, one row per measured target is appended (benches/README.md
# protocol); the GET load has no anchor (`none`).
set -euo pipefail
cd "$(dirname "$0")/../.."

proofs=10000 runs=100000 seconds=10 rounds=3
case "${1:-}" in
  --quick) proofs=1000 runs=2000 seconds=3 rounds=1 ;;
  --full) seconds=30 rounds=5 ;;
  "") ;;
  *) echo "usage: bash benches/store/run.sh [--quick|--full]" >&2; exit 2 ;;
esac

echo "bench: cargo build --release" >&2
cargo build --release --locked --quiet --bin proofgate --example store-load
pg=target/release/proofgate
load=target/release/examples/store-load

work=$(mktemp -d /tmp/proofgate-bench-store.XXXXXX)
chmod 755 "$work"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  bash scripts/pg.sh stop "$work/pg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# One repository with $proofs scripts, one passing test each, signed proofs.
repo="$work/repo"
mkdir -p "$repo/scripts" "$repo/tests"
{
  echo '<testsuite name="bench">'
  for i in $(seq 1 "$proofs"); do
    printf '#!/bin/sh\n# ---\n# id: s%d\n# type: script\n# owner: platform\n# status: active\n# maturity: 1\n# test:\n#   runner: pytest\n#   command: "pytest tests/test_s%d.py"\n#   evidence: ci\n# ---\necho %d\n' "$i" "$i" "$i" >"$repo/scripts/s$i.sh"
    echo 'def test_ok(): pass' >"$repo/tests/test_s$i.py"
    echo "<testcase classname=\"tests.test_s$i\" name=\"test_ok\" file=\"tests/test_s$i.py\" time=\"0.001\"/>"
  done
  echo '</testsuite>'
} >"$repo/junit.xml"
"$pg" --root "$repo" keygen --out "$work/key.pem" >"$work/keygen.txt" 2>&1
public=$(sed -n 's/^public-key: //p' "$work/keygen.txt")
"$pg" --root "$repo" generate --junit junit.xml --out "$work/big" --signing-key-file "$work/key.pem" \
  --commit 0123456789abcdef0123456789abcdef01234567 >/dev/null 2>&1
# A small run with a signed bundle (`proofgate run` on a one-script repository) for the
# load test's stored runs.
small_repo="$work/small-repo"
mkdir -p "$small_repo/scripts" "$small_repo/tests"
cp "$repo/scripts/s1.sh" "$small_repo/scripts/"
cp "$repo/tests/test_s1.py" "$small_repo/tests/"
printf '<testsuite name="bench"><testcase classname="tests.test_s1" name="test_ok" file="tests/test_s1.py" time="0.001"/></testsuite>\n' >"$small_repo/junit.in.xml"
"$pg" --root "$small_repo" run --out "$work/small" --junit junit.xml --signing-key-file "$work/key.pem" \
  -- cp "$small_repo/junit.in.xml" "$small_repo/junit.xml" >/dev/null 2>&1

row() { [ -n "${BENCH_ROWS:-}" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_ROWS"; return 0; }
# Wall clock of a command, in seconds.
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1-$t0:.2f}')"
}
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

start_server() { # DB_URL
  "$pg" serve --db "$1" --listen 127.0.0.1:0 --max-body-mb 1024 2>"$work/serve.log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*listening on http:\/\///p' "$work/serve.log")
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  cat "$work/serve.log" >&2
  exit 3
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

printf '%-10s %-28s %s\n' database measure figure
for kind in sqlite postgres; do
  if [ "$kind" = sqlite ]; then
    db="sqlite://$work/store.db"
  else
    db=$(bash scripts/pg.sh start "$work/pg")
  fi
  tokens=$("$pg" tenant add bench --json --db "$db")
  publish_token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["publish_token"])' "$tokens")
  read_token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["read_token"])' "$tokens")
  "$pg" tenant trust bench "$public" --db "$db" >/dev/null 2>&1
  start_server "$db"

  # Each round publishes as a new tenant, so each stores the whole run (the same files
  # published again by one tenant are found, not stored).
  times=() anchors=()
  for r in $(seq 1 "$rounds"); do
    t=$("$pg" tenant add "p$r" --json --db "$db")
    "$pg" tenant trust "p$r" "$public" --db "$db" >/dev/null 2>&1
    tok=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["publish_token"])' "$t")
    times+=("$(PROOFGATE_SERVER_TOKEN=$tok wall "$pg" publish "$work/big" --server "http://$addr")")
    if [ "$kind" = sqlite ]; then
      rm -f "$work/anchor.db"*
      anchors+=("$(wall python3 benches/store/anchor.py "$work/big" "$work/anchor.db" "$public")")
    fi
  done
  secs=$(median "${times[@]}")
  printf '%-10s %-28s %s s (rounds: %s)\n' "$kind" "publish $proofs proofs" "$secs" "${times[*]}"
  if [ "$kind" = sqlite ]; then
    anchor=$(median "${anchors[@]}")
    printf '%-10s %-28s %s s (rounds: %s)\n' "$kind" "anchor.py (verify + sqlite3)" "$anchor" "${anchors[*]}"
    verdict=$(python3 -c "print('met' if $secs <= 2.0 else 'missed')")
    ratio=$(python3 -c "print(f'{$anchor/$secs:.2f}')")
    row "store publish $proofs proofs (sqlite)" "$secs s" "anchor.py verify+sqlite3 $anchor s" "${ratio}×" "≤ 2 s" "$verdict"
  fi

  "$load" seed "$db" bench "$runs" "$work/small" >"$work/ids.txt" 2>"$work/seed.log"
  printf '%-10s %-28s %s\n' "$kind" "seed $runs runs" "$(cat "$work/seed.log")"
  read -r n p50 p99 rps errors < <("$load" load "http://$addr" "$read_token" "$work/ids.txt" 50 "$seconds")
  printf '%-10s %-28s p50 %s ms, p99 %s ms, %s req/s (%s requests, %s errors)\n' \
    "$kind" "GET proof x50 clients" "$p50" "$p99" "$rps" "$n" "$errors"
  row "store GET /api/runs/:id/proof ×50 ($kind, $runs runs)" "p50 $p50 ms, p99 $p99 ms, $rps req/s" "none" "1.0×" "report" "met"
  stop_server
  [ "$kind" = postgres ] && bash scripts/pg.sh stop "$work/pg"
done
