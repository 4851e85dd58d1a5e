#include "adapters/notify/file_notifier.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>

namespace hoso {

Status FileNotifier::deliver(const Notification& n, Timestamp at) {
  namespace json = boost::json;
  json::array emails;
  for (const auto& e : n.emails) emails.push_back(json::string(e));
  const std::string line = json::serialize(json::object{{"id", n.id()},
                                                        {"dossier", n.dossier},
                                                        {"event_seq", n.event_seq},
                                                        {"to_org", n.to_org},
                                                        {"to_org_name", n.to_org_name},
                                                        {"emails", std::move(emails)},
                                                        {"template", n.template_key},
                                                        {"subject", n.subject},
                                                        {"body", n.body},
                                                        {"created_at", n.created_at},
                                                        {"delivered_at", format_utc(at)}}) +
                           "\n";
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
