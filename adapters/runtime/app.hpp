// The product wired together over one SQLite file: store, directory, definitions, system clock and the
// command service. Shared by the CLI, the benchmarks and (later) the server.
#pragma once
#include <fmt/format.h>

#include <memory>
#include <thread>
#include <string>

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

  bool virtual_clock() const { return clock_kind.kind == "virtual"; }

  // Reads again what `hoso init` installed since this app read it (the store's config_version moved): the
  // directory (in place, so the service's reference stays good), the calendar, and which definition of
  // each workflow is current. All is read in one snapshot before anything is replaced: on failure (the stored
  // config does not load: kInternal, reason config_unreadable) the app is as it was, and the next call tries
  // again. Returns whether anything was read. Called by whoever uses the app, on its thread, before the work
  // that relies on the config (the API before authenticating, the timers before firing).
  Result<bool> refresh() {
    auto moved = store->config_version();  // alone first: the common case opens no transaction
    if (!moved) return moved.error();
    if (*moved == config_version) return false;
    std::int64_t version = 0;
    std::optional<Directory> dir;
    std::shared_ptr<const BusinessCalendar> calendar;
    Status read = store->snapshot([&]() -> Status {
      auto v = store->config_version();
      if (!v) return v.error();
      version = *v;
      auto d = yaml::directory_from_store(*store);
      if (!d) return d.error();
      if (d->version() != directory.version()) dir = std::move(d.value());
      auto c = yaml::calendar_from_store(*store);
      if (!c) return c.error();
      calendar = std::move(c.value());
      return Status::Ok();
    });
    if (!read) {
      Error e = read.error();
      if (e.code == ErrorCode::kInternal && e.reason.empty()) return e;  // the store itself failed
      return Error{ErrorCode::kInternal,
                   fmt::format("Không đọc được cấu hình mà hoso init đã lưu: {}", e.message),
                   "config_unreadable", e.subject};
    }
    if (dir) {
      directory = std::move(*dir);
      service->directory_replaced();
    }
    service->set_calendar(std::move(calendar));
    registry->forget_current();
    config_version = version;
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
