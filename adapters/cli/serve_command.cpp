// hoso serve: the HTTP API, the durable timers and notification delivery (the file adapter) in one process.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "adapters/cli/context.hpp"
#include "adapters/http/server.hpp"
#include "adapters/notify/dispatcher.hpp"
#include "adapters/notify/file_notifier.hpp"
#include "adapters/notify/webhook_notifier.hpp"

namespace hoso::cli {

namespace {

// Delivers pending notices from a thread of its own, on a connection of its own, so that a slow or dead
// receiver never holds up the API or the timers. Each round sends what is due (NoticeDispatcher: in log
// order, every attempt recorded, failures retried with exponential backoff, then dead-lettered); between
// rounds it sleeps a second, or until the next retry is due if that is sooner, or until told to stop.
class Dispatcher {
 public:
  Dispatcher(std::unique_ptr<App> app, std::vector<DeliveryChannel> channels, RetryPolicy retry,
             std::function<void(const std::string&)> log)
      : app_(std::move(app)), channels_(std::move(channels)), retry_(retry), log_(std::move(log)) {}
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
    NoticeDispatcher dispatcher(*app_->service, *app_->clock, channels_, retry_, std::move(*templates));
    std::unique_lock lock(m_);
    while (!stopping_) {
      lock.unlock();
      auto wait = std::chrono::milliseconds(1000);
      auto round = dispatcher.run(1000, log_);
      if (!round) {
        log_(fmt::format("notify: {} ({})", round.error().message, round.error().reason));
      } else if (round->waiting_until) {
        const auto until = std::chrono::milliseconds(round->waiting_until->millis - app_->clock->now().millis);
        wait = std::clamp(until, std::chrono::milliseconds(10), wait);
      }
      lock.lock();
      cv_.wait_for(lock, wait, [this] { return stopping_; });
    }
  }

  std::unique_ptr<App> app_;
  std::vector<DeliveryChannel> channels_;
  RetryPolicy retry_;
  std::function<void(const std::string&)> log_;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace

int cmd_serve(Ctx& c) {
  if (c.args.positional.size() != 1) return usage(c, "cách dùng: hoso serve [--listen ĐỊA_CHỈ:CỔNG] [--file TỆP | --webhook URL] [--read-timeout MS]");
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
  // The webhook's secret comes from the environment only, never from the command line or a log.
  std::vector<DeliveryChannel> channels;
  if (auto url = c.args.get("webhook")) {
    if (c.args.get("file")) return usage(c, "chỉ dùng một trong --file và --webhook");
    const char* secret = std::getenv("HOSO_WEBHOOK_SECRET");
    if (secret == nullptr || *secret == '\0')
      return usage(c, "--webhook cần khóa ký HMAC trong biến môi trường HOSO_WEBHOOK_SECRET");
    auto notifier = std::make_shared<WebhookNotifier>(WebhookSettings{*url, secret});
    channels.push_back({"webhook", [notifier](const Notification& n, Timestamp at) { return notifier->deliver(n, at); }});
  } else {
    auto notifier = std::make_shared<FileNotifier>(c.args.get("file").value_or(c.db() + ".notifications.jsonl"));
    channels.push_back({"file", [notifier](const Notification& n, Timestamp at) { return notifier->deliver(n, at); }});
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
  Dispatcher dispatcher(std::move(*second), std::move(channels), RetryPolicy{}, log);
  dispatcher.start();
  Status ran = server.run(log);
  dispatcher.stop();
  log("stopped");
  return ran ? 0 : fail(c, ran.error());
}

}  // namespace hoso::cli
