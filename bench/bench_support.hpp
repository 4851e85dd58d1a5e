// What the benchmarks share: timing, and stopping with a message when a step that must work fails.
#pragma once
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/result.hpp"

namespace hoso::bench {

using Clk = std::chrono::steady_clock;

inline double seconds_since(Clk::time_point t) { return std::chrono::duration<double>(Clk::now() - t).count(); }

// Prints "<program>: <what>" and exits 1: a benchmark whose setup fails has nothing to report.
[[noreturn]] inline void die(const std::string& what) {
  std::cerr << "bench: " << what << "\n";
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) die(fmt::format("{}: {}", what, r.error().message));
  return std::move(r.value());
}

inline void must(const Status& s, const char* what) {
  if (!s) die(fmt::format("{}: {}", what, s.error().message));
}

}  // namespace hoso::bench
