#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors, and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# catch_discover_tests hands test names to CMake, which splits them at ';': such a test would be registered
# under a name that matches nothing and would "pass" without running.
if grep -rnE 'TEST_CASE\("[^"]*;' tests; then
  echo "error: the test names above contain ';', so ctest would never run them" >&2
  exit 1
fi
bash scripts/setup.sh
bash scripts/build.sh -DHOSO_WERROR=ON
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
cd ..
# The seeded fuzz run of the HTTP API's request mapping, in a build with AddressSanitizer and
# UndefinedBehaviorSanitizer (a fixed number of requests, so it takes the same short time every run).
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHOSO_SANITIZE=ON -DHOSO_WERROR=ON \
  -DHOSO_BUILD_BENCH=OFF >/dev/null
cmake --build build-sanitize -j"$(nproc)" --target api_fuzz
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-sanitize/tests/api_fuzz 20000
