#!/usr/bin/env bash
# Set-up (idempotent), build and run the whole test suite with ctest.
#   tools/test.sh            Release build in build/, with the Python module (python/) and its
#                            pytest suite (ctest python_api); CMAKE_ARGS=-DMUSEFM_BUILD_PYTHON=OFF
#                            leaves it out
#   BUILD_DIR=... CMAKE_ARGS="-DMUSEFM_SANITIZE=ON" tools/test.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup.sh
build="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"
start=$(date +%s)
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMUSEFM_BUILD_PYTHON=ON ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs"
echo "build: $(( $(date +%s) - start )) s"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
