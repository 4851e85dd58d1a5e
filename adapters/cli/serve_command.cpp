// hoso serve: the HTTP API, the durable timers and notification delivery (the file adapter) in one process.
#include <fmt/format.h>
#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "adapters/cli/context.hpp"
#include "adapters/http/server.hpp"
#include "adapters/notify/dispatcher.hpp"
#include "adapters/notify/file_notifier.hpp"
#include "adapters/notify/smtp_notifier.hpp"
#include "adapters/notify/webhook_notifier.hpp"
#include "adapters/runtime/thread_priority.hpp"
#include "adapters/yaml/server_config.hpp"

namespace hoso::cli {

namespace {

// Delivers pending notices from a thread of its own, on a connection of its own, so that a slow or dead
// receiver never holds up the API or the timers. Each round sends what is due (NoticeDispatcher: in log
// order, each notice settling on its own, every attempt recorded, failures retried with exponential backoff,
// then dead-lettered); between rounds it sleeps a second, or until the next retry is due if that is sooner,
// or until told to stop.
class Dispatcher {
 public:
  // Reads pending notices on a connection of its own; the attempts are written by the server's engine.
  Dispatcher(std::unique_ptr<App> app, http::Server& server, std::vector<DeliveryChannel> channels,
             RetryPolicy retry, std::function<void(const std::string&)> log)
      : app_(std::move(app)),
        server_(server),
        channels_(std::move(channels)),
        retry_(retry),
        log_(std::move(log)) {}
  void start() {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "hoso-notices");
      log_(lower_thread_priority("notice", kNoticeNice));
      loop();
    });
  }
  // Stops between two notices (one in delivery is finished) and records what was sent; waits for that.
  void stop() {
    stop_requested_ = true;
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
    LogSync log_sync(app_->store->path());  // the server's engine defers its flushes
    // Opened now, while descriptors are free (a failure here is met again, and logged, at the first round).
    if (Status opened = log_sync.sync(); !opened) log_(fmt::format("notify: {}", opened.error().message));
    dispatcher.set_durability_barrier([&log_sync] { return log_sync.sync(); });
    // From SIGTERM on it sends nothing new; what it sent is recorded before the engine closes (run's
    // stopping).
    dispatcher.set_stop([this] { return stop_requested_.load() || server_.stopping(); });
    std::chrono::steady_clock::duration on_engine{};  // the engine's time this round spent recording
    bool held_up = false;  // clerks' requests reached the engine while this round's records held it
    dispatcher.set_recorder([&](const NoticeDispatcher::Write& write) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t before = server_.engine_requests();
      Status recorded = server_.on_engine([&](App& engine) { return write(*engine.service); });
      on_engine += std::chrono::steady_clock::now() - t0;
      held_up = held_up || server_.engine_requests() != before;
      return recorded ? log_sync.sync() : recorded;
    });
    std::unique_lock lock(m_);
    // After a failed round the next waits twice as long as the last, up to kLongestPause: what failed may
    // fail the same way again (a history edited by hand, a full disk), and notices a round sent but could not
    // record are sent again by the next (delivery is at least once), so repeating at once would repeat them.
    auto pause = std::chrono::milliseconds(1000);
    while (!stopping_ && !server_.stopping()) {
      lock.unlock();
      on_engine = {};
      held_up = false;
      // Recipients and texts as `hoso init` stored them last.
      Status config = refresh(dispatcher);
      auto round = config ? dispatcher.run(1000, log_) : Result<DispatchRound>(config.error());
      if (!round) {
        const auto wait = pause;
        log_(fmt::format("notify: {} ({}); trying again in {} ms", round.error().message,
                         round.error().reason, pause.count()));
        // A stored config that does not load is checked again soon (one read while its version stays).
        pause =
            std::min(pause * 2, round.error().reason == "config_unreadable" ? kConfigPause : kLongestPause);
        lock.lock();
        cv_.wait_for(lock, wait, [this] { return stopping_; });
        continue;
      }
      pause = std::chrono::milliseconds(1000);
      // A backlog goes on at once, unless clerks' requests waited behind this round's records: then the
      // engine is theirs for kYield times as long as the records took (each record is an event in a dossier's
      // chain, as costly as a clerk's command), so that notices never take more than 1/(kYield+1) of the
      // engine while clerks are at work, and all of it while none are.
      const auto wait = next_round_wait(*round, held_up, on_engine, kYield, app_->clock->now(),
                                        std::chrono::milliseconds(1000));
      lock.lock();
      if (wait.count() > 0) cv_.wait_for(lock, wait, [this] { return stopping_; });
    }
  }

  // When `hoso init` changed the config since this thread read it: the directory (whose users get the
  // notices) and the calendar again, and the templates.
  Status refresh(NoticeDispatcher& dispatcher) {
    auto refreshed = app_->refresh();
    if (!refreshed) return refreshed.error();
    templates_stale_ = templates_stale_ || *refreshed;
    if (!templates_stale_) return Status::Ok();
    auto templates = yaml::templates_from_store(*app_->store);
    if (!templates) return templates.error();  // tried again next round
    dispatcher.set_templates(std::move(*templates));
    templates_stale_ = false;
    log_(fmt::format("notify: config read again at version {}", app_->config_version));
    return Status::Ok();
  }
  bool templates_stale_ = false;  // the config moved and the templates are still to be read again

  static constexpr int kYield = 3;
  static constexpr std::chrono::milliseconds kLongestPause{300000};
  static constexpr std::chrono::milliseconds kConfigPause{10000};
  std::unique_ptr<App> app_;
  http::Server& server_;
  std::vector<DeliveryChannel> channels_;
  RetryPolicy retry_;
  std::function<void(const std::string&)> log_;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> stop_requested_{false};  // stopping_, read between notices without the lock
};

}  // namespace

