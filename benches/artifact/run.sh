#!/usr/bin/env bash
# Artifact transport benchmark: proofgate vs the official @actions/artifact client, in the
# same run, against the same servers: uploads to the GitHub-semantics test server
# (tests/peers/artifact-js/server.mjs; act rejects the official client's uploads),
# downloads from act's artifact server. Then one large upload's peak RSS.
#
#   bash benches/artifact/run.sh --quick  # seconds: 200 files, one upload each (no act)
#   bash benches/artifact/run.sh          # short: 2,000 files, a 64 MiB upload
#   bash benches/artifact/run.sh --full   # full: 10,000 files (~20 MB), a 1 GiB upload
#
# Uploads and downloads alternate between the two clients (A B A B …); tables quote the
# median. PROOFGATE_BIN=path skips the release build. BENCH_ROWS=file appends one row
# per step (official client's time over proofgate's; no stated target beyond being
# faster, so the target is > 1×). Needs node, npm, act (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
files=2000 big_mb=64 reps=1 downloads=1
case "${1:-}" in
  --quick) files=200 big_mb=0 reps=1 downloads=0 ;;
  --full) files=10000 big_mb=1024 reps=3 ;;
  "") ;;
  *) echo "usage: bash benches/artifact/run.sh [--quick|--full]" >&2; exit 2 ;;
esac

bin=${PROOFGATE_BIN:-}
if [ -z "$bin" ]; then
  echo "building proofgate (release)" >&2
  cargo build --release --quiet --bin proofgate
  bin=$root/target/release/proofgate
fi
bash scripts/setup.d/20-artifact.sh
js=$root/tests/peers/artifact-js
command -v act >/dev/null || { echo "act is missing: pip install -r tests/requirements/artifact.txt" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
measure() { sync; LABEL=$1 python3 "$root/benches/artifact/measure.py" "$work/times" -- "${@:2}"; }

echo "generating $files proof files" >&2
python3 benches/artifact/gen.py "$work/proofs" "$files"
bytes=$(du -sb "$work/proofs" | cut -f1)

# --- uploads: the GitHub-semantics server -------------------------------------------
SERVER_DETACHED=1 STORE_DIR=$work node "$js/server.mjs" >"$work/server.out" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '{print $2}' "$work/server.out")
b64() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
results_url=http://127.0.0.1:$port/
runtime_token="$(printf '{"alg":"none"}' | b64).$(printf '{"scp":"Actions.Results:run-1:job-1"}' | b64).x"
export ACTIONS_RESULTS_URL=$results_url ACTIONS_RUNTIME_TOKEN=$runtime_token
for r in $(seq "$reps"); do
  measure upload-proofgate "$bin" upload --path "$work/proofs" --name "pg-$r"
  (cd "$js" && measure upload-official node client.mjs upload "js-$r" "$work/proofs")
done

# --- downloads: act's artifact server -----------------------------------------------
unset ACTIONS_RESULTS_URL ACTIONS_RUNTIME_TOKEN   # act sets its own for the job
for r in $(seq "$((reps * downloads))"); do
  repo=$work/repo-$r
  mkdir -p "$repo/.github/workflows"
  rm -rf "$work/dl-pg" "$work/dl-js"
  cat >"$repo/.github/workflows/bench.yml" <<YML
name: bench
on: push
jobs:
  bench:
    runs-on: ubuntu-latest
    steps:
      - run: bash $root/benches/artifact/in-act.sh $work $bin $js
YML
  git -C "$repo" init -q
  git -C "$repo" add -A
  git -C "$repo" -c user.email=b@example.com -c user.name=b commit -qm bench
  aport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  (cd "$repo" && ACT_DISABLE_VERSION_CHECK=1 timeout 600 act push -P ubuntu-latest=-self-hosted \
     --artifact-server-path "$work/act-art-$r" --artifact-server-addr 127.0.0.1 \
     --artifact-server-port "$aport" </dev/null >"$work/act.log" 2>&1) || { cat "$work/act.log" >&2; exit 1; }
done

# --- one large upload: peak RSS -------------------------------------------------------
if [ "$big_mb" -gt 0 ]; then
  mkdir -p "$work/big"
  head -c $((big_mb << 20)) /dev/urandom >"$work/big/blob.bin"
  export ACTIONS_RESULTS_URL=$results_url ACTIONS_RUNTIME_TOKEN=$runtime_token
  measure big-proofgate "$bin" upload --path "$work/big" --name big
  rm -rf "$work/big" "$work"/pg-results-*/*/blob.zip 2>/dev/null || true
fi

python3 - "$work/times" "$files" "$bytes" "$big_mb" "${BENCH_ROWS:-}" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, t, rss = line.split()
    rows.setdefault(label, []).append((float(t), int(rss)))
med = lambda k: statistics.median(t for t, _ in rows[k])
rss = lambda k: max(r for _, r in rows[k]) / 1024
files, size, big, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"{files} proof files, {size / 1e6:.1f} MB; median of {len(rows['upload-proofgate'])} run(s)\n")
print("| step | proofgate | @actions/artifact 6.2.1 | official / proofgate |")
print("| --- | --- | --- | --- |")
steps = [("upload (GitHub-semantics server)", "upload")]
if "download-proofgate" in rows:
    steps.append(("download (act 0.2.89)", "download"))
found = []
for name, key in steps:
    p, o = med(f"{key}-proofgate"), med(f"{key}-official")
    found.append((key, p, o))
    print(f"| {name} | {p:.2f} s, {rss(key + '-proofgate'):.0f} MB | {o:.2f} s, {rss(key + '-official'):.0f} MB | {o / p:.1f}× |")
if len(found) == 2:
    p = med("upload-proofgate") + med("download-proofgate")
    o = med("upload-official") + med("download-official")
    found.append(("end to end", p, o))
    print(f"| **end to end** | **{p:.2f} s** | **{o:.2f} s** | **{o / p:.1f}×** |")
if big:
    print(f"\n{big} MiB upload (incompressible): {med('big-proofgate'):.1f} s, peak RSS {rss('big-proofgate'):.0f} MB (target ≤ 64 MB)")
if out:
    with open(out, "a", encoding="utf-8") as f:
        for key, p, o in found:
            status = "met" if o > p else "missed"
            f.write(f"artifact {key} {files} files\t{p:.2f} s\t@actions/artifact {o:.2f} s\t{o / p:.2f}×\t> 1×\t{status}\n")
PY
