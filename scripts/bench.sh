#!/usr/bin/env bash
# Installs dependencies, builds (optimised) and runs the benchmarks. Extra arguments go to hoso_bench.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec ./build/bench/hoso_bench "$@"
