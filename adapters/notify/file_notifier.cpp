#include "adapters/notify/file_notifier.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>

#include "adapters/notify/notification_json.hpp"

namespace hoso {

Status FileNotifier::deliver(const Notification& n, Timestamp at) {
  const std::string line = boost::json::serialize(notification_json(n, at)) + "\n";
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return make_error(ErrorCode::kInternal,
                      fmt::format("không mở được tệp thông báo {}: {}", path_, std::strerror(errno)));
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t w = ::write(fd, line.data() + done, line.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      return make_error(ErrorCode::kInternal, fmt::format("không ghi được tệp thông báo {}: {}", path_, std::strerror(err)));
    }
    done += static_cast<std::size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced)
    return make_error(ErrorCode::kInternal, fmt::format("không lưu được tệp thông báo {}: {}", path_, std::strerror(err)));
  return Status::Ok();
}

}  // namespace hoso
