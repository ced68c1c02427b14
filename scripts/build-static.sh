#!/usr/bin/env bash
# Builds a release binary of proofgate into target/static and prints its path.
#
#   scripts/build-static.sh [TARGET]
#
# TARGET (default x86_64-unknown-linux-musl):
#   x86_64-unknown-linux-musl   static, built with musl-gcc (scripts/setup.d/30-gate.sh);
#                               checked with ldd
#   aarch64-unknown-linux-musl  static, cross-built with cargo-zigbuild (zig is the C compiler
#                               and linker; scripts/setup.d/60-cross.sh); its ELF header is
#                               checked with `file`
#   x86_64-pc-windows-gnu       cross-built with mingw-w64 (scripts/setup.d/60-cross.sh), the
#                               C runtime linked in; needs only DLLs that ship with Windows
# Linux binaries are linked non-PIE static (crt-static, relocation-model=static).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:-x86_64-unknown-linux-musl}"
OUT=target/static
STATIC_FLAGS="-C target-feature=+crt-static -C relocation-model=static"

case "$TARGET" in
  x86_64-unknown-linux-musl)
    export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-musl-gcc}"
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="${CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS:-$STATIC_FLAGS}"
    cargo build --release --locked --target "$TARGET" --target-dir "$OUT" --bin proofgate >&2
    BIN="$OUT/$TARGET/release/proofgate"
    # ldd exits 1 on a static binary: read its words, not its status.
    LDD=$(ldd "$BIN" 2>&1 || true)
    case "$LDD" in
      *"not a dynamic executable"*) ;;
      *) echo "error: $BIN is not static: $LDD" >&2; exit 1 ;;
    esac
    ;;
  aarch64-unknown-linux-musl)
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS:-$STATIC_FLAGS}"
    cargo zigbuild --release --locked --target "$TARGET" --target-dir "$OUT" --bin proofgate >&2
    BIN="$OUT/$TARGET/release/proofgate"
    FILE=$(file -b "$BIN")
    case "$FILE" in
      *"ARM aarch64"*"statically linked"*) ;;
      *) echo "error: $BIN is not a static aarch64 executable: $FILE" >&2; exit 1 ;;
    esac
    ;;
  x86_64-pc-windows-gnu)
    export CC_x86_64_pc_windows_gnu="${CC_x86_64_pc_windows_gnu:-x86_64-w64-mingw32-gcc}"
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER:-x86_64-w64-mingw32-gcc}"
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS:--C target-feature=+crt-static}"
    cargo build --release --locked --target "$TARGET" --target-dir "$OUT" --bin proofgate >&2
    BIN="$OUT/$TARGET/release/proofgate.exe"
    FILE=$(file -b "$BIN")
    case "$FILE" in
      *"PE32+ executable"*"x86-64"*) ;;
      *) echo "error: $BIN is not an x86-64 Windows executable: $FILE" >&2; exit 1 ;;
    esac
    ;;
  *)
    echo "error: no static build for target \`$TARGET\`; use x86_64-unknown-linux-musl, aarch64-unknown-linux-musl or x86_64-pc-windows-gnu" >&2
    exit 2
    ;;
esac
echo "$BIN"
