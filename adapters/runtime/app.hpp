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

  bool virtual_clock() const { return clock_kind.kind == "virtual"; }

  // Wires the service over an open store whose directory is loaded. Fails when the stored directory is
  // invalid.
  static Result<std::unique_ptr<App>> over(std::unique_ptr<SqliteStore> store) {
    auto dir = yaml::directory_from_store(*store);
    if (!dir) return dir.error();
    auto app = std::make_unique<App>();
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
