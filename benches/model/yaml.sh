#!/usr/bin/env bash
# Benchmark: the header YAML fast path (src/model/fastyaml.rs) against serde_yaml_ng alone,
# on the header texts of the benches/model/gen.py corpus. Both run in one process on the
# same texts, paired A B A B, median of the pairs; the harness first checks that the fast
# path gives serde_yaml_ng's value for every header it takes.
#
#   bash benches/model/yaml.sh          # quick: 2,000 headers, 21 pairs
#   bash benches/model/yaml.sh --full   # 20,000 headers, 21 pairs (the README figures)
set -euo pipefail
cd "$(dirname "$0")/../.."

N=2000
PAIRS=21
if [ "${1:-}" = "--full" ]; then
  N=20000
fi
DIR="target/bench-model/yaml"
mkdir -p "$DIR/src"
CORPUS="$DIR/headers-$N.txt"
python3 benches/model/gen.py --headers "$CORPUS" "$N"

# A standalone crate: the harness includes src/model/fastyaml.rs by path and depends on the
# serde_yaml_ng version in the project's Cargo.lock, built offline with the same profile.
version=$(awk '/^name = "serde_yaml_ng"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
cat > "$DIR/Cargo.toml" <<TOML
[package]
name = "yaml_harness"
version = "0.0.0"
edition = "2024"
publish = false

[[bin]]
name = "yaml_harness"
path = "../../../benches/model/yaml_harness.rs"

[dependencies]
serde_yaml_ng = "=$version"

[profile.release]
lto = "thin"
codegen-units = 4

[workspace]
TOML
cp Cargo.lock "$DIR/Cargo.lock"
echo "building the harness…" >&2
cargo build --release --quiet --offline --manifest-path "$DIR/Cargo.toml"
"$DIR/target/release/yaml_harness" "$CORPUS" "$PAIRS"
