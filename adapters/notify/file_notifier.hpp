// The file notification adapter: appends each delivered notification to a file as one JSON line and
// makes it durable (fsync) before reporting it delivered. Until the email and webhook adapters exist, this
// is how notices leave hoso; the file is the evidence a reader or another system picks up.
#pragma once
#include <string>

#include "engine/result.hpp"
#include "engine/service.hpp"
#include "engine/time.hpp"

namespace hoso {

class FileNotifier {
 public:
  explicit FileNotifier(std::string path) : path_(std::move(path)) {}
  // Appends `n` (delivered at `at`) as one JSON line and syncs the file; kInternal naming the file when
  // it cannot be written. A crash between this and recording the delivery repeats the line later
  // (at-least-once): readers deduplicate by "id".
  Status deliver(const Notification& n, Timestamp at);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hoso
