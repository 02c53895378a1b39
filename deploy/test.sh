#!/usr/bin/env bash
# Installs dependencies, builds with AddressSanitizer + UndefinedBehaviorSanitizer, and runs
# every test (ctest). This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake -S . -B build-test -G Ninja -DPUSH_SANITIZE=ON -DPUSH_SHARED_LIBS=ON -DPUSH_DEBUG_LINES_ONLY=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-test
ctest --test-dir build-test --output-on-failure -j2 --timeout 300
