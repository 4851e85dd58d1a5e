// The raw SQLite baseline the benchmarks measure hoso against: an append log and a state table written with
// the same library configuration and pragmas as the store, and the average row sizes of a hoso database to
// give its rows.
#pragma once
#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <utility>

#include "adapters/sqlite/sqlite_store.hpp"
#include "bench/bench_support.hpp"

namespace hoso::bench {

inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK)
    die(fmt::format("sqlite: {}", err ? err : "?"));
}

// Average bytes of an event row and of a projection row in the hoso database at `path`: the events of
// commands and timers, not the dispatcher's records of notices (one per notice and channel, and fewer or more
// of them in the file depending on when the dispatcher ran).
inline std::pair<int, int> row_sizes(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  auto avg = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 200;
    sqlite3_finalize(st);
    return v;
  };
  const int ev = avg(
      "SELECT "
      "avg(length(type)+length(at)+length(actor_user)+length(actor_role)+length(actor_org)+length(action)+"
      "length(from_state)+length(to_state)+length(holder)+length(note)+length(payload)+length(prev_hash)+"
      "length(hash)) "
      "FROM events WHERE type NOT LIKE 'Notification%'");
  const int pr =
      avg("SELECT "
          "avg(length(workflow)+length(definition_hash)+length(award)+length(origin)+length(state)+length("
          "holder)+"
          "length(fields)+length(documents)+length(vote)+length(created_by)+length(created_at)+length("
          "updated_at)+"
          "length(last_hash)) FROM dossiers");
  sqlite3_close(db);
  return {ev, pr};
}

// Per event, an INSERT of an event row and an UPSERT of its dossier's state row, of the given sizes, in WAL
// mode; `batch` events per transaction (1: one transaction per event, as hoso without group commit).
// Event i belongs to dossier i % dossiers, as its step i / dossiers, so dossiers interleave.
class RawLog {
 public:
  RawLog(const std::string& path, int dossiers, int event_bytes, int state_bytes, bool sync, int batch = 1)
      : dossiers_(dossiers),
        batch_(batch),
        ev_(static_cast<std::size_t>(event_bytes), 'e'),
        st_(static_cast<std::size_t>(state_bytes), 's') {
    configure_sqlite_library();  // as the store: no memory statistics, and one thread per connection
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      die(fmt::format("sqlite: cannot open {}", path));
    exec(db_, "PRAGMA journal_mode=WAL");
    exec(db_, sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF");
    exec(db_,
         "CREATE TABLE events(gseq INTEGER PRIMARY KEY, dossier_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
         "body TEXT)");
    exec(db_, "CREATE TABLE state(id INTEGER PRIMARY KEY, version INTEGER NOT NULL, body TEXT)");
    sqlite3_prepare_v2(db_, "INSERT INTO events(dossier_id, seq, body) VALUES(?,?,?)", -1, &ins_, nullptr);
    sqlite3_prepare_v2(db_,
                       "INSERT INTO state(id, version, body) VALUES(?,?,?) ON CONFLICT(id) DO UPDATE SET "
                       "version=excluded.version, body=excluded.body",
                       -1, &up_, nullptr);
  }
  ~RawLog() {
    finish();
    sqlite3_finalize(ins_);
    sqlite3_finalize(up_);
    sqlite3_close(db_);
  }
  RawLog(const RawLog&) = delete;
  RawLog& operator=(const RawLog&) = delete;

  // Writes event i; commits when the batch is full.
  void run(std::int64_t i) {
    const int d = static_cast<int>(i % dossiers_) + 1, step = static_cast<int>(i / dossiers_) + 1;
    if (pending_ == 0) exec(db_, "BEGIN IMMEDIATE");
    sqlite3_bind_int(ins_, 1, d);
    sqlite3_bind_int(ins_, 2, step);
    sqlite3_bind_text(ins_, 3, ev_.data(), static_cast<int>(ev_.size()), SQLITE_STATIC);
    sqlite3_step(ins_);
    sqlite3_reset(ins_);
    sqlite3_bind_int(up_, 1, d);
    sqlite3_bind_int(up_, 2, step);
    sqlite3_bind_text(up_, 3, st_.data(), static_cast<int>(st_.size()), SQLITE_STATIC);
    sqlite3_step(up_);
    sqlite3_reset(up_);
    if (++pending_ == batch_) finish();
  }
  // Commits a partly filled batch.
  void finish() {
    if (pending_ == 0) return;
    exec(db_, "COMMIT");
    pending_ = 0;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt *ins_ = nullptr, *up_ = nullptr;
  int dossiers_, batch_, pending_ = 0;
  std::string ev_, st_;
};

}  // namespace hoso::bench
