#!/bin/sh
# Builds the prebuilt reaper addons shipped in native/reaper/prebuilds/ (run by
# `npm run prebuilds` on a Debian x64 machine with build-essential, musl-tools
# and gcc-aarch64-linux-gnu). N-API: one build per platform serves every Node.
set -eu
cd "$(dirname "$0")"
# node-gyp takes the headers from this Node's own prefix instead of downloading them
npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"
export npm_config_nodedir
rm -rf prebuilds
prebuildify --napi --strip --tag-libc --libc=glibc
CC=musl-gcc CXX=musl-gcc LINK=musl-gcc prebuildify --napi --strip --tag-libc --libc=musl
if command -v aarch64-linux-gnu-gcc >/dev/null; then
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-gcc LINK=aarch64-linux-gnu-gcc \
    prebuildify --napi --strip --strip-bin=aarch64-linux-gnu-strip --tag-libc --libc=glibc --arch=arm64
fi
rm -rf build
