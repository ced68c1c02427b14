#!/usr/bin/env bash
# Cross builds (tests/cross.rs): the arm64 Linux binary is built with cargo-zigbuild (zig
# from the `ziglang` wheel in tests/requirements/cross.txt is its C compiler and linker, with
# its own musl for aarch64) and run under qemu-aarch64 (qemu-user); the Windows x64 binary
# is built with the mingw-w64 C compiler and linker and run under wine (wine64). `file`
# reads the binaries' ELF headers in scripts/build-static.sh.
set -euo pipefail

ZIGBUILD_VERSION=0.24.1

for target in aarch64-unknown-linux-musl x86_64-pc-windows-gnu; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    rustup target add "$target" >/dev/null
  fi
done

if [ "$(cargo-zigbuild --version 2>/dev/null || true)" != "cargo-zigbuild $ZIGBUILD_VERSION" ]; then
  cargo install --locked "cargo-zigbuild@$ZIGBUILD_VERSION"
fi

missing=()
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null || missing+=(wine wine64)
command -v file >/dev/null || missing+=(file)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
