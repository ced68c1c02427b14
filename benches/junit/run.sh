#!/usr/bin/env bash
# JUnit ingestion benchmark: `proofgate inspect --format json --summary` against Python's
# xml.etree.ElementTree.iterparse and PyPI junitparser on the same synthetic report.
#
#   bash benches/junit/run.sh --quick    # 400k test cases (~82 MB), 3 rounds: ~20 s (CI)
#   bash benches/junit/run.sh            # 1M cases (~204 MB), 5 rounds
#   bash benches/junit/run.sh --full     # 1M cases (5 rounds) and 5M (~1 GB, 3 rounds)
#   bash benches/junit/run.sh --runs 7   # more rounds per size
#
# The three tools run paired, one after the other in each round (A B C A B C …), and the
# median of each is quoted, with proofgate's peak RSS. Targets: >= 10x iterparse and
# >= 30x junitparser (wall time), peak RSS <= 16 MB, printed as MET or MISS. With
# BENCH_ROWS=FILE, one row per target is appended to FILE (see benches/README.md).
# Generated reports are cached in target/bench-junit/ (never committed); the table is
# printed on stdout and saved as target/bench-junit/results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=target/bench-junit
venv="$cache/venv"
mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s benches/junit/requirements.txt "$venv/requirements.txt"; then
  echo "bench: installing the Python baseline" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r benches/junit/requirements.txt
  cp benches/junit/requirements.txt "$venv/requirements.txt"
fi

# Peak RSS is measured by GNU time (Debian package `time`).
if [ ! -x /usr/bin/time ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi

echo "bench: cargo build --release" >&2
cargo build --release --locked --quiet --bin proofgate

exec "$venv/bin/python" benches/junit/bench.py run --proofgate target/release/proofgate "$@"
