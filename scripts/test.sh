#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors, and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DHOSO_WERROR=ON
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
