#!/usr/bin/env bash
# Builds the static release binary for x86_64-unknown-linux-musl and checks that it is
# static. Prints its path. Needs the musl target and musl-gcc (scripts/setup.d/30-gate.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl
export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-musl-gcc}"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="${CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS:--C target-feature=+crt-static -C relocation-model=static}"
cargo build --release --locked --target "$TARGET" --target-dir target/static --bin proofgate >&2
BIN="target/static/$TARGET/release/proofgate"
# ldd exits 1 on a static binary: read its words, not its status.
LDD=$(ldd "$BIN" 2>&1 || true)
case "$LDD" in
  *"not a dynamic executable"*) ;;
  *) echo "error: $BIN is not static: $LDD" >&2; exit 1 ;;
esac
echo "$BIN"
