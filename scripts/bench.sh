#!/usr/bin/env bash
# Installs dependencies, builds (optimised) and runs the benchmarks. Extra arguments go to hoso_bench;
# `scripts/bench.sh timers [options]` runs the durable-timer benchmark (build/bench/timer_bench) instead, and
# `scripts/bench.sh serve [options]` the load benchmark of `hoso serve` over loopback (build/bench/serve_bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
if [[ "${1:-}" == "timers" ]]; then
  shift
  exec ./build/bench/timer_bench "$@"
fi
if [[ "${1:-}" == "serve" ]]; then
  shift
  exec ./build/bench/serve_bench "$@"
fi
exec ./build/bench/hoso_bench "$@"
