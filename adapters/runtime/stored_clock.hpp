// The clock of a simulation database: its "now" is stored in the database (hoso init --clock virtual)
// and only `hoso clock set|advance` moves it.
#pragma once
#include "engine/store.hpp"
#include "engine/time.hpp"

namespace hoso {

class StoredClock : public Clock {
 public:
  StoredClock(Store& store, Timestamp start) : store_(store), last_(start) {}
  // The stored time, read afresh (another process may have moved it); the last one read if the read
  // fails, so a command never sees time go backwards.
  Timestamp now() override {
    if (auto c = store_.clock(); c && c->kind == "virtual")
      if (auto at = parse_utc(c->at); at && last_ < *at) last_ = *at;
    return last_;
  }

 private:
  Store& store_;
  Timestamp last_;
};

}  // namespace hoso
