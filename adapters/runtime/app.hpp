// The product wired together over one SQLite file: store, directory, definitions, system clock and the
// command service. Shared by the CLI, the benchmarks and (later) the server.
#pragma once
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "adapters/runtime/stored_clock.hpp"
#include "adapters/runtime/system_clock.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/service.hpp"

namespace hoso {

struct App {
  std::unique_ptr<SqliteStore> store;
  Directory directory;
  std::unique_ptr<yaml::StoreDefinitionRegistry> registry;
  std::unique_ptr<Clock> clock;  // SystemClock, or StoredClock for a simulation database
  ClockRecord clock_kind;        // as stored when the app was wired
  std::unique_ptr<CommandService> service;

  std::int64_t config_version = 0;  // the store's config_version when the above were read
  // The config version refresh() could not read, and why (not read again until the version moves).
  std::int64_t unreadable_version_ = -1;
  std::optional<Error> unreadable_;

  bool virtual_clock() const { return clock_kind.kind == "virtual"; }

  // The log line for a refresh() that read the config again.
  std::string config_read_line() const {
    return fmt::format("config: read again at version {} (directory version {}, {} users)", config_version,
                       directory.version(), directory.users().size());
  }

  // Reads again what `hoso init` installed since this app read it (the store's config_version moved): the
  // directory (in place, so the service's reference stays good; the service forgets the states it remembers,
  // which name orgs and users by their place in it) and the calendar, in one snapshot, and forgets which
  // definition of each workflow is current (read again when next asked). Nothing is replaced unless all of it
  // was read: on failure the app is as it was and the error is kInternal with reason config_unreadable (or
  // the store's own reason, e.g. storage_full); a version whose content does not load is not read again until
  // the version moves (`failure_log`, when given, gets an English line when it was read). Returns whether it
  // read anything. Called by whoever uses the app, on its thread, before the work that relies on the config
  // (the API before authenticating, the engine before timers, the dispatcher before a round).
  Result<bool> refresh(std::string* failure_log = nullptr) {
    auto moved = store->config_version();  // alone first: the common case opens no transaction
    if (!moved) return moved.error();
    if (*moved == config_version) return false;
    if (unreadable_ && *moved == unreadable_version_) return *unreadable_;
    std::int64_t version = *moved;
    std::optional<Directory> dir;
    std::shared_ptr<const BusinessCalendar> calendar;
    Status read = store->snapshot([&]() -> Status {
      auto v = store->config_version();
      if (!v) return v.error();
      version = *v;
      auto d = yaml::directory_from_store(*store);
      if (!d) return d.error();
      dir = std::move(d.value());
      auto c = yaml::calendar_from_store(*store);
      if (!c) return c.error();
      calendar = std::move(c.value());
      return Status::Ok();
    });
    if (!read) {
      const Error& e = read.error();
      if (!e.reason.empty()) return e;  // the store's own trouble (a full disk ...): tried again next time
      if (failure_log)
        *failure_log =
            fmt::format("config: version {} cannot be read, the previous one stays: {}", version, e.message);
      Error unreadable{ErrorCode::kInternal,
                       fmt::format("Không đọc được cấu hình mà hoso init đã lưu: {}", e.message),
                       "config_unreadable", e.subject};
      // What was stored does not load (not the store failing to read it, which is tried again next time).
      if (e.code != ErrorCode::kInternal) {
        unreadable_version_ = version;
        unreadable_ = unreadable;
      }
      return unreadable;
    }
    directory = std::move(*dir);
    service->directory_replaced();
    service->set_calendar(std::move(calendar));
    registry->forget_current();
    config_version = version;
    unreadable_.reset();
    return true;
  }

  // Wires the service over an open store whose directory is loaded. Fails when the stored directory is
  // invalid.
  static Result<std::unique_ptr<App>> over(std::unique_ptr<SqliteStore> store) {
    // The config version first: a change made while the rest is read is read again by refresh().
    auto version = store->config_version();
    if (!version) return version.error();
    auto dir = yaml::directory_from_store(*store);
    if (!dir) return dir.error();
    auto app = std::make_unique<App>();
    app->config_version = *version;
    app->store = std::move(store);
    app->directory = std::move(dir.value());
    app->registry = std::make_unique<yaml::StoreDefinitionRegistry>(*app->store);
    auto clock = app->store->clock();
    if (!clock) return clock.error();
    app->clock_kind = *clock;
    if (clock->kind == "virtual") {
      auto at = parse_utc(clock->at);
      if (!at)
        return make_error(ErrorCode::kInternal, fmt::format("giờ của đồng hồ ảo '{}' không hợp lệ", clock->at));
      app->clock = std::make_unique<StoredClock>(*app->store, *at);
    } else {
      app->clock = std::make_unique<SystemClock>();
    }
    app->service = std::make_unique<CommandService>(*app->store, *app->clock, *app->registry, app->directory);
    auto calendar = yaml::calendar_from_store(*app->store);
    if (!calendar) return calendar.error();
    app->service->set_calendar(calendar.value());
    app->service->set_parallelism(std::thread::hardware_concurrency());
    return app;
  }
};

}  // namespace hoso
