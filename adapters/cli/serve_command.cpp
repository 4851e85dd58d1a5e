// hoso serve: the HTTP API, the durable timers and notification delivery (the file adapter) in one process.
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "adapters/cli/context.hpp"
#include "adapters/http/server.hpp"
#include "adapters/notify/file_notifier.hpp"

namespace hoso::cli {

namespace {

// Delivers pending notices from a thread of its own, on a connection of its own, so that a slow receiver
// never holds up the API or the timers. Wakes every `period` and when told to stop.
class Dispatcher {
 public:
  Dispatcher(std::unique_ptr<App> app, std::string file, std::function<void(const std::string&)> log)
      : app_(std::move(app)), notifier_(std::move(file)), log_(std::move(log)) {}
  void start() { thread_ = std::thread([this] { loop(); }); }
  void stop() {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    auto templates = yaml::templates_from_store(*app_->store);
    if (!templates) {
      log_(fmt::format("notify: {}", templates.error().message));
      return;
    }
    std::unique_lock lock(m_);
    while (!stopping_) {
      lock.unlock();
      deliver(*templates);
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }
  void deliver(const std::vector<NotificationTemplate>& templates) {
    auto batch = app_->service->pending_notifications(100, templates);
    if (!batch) return log_(fmt::format("notify: {}", batch.error().message));
    for (const auto& n : *batch) {
      if (auto st = notifier_.deliver(n, app_->clock->now()); !st) return log_(fmt::format("notify: {}", st.error().message));
      if (auto st = app_->service->record_delivered(n, "file"); !st)
        return log_(fmt::format("notify: {}", st.error().message));
    }
  }

  std::unique_ptr<App> app_;
  FileNotifier notifier_;
  std::function<void(const std::string&)> log_;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace

int cmd_serve(Ctx& c) {
  if (c.args.positional.size() != 1) return usage(c, "cách dùng: hoso serve [--listen ĐỊA_CHỈ:CỔNG] [--file TỆP] [--read-timeout MS]");
  http::ServerSettings settings;
  const std::string listen = c.args.get("listen").value_or(std::getenv("HOSO_LISTEN") ? std::getenv("HOSO_LISTEN") : "127.0.0.1:8080");
  const auto colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535)
    return usage(c, fmt::format("--listen cần dạng ĐỊA_CHỈ:CỔNG, nhận được '{}'", listen));
  settings.address = listen.substr(0, colon);
  settings.port = static_cast<std::uint16_t>(port);
  if (auto ms = c.args.get("read-timeout")) {
    try {
      settings.read_timeout = std::chrono::milliseconds(std::stoll(*ms));
    } catch (const std::exception&) {
      return usage(c, fmt::format("--read-timeout cần số mili giây, nhận được '{}'", *ms));
    }
    if (settings.read_timeout.count() <= 0) return usage(c, "--read-timeout phải lớn hơn 0");
  }
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  auto second = open_runtime(c);  // the dispatcher's own connection
  if (!second) return fail(c, second.error());
  std::mutex log_mutex;
  auto log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    c.err << "hoso serve: " << line << std::endl;
  };
  http::Server server(**app, settings);
  auto bound = server.listen();
  if (!bound) return fail(c, bound.error());
  c.out << fmt::format("Đang phục vụ tại http://{}:{}", settings.address, *bound) << std::endl;
  Dispatcher dispatcher(std::move(*second), c.args.get("file").value_or(c.db() + ".notifications.jsonl"), log);
  dispatcher.start();
  Status ran = server.run(log);
  dispatcher.stop();
  log("stopped");
  return ran ? 0 : fail(c, ran.error());
}

}  // namespace hoso::cli
