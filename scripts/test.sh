#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with meson.
#   scripts/test.sh                  the whole suite in ./build
#   VH_BUILDDIR=DIR scripts/test.sh  another build directory
#   scripts/test.sh --suite unit     any further arguments go to `meson test`
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
builddir=${VH_BUILDDIR:-build}
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" ${VH_MESON_SETUP_ARGS:-} >/dev/null
fi
ninja -C "$builddir"
meson test -C "$builddir" --print-errorlogs "$@"
