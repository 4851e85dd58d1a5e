#include "adapters/notify/file_notifier.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>

#include "adapters/notify/notification_json.hpp"

namespace hoso {

namespace {

Error file_error(const char* doing, const std::string& path, int err) {
  return make_error(ErrorCode::kInternal, fmt::format("không {} tệp thông báo {}: {}", doing, path, std::strerror(err)));
}

}  // namespace

FileNotifier::~FileNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileNotifier::deliver(const Notification& n, Timestamp at) {
  // After a half line that could not be cut off, this one starts on a line of its own.
  std::string line = need_newline_ ? "\n" : "";
  line += boost::json::serialize(notification_json(n, at));
  line += '\n';
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return file_error("mở được", path_, errno);
  }
  // Where the line begins: a write that stops partway (the disk or the file's size limit reached) is cut off
  // again, so that no half line is left for the next one to be glued to (a line no reader could parse).
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  if (start < 0) return file_error("ghi được", path_, errno);
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t w = ::write(fd_, line.data() + done, line.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      // Not even cut back: the next line starts on a line of its own.
      if (done > 0 && ::ftruncate(fd_, start) != 0) need_newline_ = true;
      return file_error("ghi được", path_, err);
    }
    done += static_cast<std::size_t>(w);
  }
  need_newline_ = false;
  return Status::Ok();
}

Status FileNotifier::flush() {
  if (fd_ < 0) return Status::Ok();
  const bool synced = ::fsync(fd_) == 0;
  const int err = errno;
  ::close(fd_);
  fd_ = -1;
  if (!synced) return file_error("lưu được", path_, err);
  return Status::Ok();
}

DeliveryChannel file_channel(std::shared_ptr<FileNotifier> notifier) {
  return DeliveryChannel{
      "file",
      [notifier](const Notification& n, Timestamp at, DeliveryReceipt&) { return notifier->deliver(n, at); },
      [notifier] { return notifier->flush(); }};
}

}  // namespace hoso
