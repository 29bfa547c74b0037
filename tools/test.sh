#!/usr/bin/env bash
# Set-up (idempotent), build and run the whole test suite with ctest.
#   tools/test.sh            Release build in build/
#   BUILD_DIR=... CMAKE_ARGS="-DMUSEFM_SANITIZE=ON" tools/test.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup.sh
build="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"
start=$(date +%s)
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs"
echo "build: $(( $(date +%s) - start )) s"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
