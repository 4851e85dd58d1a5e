// The production clock: the system's UTC time.
#pragma once
#include <chrono>

#include "engine/store.hpp"

namespace hoso {

class SystemClock : public Clock {
 public:
  Timestamp now() override {
    using namespace std::chrono;
    return Timestamp{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
  }
};

}  // namespace hoso