namespace {

// Each connection holds a descriptor, and a service manager starts a process with a low soft limit on them
// (1,024 under systemd) below a far higher hard one: the server takes the hard limit (as Go programs do), and
// says what it got. Past it, accepting pauses (see Server) instead of failing in a loop.
std::string raise_open_files_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return "open files limit unknown";
  if (files.rlim_cur < files.rlim_max) {
    rlimit raised = files;
    raised.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
  }
  return files.rlim_cur == RLIM_INFINITY ? "open files unlimited" : fmt::format("open files limit {}", files.rlim_cur);
}

// ADDRESS:PORT, or nullopt.
std::optional<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) return std::nullopt;
  return std::pair{listen.substr(0, colon), static_cast<std::uint16_t>(port)};
}

// The channels the configuration names, in its order; refused (kInvalidDefinition, naming the channel) when
// the settings of one cannot work at all, so the server does not start rather than dead-letter every notice.
Result<std::vector<DeliveryChannel>> channels_of(const yaml::ServerConfig& cfg, const std::string& db) {
  auto unusable = [](const std::string& name, const Error& e) {
    return Error{ErrorCode::kInvalidDefinition,
                 fmt::format("cấu hình kênh thông báo '{}' không dùng được: {}", name, e.message),
                 "server_config", name};
  };
  std::vector<DeliveryChannel> out;
  for (const auto& name : cfg.channels) {
    if (name == "file") {
      out.push_back(file_channel(
          std::make_shared<FileNotifier>(cfg.file_path.empty() ? db + ".notifications.jsonl" : cfg.file_path)));
    } else if (name == "email") {
      auto n = std::make_shared<SmtpNotifier>(cfg.smtp);
      if (Status ready = n->ready(); !ready) return unusable(name, ready.error());
      out.push_back({name, [n](const Notification& x, Timestamp, DeliveryReceipt& receipt) {
                       return n->deliver(x, &receipt.left_out);
                     }});
    } else if (name == "webhook") {
      auto n = std::make_shared<WebhookNotifier>(cfg.webhook);
      if (Status ready = n->ready(); !ready) return unusable(name, ready.error());
      out.push_back(
          {name, [n](const Notification& x, Timestamp at, DeliveryReceipt&) { return n->deliver(x, at); }});
    }
  }
  return out;
}

}  // namespace

