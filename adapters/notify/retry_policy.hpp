// How a notice that failed is tried again on one channel: exponential backoff, then a dead letter.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace hoso {

// By default a receiver may be down for about nine hours (a night) before a notice to it is given up:
// waits of 2 s doubling to an hour, 20 attempts.
struct RetryPolicy {
  int max_attempts = 20;  // attempts per notice and channel; the last failure dead-letters it
  std::chrono::milliseconds initial_backoff{2000};
  std::chrono::milliseconds max_backoff{3'600'000};
  double multiplier = 2.0;
  // The wait after the `failures`-th failed attempt (from 1; below 1 counts as 1):
  // min(max_backoff, initial_backoff * multiplier^(failures-1)).
  std::chrono::milliseconds backoff(std::int64_t failures) const {
    const double delay = static_cast<double>(initial_backoff.count()) *
                         std::pow(multiplier, static_cast<double>(std::max<std::int64_t>(failures, 1) - 1));
    if (!std::isfinite(delay) || delay >= static_cast<double>(max_backoff.count())) return max_backoff;
    return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
  }
};

}  // namespace hoso
