// What the CLI's command files share: one invocation's context and the helpers every command uses.
// Internal to adapters/cli.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "adapters/cli/args.hpp"
#include "adapters/runtime/app.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "engine/result.hpp"

namespace hoso::cli {

// Shared state of one invocation.
struct Ctx {
  const Args& args;
  std::ostream& out;
  std::ostream& err;
  bool json_out() const { return args.flag("json"); }
  std::string db() const { return args.get("db").value_or("hoso.db"); }
};

// Prints `e` (as JSON on stderr with --json) and returns its exit code.
int fail(Ctx& c, const Error& e);
// A usage error: the message, then the usage text; exit code 2.
int usage(Ctx& c, const std::string& msg);
// The database named by --db, which must exist.
Result<std::unique_ptr<SqliteStore>> open_existing(Ctx& c);
// The database with its directory, definitions, clock and command service.
Result<std::unique_ptr<App>> open_runtime(Ctx& c);

// "3d", "12h", "90m", "30s", "2w" and sums of them ("1d12h"): milliseconds, or nullopt (time_commands.cpp).
std::optional<std::int64_t> parse_duration(const std::string& s);
// hoso calendar holidays|add|between (time_commands.cpp).
int cmd_calendar(Ctx& c);
// hoso clock show|set|advance: the virtual clock of a simulation database (time_commands.cpp).
int cmd_clock(Ctx& c);
// hoso timers list|run: pending timers, and firing those that are due (time_commands.cpp).
int cmd_timers(Ctx& c);
// hoso notify deliver: pending notices through the file adapter (notify_commands.cpp).
int cmd_notify(Ctx& c);
// hoso serve: the HTTP API, timers and notification delivery (serve_command.cpp).
int cmd_serve(Ctx& c);
// hoso reports open|status: the yearly report obligations (report_commands.cpp).
int cmd_reports(Ctx& c);
// The years (from `from`'s to `to`'s) whose report obligations open by themselves (open_from) at or before
// `to`, each with its instant (no earlier than `from`); none without a report workflow or open_from
// (report_commands.cpp).
Result<std::vector<std::pair<int, Timestamp>>> report_openings(App& a, Timestamp from, Timestamp to);
// Opens `year`'s report obligations now (those already open are kept); returns how many were opened.
Result<std::size_t> open_year_reports(App& a, int year);

}  // namespace hoso::cli