int cmd_serve(Ctx& c) {
  constexpr const char* kHow =
      "cách dùng: hoso serve [--config THƯ_MỤC] [--listen ĐỊA_CHỈ:CỔNG] [--file TỆP | --webhook URL] "
      "[--read-timeout MS]";
  if (c.args.positional.size() != 1) return usage(c, kHow);
  // The server's configuration: <config dir>/server.yaml (config/ unless --config says otherwise; without
  // the file, the defaults), then the HOSO_* environment, then the command line.
  const std::string file = c.args.get("config").value_or("config") + "/server.yaml";
  std::optional<std::string> path;
  if (c.args.get("config") || std::filesystem::exists(file)) path = file;
  auto loaded = yaml::load_server_config(path, yaml::process_env());
  if (!loaded) return fail(c, loaded.error());
  yaml::ServerConfig cfg = std::move(*loaded);
  if (auto listen = c.args.get("listen")) {
    auto at = parse_listen(*listen);
    if (!at) return usage(c, fmt::format("--listen cần dạng ĐỊA_CHỈ:CỔNG, nhận được '{}'", *listen));
    std::tie(cfg.address, cfg.port) = *at;
  }
  if (auto ms = c.args.get("read-timeout")) {
    // The whole value is a number of milliseconds ("10s" is not 10 ms).
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(ms->data(), ms->data() + ms->size(), n);
    if (ec != std::errc() || end != ms->data() + ms->size())
      return usage(c, fmt::format("--read-timeout cần số mili giây, nhận được '{}'", *ms));
    cfg.read_timeout = std::chrono::milliseconds(n);
    if (cfg.read_timeout.count() <= 0) return usage(c, "--read-timeout phải lớn hơn 0");
    if (cfg.read_timeout.count() > yaml::kMaxSettingMillis)
      return usage(
          c, fmt::format("--read-timeout không được quá {} mili giây (30 ngày)", yaml::kMaxSettingMillis));
  }
  if (auto url = c.args.get("webhook")) {
    if (c.args.get("file")) return usage(c, "chỉ dùng một trong --file và --webhook");
    // The signing key comes from the environment only, never from the command line or a log.
    if (cfg.webhook.secret.empty())
      return usage(c, fmt::format("--webhook cần khóa ký HMAC trong biến môi trường {}", cfg.secret_env));
    cfg.webhook.url = *url;
    cfg.channels = {"webhook"};
  } else if (auto f = c.args.get("file")) {
    cfg.file_path = *f;
    cfg.channels = {"file"};
  }
  // The database: --db, else the configuration's, else the CLI default.
  Args args = c.args;
  if (!c.args.get("db") && !cfg.database.empty()) args.options["db"] = {cfg.database};
  Ctx ctx{args, c.out, c.err};
  http::ServerSettings settings;
  settings.address = cfg.address;
  settings.port = cfg.port;
  settings.read_timeout = cfg.read_timeout;
  settings.idle_timeout = cfg.idle_timeout;
  settings.max_connections = cfg.max_connections;
  settings.max_body = cfg.max_body;
  std::mutex log_mutex;
  auto log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    c.err << "hoso serve: " << line << std::endl;
  };
  auto channels = channels_of(cfg, ctx.db());
  if (!channels) return fail(c, channels.error());
  auto app = open_runtime(ctx);
  if (!app) return fail(c, app.error());
  auto second = open_runtime(ctx);  // the dispatcher's own connection
  if (!second) return fail(c, second.error());
  auto third = open_runtime(ctx);  // the reader's
  if (!third) return fail(c, third.error());
  for (auto* beside : {&*second, &*third})
    if (Status small = (*beside)->store->read_beside_writer(); !small) return fail(c, small.error());
  http::Server server(**app, settings, third->get());
  auto bound = server.listen();
  if (!bound) return fail(c, bound.error());
  log(fmt::format("database {}; {}; {}", ctx.db(), yaml::describe(cfg), raise_open_files_limit()));
  c.out << fmt::format("Đang phục vụ tại http://{}:{}", settings.address, *bound) << std::endl;
  Dispatcher dispatcher(std::move(*second), server, std::move(*channels), cfg.retry, log);
  // The dispatcher stops before the engine closes: what it sent is recorded, not sent again after a restart.
  Status ran = server.run(
      log, [&] { dispatcher.start(); }, [&] { dispatcher.stop(); });
  dispatcher.stop();  // when the server did not start
  log("stopped");
  return ran ? 0 : fail(c, ran.error());
}

}  // namespace hoso::cli
