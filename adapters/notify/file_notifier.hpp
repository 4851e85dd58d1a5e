// The file notification adapter: appends each delivered notification to a file as one JSON line; the lines
// of a dispatch batch are made durable together (one fsync, flush()) before any of them is recorded as
// delivered. The file is the evidence a reader or another system picks up.
#pragma once
#include <memory>
#include <string>

#include "adapters/notify/dispatcher.hpp"
#include "engine/result.hpp"
#include "engine/service.hpp"
#include "engine/time.hpp"

namespace hoso {

class FileNotifier {
 public:
  explicit FileNotifier(std::string path) : path_(std::move(path)) {}
  ~FileNotifier();
  FileNotifier(const FileNotifier&) = delete;
  FileNotifier& operator=(const FileNotifier&) = delete;

  // Appends `n` (delivered at `at`) as one JSON line; kInternal naming the file when it cannot be opened or
  // written, and then nothing of the line is left in the file (a part written is cut off again). Not yet
  // durable: flush() makes it so.
  Status deliver(const Notification& n, Timestamp at);
  // Syncs the lines appended since the last flush and closes the file; kInternal naming the file when the
  // disk refuses them. A crash between the flush and recording the deliveries repeats the lines later
  // (at-least-once): readers deduplicate by "id".
  Status flush();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;  // open while lines wait for flush()
  bool need_newline_ = false;  // a half line could not be cut off: the next line starts after a newline
};

// The "file" channel over `notifier`: deliver appends, the batch's flush syncs.
DeliveryChannel file_channel(std::shared_ptr<FileNotifier> notifier);

}  // namespace hoso
