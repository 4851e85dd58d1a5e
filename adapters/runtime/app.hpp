// The product wired together over one SQLite file: store, directory, definitions, system clock and the
// command service. Shared by the CLI, the benchmarks and (later) the server.
#pragma once
#include <memory>
#include <string>

#include "adapters/runtime/system_clock.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/service.hpp"

namespace hoso {

struct App {
  std::unique_ptr<SqliteStore> store;
  Directory directory;
  std::unique_ptr<yaml::StoreDefinitionRegistry> registry;
  SystemClock clock;
  std::unique_ptr<CommandService> service;

  // Wires the service over an open store whose directory is loaded. Fails when the stored directory is
  // invalid.
  static Result<std::unique_ptr<App>> over(std::unique_ptr<SqliteStore> store) {
    auto dir = yaml::directory_from_store(*store);
    if (!dir) return dir.error();
    auto app = std::make_unique<App>();
    app->store = std::move(store);
    app->directory = std::move(dir.value());
    app->registry = std::make_unique<yaml::StoreDefinitionRegistry>(*app->store);
    app->service = std::make_unique<CommandService>(*app->store, app->clock, *app->registry, app->directory);
    auto calendar = yaml::calendar_from_store(*app->store);
    if (!calendar) return calendar.error();
    app->service->set_calendar(calendar.value());
    return app;
  }
};

}  // namespace hoso
