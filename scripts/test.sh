#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, formatting, lints, every test.
# Real peers (Python verifiers, npm clients, act) are required: a missing one fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${PROOFGATE_SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh
fi
export PROOFGATE_REQUIRE_PEERS=1

# One throwaway PostgreSQL cluster for the whole run; each store test makes its own database.
pg_dir=$(mktemp -d /tmp/proofgate-pg.XXXXXX)
chmod 755 "$pg_dir"
trap 'bash scripts/pg.sh stop "$pg_dir"' EXIT
PROOFGATE_TEST_PG_URL=$(bash scripts/pg.sh start "$pg_dir/cluster")
export PROOFGATE_TEST_PG_URL

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings" >&2
cargo clippy --all-targets --locked -- -D warnings
echo "== doc tests" >&2
cargo test --locked --doc
echo "== benches (quick), checked against benches/baseline.tsv" >&2
# Fails only when a ratio fell by more than 2x against the committed quick table (a bench
# that fails is printed as an error); needs the release build, incremental after the first.
bash benches/run.sh --quick --check benches/baseline.tsv --rows target/bench-quick.tsv
# Last, so that its summary line closes the run.
echo "== cargo nextest run" >&2
cargo nextest run --locked --no-fail-fast
