#!/usr/bin/env bash
# Installs dependencies, builds (release), and runs the platform locally with a short demo.
# This is the README's run command. Extra arguments go to deploy/run-local.sh (e.g. --stay).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
cmake --build build
bash deploy/run-local.sh --build build "$@"
