// SqliteStore on real files, one fresh temporary directory per test.
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/sqlite/log_batching_vfs.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/hash_chain.hpp"
#include "tests/support/temp_dir.hpp"
#include "engine/verify.hpp"

namespace hoso {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

// A plain sqlite3 connection to the same file, bypassing the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      throw std::runtime_error("raw open failed");
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  // Runs sql; returns the SQLite result code.
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  std::string errmsg() const { return sqlite3_errmsg(db_); }
  // The first column of the first row as text ("" when no row).
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      throw std::runtime_error("raw prepare failed: " + errmsg());
    }
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return out;
  }
  long long count(const std::string& table) { return std::stoll(scalar("SELECT count(*) FROM " + table)); }

 private:
  sqlite3* db_ = nullptr;
};

std::unique_ptr<SqliteStore> open_store(const std::string& path, OpenMode mode = OpenMode::kCreate,
                                        std::chrono::milliseconds busy = SqliteStore::kDefaultBusyTimeout) {
  auto r = SqliteStore::open(path, mode, busy);
  if (!r.ok()) FAIL("open failed: " << r.error().message);
  return std::move(r).value();
}

EventRecord make_event(DossierId id, std::int64_t seq, const std::string& prev_hash,
                       const std::string& holder) {
  EventRecord e;
  e.dossier = id;
  e.seq = seq;
  e.type = seq == 1 ? "DossierCreated" : "DossierForwarded";
  e.at =
      fmt::format("2026-03-{:02}T08:{:02}:{:02}.{:03}Z", 1 + seq % 28, seq % 60, id % 60, (seq * 7) % 1000);
  e.actor_user = "nguyen.van.an";
  e.actor_role = "clerk";
  e.actor_org = "so-noi-vu";
  e.action = seq == 1 ? "tao" : "chuyen";
  e.from_state = seq == 1 ? "" : "dang-tham-dinh";
  e.to_state = "cho-ky";
  e.holder = holder;
  e.note = fmt::format("Ghi chú số {} của hồ sơ {}: đề nghị tặng Bằng khen — Nguyễn Thị Ánh Tuyết", seq, id);
  e.payload = fmt::format(R"({{"changes":{{"ho_ten":"Trần Thị Bích {}"}}}})", seq);
  e.schema_version = 1;
  e.prev_hash = prev_hash;
  e.hash = event_hash(e);
  return e;
}

DossierRecord make_projection(DossierId id, const std::vector<EventRecord>& history, bool closed) {
  const EventRecord& last = history.back();
  DossierRecord d;
  d.id = id;
  d.workflow = "khen-thuong-thuong-xuyen";
  d.definition_hash = "d3f1";
  d.award = "bang-khen-ubnd-tinh";
  d.origin = "so-noi-vu";
  d.state = last.to_state;
  d.holder = last.holder;
  d.previous_holder = history.size() > 1 ? history[history.size() - 2].holder : "";
  d.closed = closed;
  d.version = last.seq;
  d.fields = R"({"ho_ten":"Trần Thị Bích","don_vi":"Phòng Tổ chức – Cán bộ"})";
  d.documents = "[]";
  d.vote = "{}";
  d.created_by = "nguyen.van.an";
  d.created_at = history.front().at;
  d.updated_at = last.at;
  d.last_hash = last.hash;
  return d;
}

// What the store should hold, maintained alongside it.
struct Model {
  std::map<DossierId, std::vector<EventRecord>> events;
  std::map<DossierId, DossierRecord> projections;
  std::vector<EventRecord> log;  // append order

  std::int64_t version(DossierId id) const {
    auto it = projections.find(id);
    return it == projections.end() ? 0 : it->second.version;
  }
};

// One append: how many events, to which holder, closing or not.
struct Step {
  int count = 1;
  std::string holder = "so-noi-vu";
  bool close = false;
  std::function<void(EventRecord&)> edit;  // applied to each new event before hashing again

  Step& n(int c) {
    count = c;
    return *this;
  }
  Step& to(std::string h) {
    holder = std::move(h);
    return *this;
  }
  Step& closing() {
    close = true;
    return *this;
  }
  Step& editing(std::function<void(EventRecord&)> fn) {
    edit = std::move(fn);
    return *this;
  }
};

// The events and projection of the next step of `id`, built from the model.
std::pair<std::vector<EventRecord>, DossierRecord> next_step(const Model& m, DossierId id, const Step& step) {
  std::vector<EventRecord> history;
  if (auto it = m.events.find(id); it != m.events.end()) history = it->second;
  std::vector<EventRecord> fresh;
  for (int i = 0; i < step.count; ++i) {
    const std::string prev = history.empty() ? "" : history.back().hash;
    EventRecord e = make_event(id, static_cast<std::int64_t>(history.size()) + 1, prev, step.holder);
    if (step.edit) {
      step.edit(e);
      e.hash = event_hash(e);
    }
    history.push_back(e);
    fresh.push_back(e);
  }
  return {fresh, make_projection(id, history, step.close)};
}

void commit_step(Model& m, DossierId id, const std::vector<EventRecord>& fresh, const DossierRecord& p) {
  auto& h = m.events[id];
  h.insert(h.end(), fresh.begin(), fresh.end());
  m.log.insert(m.log.end(), fresh.begin(), fresh.end());
  m.projections[id] = p;
}

// Appends one step to `id` in its own write(), mirroring it into the model on success.
Status advance(SqliteStore& store, Model& m, DossierId id, const Step& step = {}) {
  auto [fresh, projection] = next_step(m, id, step);
  const std::int64_t expected = m.version(id);
  Status s = store.write([&](WriteTx& tx) { return tx.append(expected, projection, fresh); });
  if (s.ok()) commit_step(m, id, fresh, projection);
  return s;
}

std::vector<EventRecord> scan_all(SqliteStore& store) {
  std::vector<EventRecord> out;
  Status s = store.scan_events([&](const EventRecord& e) {
    out.push_back(e);
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

// Everything observable through the Store interface, for before/after comparisons.
struct Snapshot {
  std::vector<EventRecord> log;
  std::vector<DossierRecord> dossiers;
  long long definitions = 0, orgs = 0, users = 0;
  std::string cursor;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

Snapshot snapshot(SqliteStore& store) {
  Snapshot s;
  s.log = scan_all(store);
  s.dossiers = store.dossiers().value();
  RawDb raw(store.path());
  s.cursor = raw.scalar("SELECT coalesce((SELECT value FROM meta WHERE key = 'dispatch_cursor'), '')");
  s.definitions = raw.count("definitions");
  s.orgs = raw.count("orgs");
  s.users = raw.count("users");
  return s;
}

DefinitionRecord make_definition(const std::string& name, int v) {
  DefinitionRecord d;
  d.name = name;
  d.workflow_file = fmt::format("workflows/{}.yaml", name);
  d.workflow_source = fmt::format("name: {}\nversion: {}\nstates: [nháp, chờ ký]\n", name, v);
  d.catalogue_file = "config/awards.yaml";
  d.catalogue_source = "awards: [bang-khen]\n";
  d.hash = sha256_hex(d.workflow_source + d.catalogue_source);
  d.loaded_at = fmt::format("2026-01-0{}T00:00:00.000Z", v);
  return d;
}

// A full disk, as the process sees it: while one lives, no file of this process can grow past `bytes` (writes
// beyond fail with EFBIG instead of raising SIGXFSZ). lift() makes room again.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_signal_ = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_) == 0);
    rlimit lower = old_;
    lower.rlim_cur = bytes;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lower) == 0);
  }
  ~FileSizeLimit() {
    lift();
    std::signal(SIGXFSZ, old_signal_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  void lift() { setrlimit(RLIMIT_FSIZE, &old_); }

 private:
  rlimit old_{};
  void (*old_signal_)(int) = SIG_DFL;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------

TEST_CASE("open: kExisting on a missing file fails with kNotFound naming the path", "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("khong-co.db");
  auto r = SqliteStore::open(path, OpenMode::kExisting);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNotFound);
  CHECK_THAT(r.error().message, Catch::Contains(path));
  CHECK_FALSE(fs::exists(path));  // and did not create it
  CHECK_FALSE(SqliteStore::exists(path));
}

TEST_CASE("open: kCreate writes the schema, reopening keeps the data", "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  Model m;
  {
    auto store = open_store(path, OpenMode::kCreate);
    REQUIRE(advance(*store, m, 1, Step().n(2)).ok());
  }
  CHECK(SqliteStore::exists(path));
  {
    RawDb raw(path);
    CHECK(raw.scalar("SELECT value FROM meta WHERE key = 'schema_version'") ==
          std::to_string(SqliteStore::kSchemaVersion));
    CHECK(raw.scalar("PRAGMA journal_mode") == "wal");
    for (const char* table :
         {"events", "dossiers", "definitions", "definition_heads", "orgs", "users", "timers"}) {
      CHECK(raw.scalar(fmt::format("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'",
                                   table)) == "1");
    }
    // The log is the outbox: no table of its own.
    CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'outbox'") == "0");
    // The log stays append-shaped: no secondary index on events at all.
    CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'") ==
          "0");
    CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'") ==
          "2");
  }
  for (OpenMode mode : {OpenMode::kCreate, OpenMode::kExisting}) {
    auto store = open_store(path, mode);
    CHECK(store->events(1).value() == m.events[1]);
    CHECK(store->load(1).value() == m.projections[1]);
    RawDb raw(path);
    CHECK(raw.count("meta") == 1);
  }
}

TEST_CASE("open: Durability::kNoSync (throwaway data) stores the same things", "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("fixture.db");
  Model m;
  {
    auto r =
        SqliteStore::open(path, OpenMode::kCreate, SqliteStore::kDefaultBusyTimeout, Durability::kNoSync);
    REQUIRE(r.ok());
    REQUIRE(advance(*r.value(), m, 1, Step().n(3)).ok());
  }
  auto store = open_store(path, OpenMode::kExisting);  // reopened with the default, kFull
  CHECK(store->events(1).value() == m.events[1]);
}

// Each test case runs in a process of its own (ctest), so the store's open is the first use of SQLite here.
TEST_CASE("open: the library runs without memory statistics (no process-wide lock around allocations)",
          "[sqlite]") {
  TempDir dir;
  Model m;
  auto store = open_store(dir.file("hoso.db"), OpenMode::kCreate);
  REQUIRE(advance(*store, m, 1, Step().n(3)).ok());
  CHECK(configure_sqlite_library());  // took effect: SQLite was not initialised before the first open
  // With the statistics on, an open connection and its page cache count as memory in use.
  CHECK(sqlite3_memory_used() == 0);
  CHECK(sqlite3_memory_highwater(0) == 0);
  CHECK(store->events(1).value() == m.events[1]);
}

TEST_CASE("deferred durability: commits wait for a LogSync, checkpoints come from another connection",
          "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  Model m;
  auto store = open_store(path, OpenMode::kCreate);
  CHECK(store->log_frames() == 0);
  REQUIRE(store->defer_durability().ok());
  LogSync sync(path);
  REQUIRE(advance(*store, m, 1, Step().n(3)).ok());
  const std::int64_t frames = store->log_frames();
  CHECK(frames > 0);  // the hook counts the log; no automatic checkpoint reset it
  REQUIRE(sync.sync().ok());
  REQUIRE(advance(*store, m, 2, Step().n(2)).ok());
  CHECK(store->log_frames() > frames);
  REQUIRE(sync.sync().ok());

  auto other = open_store(path, OpenMode::kExisting);
  auto copied = other->checkpoint();
  REQUIRE(copied.ok());
  CHECK(copied->first == store->log_frames());
  CHECK(copied->second == copied->first);  // nobody reads an older snapshot: everything is copied
  CHECK(other->events(1).value() == m.events[1]);
  CHECK(other->load(2).value() == m.projections[2]);

  // Not inside a transaction.
  Status inside = store->group([&] { return store->defer_durability(); });
  CHECK_FALSE(inside.ok());
}

// A new database whose writer defers its flushes to a LogSync, as `hoso serve`'s engine does.
struct DeferredWriter {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  Model m;
  std::unique_ptr<SqliteStore> store = open_store(path, OpenMode::kCreate);
  LogSync sync{path};
  DeferredWriter() { REQUIRE(store->defer_durability().ok()); }
};

TEST_CASE("the log's frames of a commit reach the file in a few large writes that plain SQLite reads back",
          "[sqlite]") {
  DeferredWriter w;
  auto& [dir, path, m, store, sync] = w;
  REQUIRE(advance(*store, m, 1000, Step().n(1)).ok());
  const std::int64_t frames_before = store->log_frames();
  const std::uint64_t writes_before = log_batching_writes();
  // One group commit of 300 new dossiers: a few hundred pages.
  Status group = store->group([&]() -> Status {
    for (DossierId id = 1; id <= 300; ++id)
      if (Status s = advance(*store, m, id, Step().n(1)); !s) return s;
    return Status::Ok();
  });
  REQUIRE(group.ok());
  const std::int64_t frames = store->log_frames() - frames_before;
  const std::uint64_t writes = log_batching_writes() - writes_before;
  CHECK(frames >= 50);
  // SQLite writes a frame as two writes (header, page); the commit went out in writes of up to 120 KiB.
  const auto bytes = static_cast<std::uint64_t>(frames) * (24 + 4096);
  CHECK(writes >= 1);
  CHECK(writes <= bytes / (120 << 10) + 2);  // against 2 per frame without the gathering
  REQUIRE(sync.sync().ok());
  // Another connection through SQLite's own VFS reads everything, and so does a store opened afresh.
  RawDb raw(path);
  CHECK(raw.count("events") == 301);
  CHECK(raw.count("dossiers") == 301);
  auto fresh = open_store(path, OpenMode::kExisting);
  for (DossierId id : {1, 150, 300, 1000}) {
    CHECK(fresh->events(id).value() == m.events[id]);
    CHECK(fresh->load(id).value() == m.projections[id]);
  }
}

// What `hoso serve` does when checkpoint passes run alongside a writer that never pauses (adapters/http/server):
// SQLite starts the log over only at a commit that begins with all of it copied, which the passes alone never
// give; the writer's own checkpoint of what they left does.
TEST_CASE("deferred durability: a log the passes never copy whole starts over once its writer copies the rest",
          "[sqlite]") {
  DeferredWriter w;
  auto& [dir, path, m, writer, sync] = w;
  auto checkpoints = open_store(path, OpenMode::kExisting);
  auto reader = open_store(path, OpenMode::kExisting);
  REQUIRE(advance(*writer, m, 1, Step().n(3)).ok());
  // A pass while the writer has gone on past what it could copy (here: past a reader's snapshot).
  Status held = reader->snapshot([&]() -> Status {
    if (auto seen = reader->load(1); !seen.ok()) return seen.error();
    if (Status more = advance(*writer, m, 2, Step().n(3)); !more) return more;
    auto pass = checkpoints->checkpoint();
    if (!pass.ok()) return pass.error();
    CHECK(pass->second > 0);
    CHECK(pass->second < pass->first);
    return Status::Ok();
  });
  REQUIRE(held.ok());
  // Nobody reads now, but the log was not copied whole when the next commit began: it grows on.
  const std::int64_t grown = writer->log_frames();
  REQUIRE(advance(*writer, m, 3, Step().n(1)).ok());
  CHECK(writer->log_frames() > grown);
  // The writer copies the rest; its next commit writes the log from its beginning again.
  auto rest = writer->checkpoint();
  REQUIRE(rest.ok());
  CHECK(rest->second == rest->first);
  REQUIRE(advance(*writer, m, 4, Step().n(1)).ok());
  CHECK(writer->log_frames() < grown);
  REQUIRE(sync.sync().ok());
  for (DossierId id : {1, 2, 3, 4}) {
    CHECK(reader->events(id).value() == m.events[id]);
    CHECK(reader->load(id).value() == m.projections[id]);
  }
}

TEST_CASE("deferred durability: a LogSync without a log has nothing to do", "[sqlite]") {
  TempDir dir;
  LogSync none(dir.file("missing.db"));
  CHECK(none.sync().ok());
}

TEST_CASE("open: files without a hoso schema are refused, never modified", "[sqlite]") {
  TempDir dir;
  SECTION("an empty file, kExisting") {
    const std::string path = dir.file("empty.db");
    std::ofstream(path).close();
    auto r = SqliteStore::open(path, OpenMode::kExisting);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotFound);
    CHECK(fs::file_size(path) == 0);
    CHECK_FALSE(SqliteStore::exists(path));
  }
  SECTION("a text file") {
    const std::string path = dir.file("notes.txt");
    std::ofstream(path) << "đây không phải cơ sở dữ liệu\n";
    auto r = SqliteStore::open(path, OpenMode::kExisting);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotFound);
    auto c = SqliteStore::open(path, OpenMode::kCreate);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kInvalidInput);
  }
  SECTION("another application's SQLite database") {
    const std::string path = dir.file("other.db");
    {
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
      REQUIRE(sqlite3_exec(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY)", nullptr, nullptr,
                           nullptr) == SQLITE_OK);
      sqlite3_close(db);
    }
    auto e = SqliteStore::open(path, OpenMode::kExisting);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == ErrorCode::kNotFound);
    auto c = SqliteStore::open(path, OpenMode::kCreate);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kInvalidInput);
    RawDb raw(path);
    CHECK(raw.scalar("SELECT count(*) FROM sqlite_master") == "1");
  }
}

TEST_CASE("open: a schema version other than this build's is refused, older or newer", "[sqlite]") {
  // 8 is migrated (see below); anything older has no migration, anything newer is a later build's.
  for (int version : {7, SqliteStore::kSchemaVersion + 1}) {
    TempDir dir;
    const std::string path = dir.file("hoso.db");
    open_store(path).reset();
    {
      RawDb raw(path);
      REQUIRE(raw.exec("UPDATE meta SET value = '" + std::to_string(version) +
                       "' WHERE key = 'schema_version'") == SQLITE_OK);
    }
    auto r = SqliteStore::open(path, OpenMode::kExisting);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInternal);
    CHECK_THAT(r.error().message, Catch::Contains("phiên bản " + std::to_string(version)));
  }
}

TEST_CASE("open: a version 8 database is migrated to 10, its users kept, with no delegates",
          "[sqlite][delegation]") {
  REQUIRE(SqliteStore::kSchemaVersion == 10);
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  {
    auto store = open_store(path);
    REQUIRE(store
                ->write([&](WriteTx& tx) {
                  return tx.replace_directory(
                      {{"xa", "Xã B", "commune", ""}},
                      {{"xa.clerk", "Nguyễn Văn An", "an@xa.example", "xa", {"clerk"}}});
                })
                .ok());
  }
  {  // Make it what a version 8 build wrote: no delegates column, tokens that never expire.
    RawDb raw(path);
    REQUIRE(raw.exec("ALTER TABLE users DROP COLUMN delegates") == SQLITE_OK);
    REQUIRE(raw.exec("ALTER TABLE tokens DROP COLUMN expires_at") == SQLITE_OK);
    REQUIRE(raw.exec("UPDATE meta SET value = '8' WHERE key = 'schema_version'") == SQLITE_OK);
  }
  auto store = SqliteStore::open(path, OpenMode::kExisting);
  INFO((store.ok() ? "" : store.error().message));
  REQUIRE(store.ok());
  auto users = (*store)->users();
  REQUIRE(users.ok());
  REQUIRE(users->size() == 1);
  CHECK(users->front().key == "xa.clerk");
  CHECK(users->front().delegates.empty());
  store->reset();
  RawDb raw(path);
  CHECK(raw.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == "10");
  CHECK(raw.scalar("SELECT delegates FROM users") == "[]");
  CHECK(raw.scalar("SELECT count(*) FROM pragma_table_info('tokens') WHERE name = 'expires_at'") == "1");
  // Opening again finds nothing to do.
  CHECK(SqliteStore::open(path, OpenMode::kExisting).ok());
}

TEST_CASE("open: a version 9 database is migrated to 10 - its tokens kept, never expiring", "[sqlite]") {
  REQUIRE(SqliteStore::kSchemaVersion == 10);
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  const std::string hash(64, 'c');
  {
    auto store = open_store(path);
    REQUIRE(store
                ->write([&](WriteTx& tx) {
                  return tx.put_token(TokenRecord{hash, "xa.clerk", "2026-01-01T00:00:00.000Z", "", ""});
                })
                .ok());
  }
  {  // What a version 9 build wrote: tokens without an expiry.
    RawDb raw(path);
    REQUIRE(raw.exec("ALTER TABLE tokens DROP COLUMN expires_at") == SQLITE_OK);
    REQUIRE(raw.exec("UPDATE meta SET value = '9' WHERE key = 'schema_version'") == SQLITE_OK);
  }
  auto store = SqliteStore::open(path, OpenMode::kExisting);
  INFO((store.ok() ? "" : store.error().message));
  REQUIRE(store.ok());
  auto kept = (*store)->token(hash);
  REQUIRE(kept.ok());
  REQUIRE(kept->has_value());
  CHECK((*kept)->user == "xa.clerk");
  CHECK((*kept)->expires_at.empty());
  store->reset();
  RawDb raw(path);
  CHECK(raw.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == "10");
}

TEST_CASE("open: a version another process changes while this one waits to migrate is refused, not stamped",
          "[sqlite][delegation]") {
  // What counts is the version read again under the write lock: another connection holds that lock and
  // turns the version 8 file into `version` while this one, having read 8, waits to migrate it.
  REQUIRE(SqliteStore::kSchemaVersion == 10);
  for (int version : {7, SqliteStore::kSchemaVersion + 1}) {
    TempDir dir;
    const std::string path = dir.file("hoso.db");
    open_store(path).reset();
    {  // What a version 8 build wrote: no delegates column, no token expiry.
      RawDb raw(path);
      REQUIRE(raw.exec("ALTER TABLE users DROP COLUMN delegates") == SQLITE_OK);
      REQUIRE(raw.exec("ALTER TABLE tokens DROP COLUMN expires_at") == SQLITE_OK);
      REQUIRE(raw.exec("UPDATE meta SET value = '8' WHERE key = 'schema_version'") == SQLITE_OK);
    }
    RawDb other(path);
    REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
    REQUIRE(other.exec("UPDATE meta SET value = '" + std::to_string(version) +
                       "' WHERE key = 'schema_version'") == SQLITE_OK);
    std::thread committer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      other.exec("COMMIT");
    });
    auto r = SqliteStore::open(path, OpenMode::kExisting, std::chrono::milliseconds(10'000));
    committer.join();
    INFO(version << ": " << (r.ok() ? "opened" : r.error().message));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInternal);
    CHECK_THAT(r.error().message, Catch::Contains("phiên bản " + std::to_string(version)));
    RawDb raw(path);
    CHECK(raw.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == std::to_string(version));
  }
}

TEST_CASE("replace_directory: delegates round-trip, and a corrupt column is an error",
          "[sqlite][delegation]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  auto store = open_store(path);
  UserRecord clerk{"xa.clerk",
                   "Nguyễn Văn An",
                   "an@xa.example",
                   "xa",
                   {"clerk"},
                   true,
                   {{"xa.signer", "2026-01-01", "2026-01-31", "Nghỉ phép \"năm\""},
                    {"xa.signer", "2026-07-01", "2026-07-15", ""}}};
  UserRecord signer{"xa.signer", "Trần Thị Bình", "binh@xa.example", "xa", {"signer"}};
  REQUIRE(store
              ->write([&](WriteTx& tx) {
                return tx.replace_directory({{"xa", "Xã B", "commune", ""}}, {clerk, signer});
              })
              .ok());
  auto users = store->users();
  REQUIRE(users.ok());
  REQUIRE(users->size() == 2);
  CHECK((*users)[0].delegates == clerk.delegates);
  CHECK((*users)[1].delegates.empty());
  {
    RawDb raw(path);
    REQUIRE(raw.exec("UPDATE users SET delegates = '[{\"user\": 1}]' WHERE key = 'xa.clerk'") == SQLITE_OK);
  }
  auto broken = store->users();
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error().message, Catch::Contains("cột delegates của người dùng «xa.clerk» bị hỏng"));
}

TEST_CASE("replace_directory: the directory and config versions move only when the tree or the people change",
          "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  const std::vector<OrgRecord> orgs = {{"xa", "Xã B", "commune", ""}};
  UserRecord clerk{"xa.clerk", "Nguyễn Văn An", "an@xa.example", "xa", {"clerk"}};
  // Only the directory changes here: both versions move together.
  auto replace = [&](const std::vector<UserRecord>& users) {
    REQUIRE(store->write([&](WriteTx& tx) { return tx.replace_directory(orgs, users); }).ok());
    CHECK(store->config_version().value() == store->directory_version().value());
    return store->directory_version().value();
  };
  CHECK(store->directory_version().value() == 0);
  CHECK(store->config_version().value() == 0);
  CHECK(replace({clerk}) == 1);
  CHECK(replace({clerk}) == 1);  // the same again: no change
  UserRecord gone = clerk;
  gone.active = false;
  CHECK(replace({gone}) == 2);
  UserRecord moved = clerk;
  moved.roles = {"signer"};
  CHECK(replace({moved}) == 3);
  moved.delegates = {{"xa.clerk2", "2026-01-01", "2026-01-31", ""}};
  UserRecord second{"xa.clerk2", "Lê Văn C", "c@xa.example", "xa", {"clerk"}};
  CHECK(replace({moved, second}) == 4);
  CHECK(replace({moved, second}) == 4);
  // A refused write changes nothing, the versions included.
  CHECK_FALSE(store
                  ->write([&](WriteTx& tx) -> Status {
                    if (auto st = tx.replace_directory(orgs, {clerk}); !st) return st;
                    return make_error(ErrorCode::kRefused, "undone");
                  })
                  .ok());
  CHECK(store->directory_version().value() == 4);
  CHECK(store->config_version().value() == 4);
  CHECK(store->users().value().size() == 2);
  // Inside a group the config version (every request checks it) is read once, and follows the group's own
  // changes and its undone commands.
  REQUIRE(store
              ->group([&] {
                CHECK(store->config_version().value() == 4);
                REQUIRE(store->write([&](WriteTx& tx) { return tx.replace_directory(orgs, {clerk}); }).ok());
                CHECK(store->config_version().value() == 5);
                CHECK_FALSE(store
                                ->write([&](WriteTx& tx) -> Status {
                                  if (auto st = tx.replace_directory(orgs, {gone}); !st) return st;
                                  CHECK(store->config_version().value() == 6);
                                  return make_error(ErrorCode::kRefused, "undone");
                                })
                                .ok());
                CHECK(store->config_version().value() == 5);
                return Status::Ok();
              })
              .ok());
  CHECK(store->directory_version().value() == 5);
  CHECK(store->config_version().value() == 5);
}

TEST_CASE(
    "config version: it moves when a workflow gets another current definition or the calendar templates "
    "or report plan another current source - and not when the same are stored again",
    "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  auto version = [&] { return store->config_version().value(); };
  auto put = [&](const std::function<Status(WriteTx&)>& write) {
    REQUIRE(store->write(write).ok());
    return version();
  };
  auto definition = [](const std::string& name, const std::string& hash) {
    return DefinitionRecord{hash,
                            name,
                            name + ".yaml",
                            "source of " + hash,
                            "catalogue.yaml",
                            "catalogue",
                            "2026-01-01T00:00:00.000Z"};
  };
  auto sources = [](const std::string& name, const std::string& hash) {
    return ConfigSources{
        name, hash, {SourceFile{name + ".yaml", "text of " + hash}}, "2026-01-01T00:00:00.000Z"};
  };
  CHECK(version() == 0);
  CHECK(put([&](WriteTx& tx) { return tx.put_definition(definition("khen_thuong", "h1")); }) == 1);
  CHECK(put([&](WriteTx& tx) { return tx.put_definition(definition("khen_thuong", "h1")); }) == 1);
  CHECK(put([&](WriteTx& tx) { return tx.put_definition(definition("khen_thuong", "h2")); }) == 2);
  CHECK(put([&](WriteTx& tx) { return tx.put_definition(definition("khen_thuong", "h1")); }) == 3);  // back
  CHECK(put([&](WriteTx& tx) { return tx.put_definition(definition("thi_dua", "h3")); }) == 4);
  for (const char* name : {"calendar", "templates", "reports"}) {
    const auto before = version();
    CHECK(put([&](WriteTx& tx) { return tx.put_sources(sources(name, std::string(name) + "1")); }) ==
          before + 1);
    CHECK(put([&](WriteTx& tx) { return tx.put_sources(sources(name, std::string(name) + "1")); }) ==
          before + 1);
    CHECK(put([&](WriteTx& tx) { return tx.put_sources(sources(name, std::string(name) + "2")); }) ==
          before + 2);
  }
  CHECK(version() == 10);
  CHECK(store->directory_version().value() == 0);
  // A refused write moves nothing.
  CHECK_FALSE(store
                  ->write([&](WriteTx& tx) -> Status {
                    if (auto st = tx.put_sources(sources("calendar", "calendar3")); !st) return st;
                    return make_error(ErrorCode::kRefused, "undone");
                  })
                  .ok());
  CHECK(version() == 10);
  CHECK(store->sources("calendar").value()->hash == "calendar2");
}

TEST_CASE("tokens: those of users deactivated or gone from the directory are revoked - an active user's stay",
          "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  UserRecord here{"xa.clerk", "Nguyễn Văn An", "an@xa.example", "xa", {"clerk"}};
  UserRecord left{"xa.leader", "Trần Văn Bình", "binh@xa.example", "xa", {"leader"}};
  left.active = false;
  const std::string kept(64, 'a'), of_left(64, 'b'), of_gone(64, 'c'), revoked_before(64, 'd');
  REQUIRE(store
              ->write([&](WriteTx& tx) -> Status {
                if (auto st = tx.replace_directory({{"xa", "Xã B", "commune", ""}}, {here, left}); !st)
                  return st;
                if (auto st = tx.put_token(
                        TokenRecord{revoked_before, "xa.leader", "2026-01-01T00:00:00.000Z", "", ""});
                    !st)
                  return st;
                if (auto n = tx.revoke_tokens("xa.leader", "2026-01-02T00:00:00.000Z"); !n) return n.error();
                for (const auto& [hash, user] : {std::pair{kept, "xa.clerk"}, std::pair{of_left, "xa.leader"},
                                                 std::pair{of_gone, "xa.signer"}})
                  if (auto st = tx.put_token(TokenRecord{hash, user, "2026-01-01T00:00:00.000Z", "", ""});
                      !st)
                    return st;
                return Status::Ok();
              })
              .ok());
  std::int64_t revoked = -1;
  REQUIRE(store
              ->write([&](WriteTx& tx) -> Status {
                auto n = tx.revoke_tokens_of_inactive("2026-01-03T00:00:00.000Z");
                if (!n) return n.error();
                revoked = *n;
                return Status::Ok();
              })
              .ok());
  CHECK(revoked == 2);
  CHECK(store->token(kept).value()->revoked_at == "");
  CHECK(store->token(of_left).value()->revoked_at == "2026-01-03T00:00:00.000Z");
  CHECK(store->token(of_gone).value()->revoked_at == "2026-01-03T00:00:00.000Z");
  CHECK(store->token(revoked_before).value()->revoked_at == "2026-01-02T00:00:00.000Z");  // kept as it was
}

TEST_CASE("tokens: a user's are listed oldest first and one is revoked alone - once", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  const std::string older(64, 'e'), newer(64, 'a'), other(64, 'f');
  REQUIRE(store
              ->write([&](WriteTx& tx) -> Status {
                for (const auto& t : {TokenRecord{newer, "xa.clerk", "2026-01-02T00:00:00.000Z", "", ""},
                                      TokenRecord{older, "xa.clerk", "2026-01-01T00:00:00.000Z", "", ""},
                                      TokenRecord{other, "xa.leader", "2026-01-01T00:00:00.000Z", "", ""}})
                  if (auto st = tx.put_token(t); !st) return st;
                return Status::Ok();
              })
              .ok());
  auto listed = store->tokens_of("xa.clerk");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK(listed->at(0).hash == older);  // by time issued, not by hash
  CHECK(listed->at(1).hash == newer);
  CHECK(store->tokens_of("nobody")->empty());
  auto revoke = [&](const std::string& hash) {
    bool done = false;
    REQUIRE(store
                ->write([&](WriteTx& tx) -> Status {
                  auto r = tx.revoke_token(hash, "2026-01-05T00:00:00.000Z");
                  if (!r) return r.error();
                  done = *r;
                  return Status::Ok();
                })
                .ok());
    return done;
  };
  CHECK(revoke(older));
  CHECK_FALSE(revoke(older));  // revoked already: its time stays the first
  CHECK_FALSE(revoke(std::string(64, '0')));
  CHECK(store->token(older).value()->revoked_at == "2026-01-05T00:00:00.000Z");
  CHECK(store->token(newer).value()->revoked_at.empty());
  CHECK(store->token(other).value()->revoked_at.empty());
}

TEST_CASE("tokens: inside a group each is read once and follows the group's own changes and undone commands",
          "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  const TokenRecord issued{std::string(64, 'a'), "xa.clerk", "2026-01-01T00:00:00.000Z", "",
                           "2026-04-01T00:00:00.000Z"};
  const std::string other(64, 'b');
  REQUIRE(store->write([&](WriteTx& tx) { return tx.put_token(issued); }).ok());
  CHECK(store->token(issued.hash).value() == issued);  // its expiry too
  auto revoked_at = [&](const std::string& hash) -> std::optional<std::string> {
    auto t = store->token(hash);
    REQUIRE(t.ok());
    if (!t->has_value()) return std::nullopt;
    return (*t)->revoked_at;
  };
  REQUIRE(store
              ->group([&] {
                CHECK(revoked_at(issued.hash) == "");
                CHECK(revoked_at(other) == std::nullopt);
                // Issued and revoked inside the group: read again as they now are.
                REQUIRE(store
                            ->write([&](WriteTx& tx) {
                              return tx.put_token(
                                  TokenRecord{other, "xa.clerk", "2026-01-02T00:00:00.000Z", "", ""});
                            })
                            .ok());
                CHECK(revoked_at(other) == "");
                REQUIRE(store
                            ->write([&](WriteTx& tx) -> Status {
                              auto n = tx.revoke_tokens("xa.clerk", "2026-01-03T00:00:00.000Z");
                              return n ? Status::Ok() : Status(n.error());
                            })
                            .ok());
                CHECK(revoked_at(issued.hash) == "2026-01-03T00:00:00.000Z");
                CHECK(revoked_at(other) == "2026-01-03T00:00:00.000Z");
                // A command that issues a token and then fails is undone, and so is what was read meanwhile.
                const std::string undone(64, 'c');
                CHECK_FALSE(
                    store
                        ->write([&](WriteTx& tx) -> Status {
                          const TokenRecord later{undone, "xa.clerk", "2026-01-04T00:00:00.000Z", "", ""};
                          if (auto st = tx.put_token(later); !st) return st;
                          CHECK(revoked_at(undone) == "");
                          return make_error(ErrorCode::kRefused, "undone");
                        })
                        .ok());
                CHECK(revoked_at(undone) == std::nullopt);
                return Status::Ok();
              })
              .ok());
  CHECK(revoked_at(issued.hash) == "2026-01-03T00:00:00.000Z");
}

TEST_CASE("append: create then follow-ups round-trip every field", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;

  std::string big = R"({"documents":[)";
  while (big.size() < 100 * 1024)
    big += R"({"ten":"Tờ trình đề nghị khen thưởng – Ủy ban nhân dân tỉnh Thừa Thiên Huế"},)";
  big += R"({"ten":"cuối"}]})";

  REQUIRE(advance(*store, m, 1, Step().editing([&](EventRecord& e) {
            e.payload = big;
            e.note =
                "Hồ sơ của ông Phạm Đức Thắng; ghi chú có dấu ‘ngoặc’ \"kép\" và emoji "
                "🏅\n\tdòng "
                "hai";
          })).ok());
  REQUIRE(advance(*store, m, 1, Step().n(3).to("ubnd-tinh")).ok());
  REQUIRE(advance(*store, m, 1, Step().to("ban-tdkt").closing()).ok());

  auto loaded = store->load(1);
  REQUIRE(loaded.ok());
  REQUIRE(loaded.value().has_value());
  CHECK(*loaded.value() == m.projections[1]);
  CHECK(loaded.value()->version == 5);
  CHECK(loaded.value()->closed);

  auto events = store->events(1);
  REQUIRE(events.ok());
  REQUIRE(events.value().size() == 5);
  CHECK(events.value() == m.events[1]);
  CHECK(events.value()[0].payload.size() > 100 * 1024);
  CHECK(events.value()[0].payload == big);
  for (const EventRecord& e : events.value()) CHECK(event_hash(e) == e.hash);  // bytes survive exactly

  CHECK_FALSE(store->load(2).value().has_value());
  CHECK(store->events(2).value().empty());
}

TEST_CASE("events: the prev_gseq chain rebuilds each dossier with many dossiers interleaved", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  for (int round = 0; round < 12; ++round) {
    for (DossierId id = 1; id <= 5; ++id) {
      if ((round + id) % 3 == 0) continue;  // irregular interleaving
      REQUIRE(advance(*store, m, id, Step().n(1 + static_cast<int>((round * id) % 3))).ok());
    }
  }
  for (DossierId id = 1; id <= 5; ++id) {
    auto events = store->events(id);
    REQUIRE(events.ok());
    CHECK(events.value() == m.events[id]);
    CHECK(static_cast<std::int64_t>(events.value().size()) == store->load(id).value()->version);
  }
  // scan_events yields exactly the append order.
  CHECK(scan_all(*store) == m.log);

  RawDb raw(store->path());
  CHECK(raw.scalar("SELECT count(*) FROM events WHERE seq = 1 AND prev_gseq IS NULL") == "5");
  CHECK(raw.scalar("SELECT count(*) FROM events WHERE prev_gseq IS NULL") == "5");
  CHECK(raw.scalar("SELECT group_concat(gseq) FROM (SELECT gseq FROM events ORDER BY gseq)") ==
        raw.scalar("SELECT group_concat(rowid) FROM (SELECT rowid FROM events ORDER BY rowid)"));
}

TEST_CASE("append: a stale expected_version fails with kVersionConflict and writes nothing", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(3)).ok());
  REQUIRE(advance(*store, m, 2).ok());
  const Snapshot before = snapshot(*store);

  SECTION("update from an old version") {
    Model stale;
    stale.events[1] = {m.events[1].front()};
    stale.projections[1] = make_projection(1, stale.events[1], false);  // version 1 while the store is at 3
    auto [fresh, projection] = next_step(stale, 1, Step());
    bool work_ran = false;
    Status s = store->write([&](WriteTx& tx) {
      work_ran = true;
      return tx.append(1, projection, fresh);
    });
    CHECK(work_ran);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kVersionConflict);
    CHECK_THAT(s.error().message, Catch::Contains("phiên bản"));
  }
  SECTION("creating an id that exists") {
    Model fresh_model;
    auto [fresh, projection] = next_step(fresh_model, 2, {});
    Status s = store->write([&](WriteTx& tx) { return tx.append(0, projection, fresh); });
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kVersionConflict);
  }
  SECTION("the conflict writes nothing even when work ignores it and commits") {
    Model stale;
    stale.events[1] = {m.events[1].front()};
    stale.projections[1] = make_projection(1, stale.events[1], false);
    auto [fresh, projection] = next_step(stale, 1, {});
    Status inner;
    Status s = store->write([&](WriteTx& tx) {
      inner = tx.append(1, projection, fresh);
      return Status::Ok();
    });
    CHECK(s.ok());
    REQUIRE_FALSE(inner.ok());
    CHECK(inner.error().code == ErrorCode::kVersionConflict);
  }
  CHECK(snapshot(*store) == before);
  CHECK(store->load(1).value() == m.projections[1]);
}

TEST_CASE("append: an inconsistent batch is refused with kInternal before anything is written", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(2)).ok());
  const Snapshot before = snapshot(*store);
  auto [fresh, projection] = next_step(m, 1, Step().n(2));

  auto try_append = [&](std::int64_t expected, const DossierRecord& p, const std::vector<EventRecord>& evs) {
    Status inner;
    Status s = store->write([&](WriteTx& tx) {
      inner = tx.append(expected, p, evs);
      return Status::Ok();
    });
    REQUIRE(s.ok());
    return inner;
  };
  SECTION("projection version is not expected + events") {
    DossierRecord p = projection;
    p.version = 5;
    Status s = try_append(2, p, fresh);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInternal);
  }
  SECTION("a gap in seq") {
    std::vector<EventRecord> evs = fresh;
    evs[1].seq = 5;
    CHECK(try_append(2, projection, evs).error().code == ErrorCode::kInternal);
  }
  SECTION("an event of another dossier") {
    std::vector<EventRecord> evs = fresh;
    evs[0].dossier = 9;
    CHECK(try_append(2, projection, evs).error().code == ErrorCode::kInternal);
  }
  SECTION("no events") {
    DossierRecord p = m.projections[1];
    CHECK(try_append(2, p, {}).error().code == ErrorCode::kInternal);
  }
  SECTION("an update of a dossier that does not exist") {
    Model other;
    other.events[7] = {make_event(7, 1, "", "x")};
    other.projections[7] = make_projection(7, other.events[7], false);
    auto [evs, p] = next_step(other, 7, {});
    CHECK(try_append(1, p, evs).error().code == ErrorCode::kNotFound);
  }
  CHECK(snapshot(*store) == before);
}

TEST_CASE("write: everything rolls back when work fails after appending", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(2)).ok());
  REQUIRE(
      store->write([&](WriteTx& tx) { return tx.put_definition(make_definition("khen-thuong", 1)); }).ok());
  REQUIRE(store
              ->write([&](WriteTx& tx) {
                return tx.replace_directory({{"so-noi-vu", "Sở Nội vụ", "so", ""}}, {});
              })
              .ok());
  const Snapshot before = snapshot(*store);

  auto work_then = [&](const std::function<Status()>& finish) {
    return store->write([&](WriteTx& tx) -> Status {
      auto id = tx.allocate_dossier_id();
      REQUIRE(id.ok());
      Model scratch = m;
      auto [created, p_created] = next_step(scratch, id.value(), Step().n(2));
      if (Status s = tx.append(0, p_created, created); !s) return s;
      if (Status s = tx.mark_delivered(1, 0); !s) return s;  // the dispatch cursor rolls back with the rest
      auto [more, p_more] = next_step(scratch, 1, {});
      if (Status s = tx.append(2, p_more, more); !s) return s;
      if (Status s = tx.put_definition(make_definition("khen-thuong", 2)); !s) return s;
      if (Status s = tx.replace_directory({{"ubnd", "UBND tỉnh", "ubnd", ""}}, {}); !s) return s;
      // Reads inside the transaction see its own writes.
      CHECK(tx.load(1).value()->version == 3);
      CHECK(store->load(1).value()->version == 3);
      CHECK(store->events(1).value().size() == 3);
      return finish();
    });
  };
  SECTION("work returns an error") {
    Status s = work_then([] { return Status(make_error(ErrorCode::kRefused, "quy tắc từ chối")); });
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kRefused);
    CHECK(s.error().message == "quy tắc từ chối");
  }
  SECTION("work throws") {
    Status s = work_then([]() -> Status { throw std::runtime_error("bùm"); });
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInternal);
    CHECK_THAT(s.error().message, Catch::Contains("bùm"));
  }
  CHECK(snapshot(*store) == before);
  CHECK(store->load(1).value() == m.projections[1]);
  CHECK(store->current_definitions().value().front().workflow_source ==
        make_definition("khen-thuong", 1).workflow_source);

  // And the store is usable afterwards.
  REQUIRE(advance(*store, m, 1).ok());
  CHECK(store->events(1).value() == m.events[1]);
}

TEST_CASE("group: the log's last time inside a group follows each append and forgets an undone command",
          "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(2)).ok());
  auto log_time = [&] {
    std::optional<Timestamp> out;
    REQUIRE(store
                ->write([&](WriteTx& tx) {
                  auto t = tx.log_time();
                  REQUIRE(t.ok());
                  out = *t;
                  return Status::Ok();
                })
                .ok());
    REQUIRE(out);
    return format_utc(*out);
  };
  const auto [more, p_more] = next_step(m, 1, {});
  Model after_more = m;
  commit_step(after_more, 1, more, p_more);
  const auto [undone, p_undone] = next_step(after_more, 1, {});
  REQUIRE(more.back().at != undone.back().at);
  Status g = store->group([&] {
    CHECK(log_time() == m.events[1].back().at);
    REQUIRE(store->write([&](WriteTx& tx) { return tx.append(2, p_more, more); }).ok());
    CHECK(log_time() == more.back().at);
    // A command that appends, then fails: undone, and so is what the group knew of the log's last time.
    auto failed = store->write([&](WriteTx& tx) -> Status {
      if (Status st = tx.append(3, p_undone, undone); !st) return st;
      CHECK(tx.log_time().value() == parse_utc(undone.back().at));
      return make_error(ErrorCode::kRefused, "từ chối sau khi ghi");
    });
    CHECK_FALSE(failed.ok());
    CHECK(log_time() == more.back().at);
    return Status::Ok();
  });
  REQUIRE(g.ok());
  CHECK(log_time() == more.back().at);
  CHECK(store->events(1).value() == after_more.events[1]);
}

TEST_CASE("still_written: only for the projection this connection wrote last and nobody touched since",
          "[sqlite]") {
  // A command uses its own copy of a projection when this says so instead of reading the row: each case here
  // is one where that copy would be wrong.
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  auto store = open_store(path);
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(2)).ok());
  REQUIRE(advance(*store, m, 2).ok());
  auto still = [&](SqliteStore& s, const DossierRecord& p) {
    std::optional<bool> out;
    REQUIRE(s.write([&](WriteTx& tx) {
               auto r = tx.still_written(p.id, p.version, p.last_hash);
               REQUIRE(r.ok());
               out = *r;
               return Status::Ok();
             }).ok());
    return *out;
  };
  auto stored = [&](DossierId id) { return store->load(id).value().value(); };

  // Own appends: the row is the one written, field for field.
  CHECK(still(*store, m.projections[1]));
  CHECK(stored(1) == m.projections[1]);
  DossierRecord other_version = m.projections[1];
  other_version.version -= 1;
  CHECK_FALSE(still(*store, other_version));
  DossierRecord other_head = m.projections[1];
  other_head.last_hash = std::string(64, '0');
  CHECK_FALSE(still(*store, other_head));
  // A dossier it never wrote, and a connection that wrote nothing.
  DossierRecord never_written = m.projections[2];
  never_written.id = 3;
  CHECK_FALSE(still(*store, never_written));
  CHECK_FALSE(still(*open_store(path, OpenMode::kExisting), m.projections[1]));
  // The transaction then goes on as after a read: the next append checks the version without reading it.
  REQUIRE(store
              ->write([&](WriteTx& tx) -> Status {
                auto same = tx.still_written(1, m.projections[1].version, m.projections[1].last_hash);
                if (!same || !*same) return make_error(ErrorCode::kInternal, "not still written");
                auto [fresh, p] = next_step(m, 1, Step().to("ubnd-tinh-thai-nguyen"));
                if (Status st = tx.append(m.version(1), p, fresh); !st) return st;
                commit_step(m, 1, fresh, p);
                return Status::Ok();
              })
              .ok());
  CHECK(still(*store, m.projections[1]));
  CHECK(stored(1) == m.projections[1]);

  // Another connection edits the row behind this one's back: no longer vouched for.
  {
    RawDb raw(path);
    REQUIRE(raw.exec("UPDATE dossiers SET fields = '{\"recipient_name\":\"Người khác\"}' WHERE id = 1") ==
            SQLITE_OK);
  }
  CHECK_FALSE(still(*store, m.projections[1]));
  // Any commit by another connection counts, whichever rows it touched.
  REQUIRE(advance(*store, m, 2).ok());
  CHECK(still(*store, m.projections[2]));
  {
    RawDb raw(path);
    REQUIRE(raw.exec("INSERT INTO meta (\"key\", value) VALUES ('elsewhere', '1')") == SQLITE_OK);
  }
  CHECK_FALSE(still(*store, m.projections[2]));

  // A command of a group appends then fails: what it wrote is undone and not vouched for.
  REQUIRE(advance(*store, m, 2).ok());
  const auto [undone, p_undone] = next_step(m, 2, Step().to("so-khac"));
  Status g = store->group([&] {
    auto failed = store->write([&](WriteTx& tx) -> Status {
      if (Status st = tx.append(m.version(2), p_undone, undone); !st) return st;
      CHECK(tx.still_written(2, p_undone.version, p_undone.last_hash).value());
      return make_error(ErrorCode::kRefused, "từ chối sau khi ghi");
    });
    CHECK_FALSE(failed.ok());
    CHECK_FALSE(still(*store, p_undone));
    return Status::Ok();
  });
  REQUIRE(g.ok());
  CHECK_FALSE(still(*store, p_undone));
  CHECK(stored(2) == m.projections[2]);

  // A group that fails after its commands appended: nothing of it is kept, nor vouched for.
  Status failed_group = store->group([&] {
    REQUIRE(store->write([&](WriteTx& tx) { return tx.append(m.version(2), p_undone, undone); }).ok());
    return make_error(ErrorCode::kInternal, "nhóm thất bại");
  });
  CHECK_FALSE(failed_group.ok());
  CHECK_FALSE(still(*store, p_undone));
  CHECK(stored(2) == m.projections[2]);

  // A write (outside a group) that appends then fails.
  Status failed_write = store->write([&](WriteTx& tx) -> Status {
    if (Status st = tx.append(m.version(2), p_undone, undone); !st) return st;
    return make_error(ErrorCode::kRefused, "từ chối sau khi ghi");
  });
  CHECK_FALSE(failed_write.ok());
  CHECK_FALSE(still(*store, p_undone));
  CHECK(store->events(2).value() == m.events[2]);
}

TEST_CASE("write: a storage failure inside work rolls back even when work ignores it", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  REQUIRE(store->write([&](WriteTx& tx) { return tx.replace_directory({{"a", "A", "so", ""}}, {}); }).ok());
  Status inner;
  Status s = store->write([&](WriteTx& tx) {
    // Duplicate keys: the second insert fails after the old rows were deleted.
    inner = tx.replace_directory({{"b", "B", "so", ""}, {"b", "B again", "so", ""}}, {});
    return Status::Ok();
  });
  REQUIRE_FALSE(inner.ok());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kInternal);
  CHECK_THAT(s.error().message, Catch::Contains("UNIQUE"));
  auto orgs = store->orgs().value();
  REQUIRE(orgs.size() == 1);
  CHECK(orgs[0].key == "a");
}

TEST_CASE("write: nested writes are refused, a WriteTx is dead after its write()", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  WriteTx* kept = nullptr;
  Status nested;
  Status outer = store->write([&](WriteTx& tx) {
    kept = &tx;
    nested = store->write([](WriteTx&) { return Status::Ok(); });
    return tx.replace_directory({{"a", "A", "so", ""}}, {});
  });
  CHECK(outer.ok());
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().code == ErrorCode::kInternal);
  CHECK(store->orgs().value().size() == 1);  // the outer transaction still committed
  REQUIRE(kept != nullptr);
  CHECK(kept->allocate_dossier_id().error().code == ErrorCode::kInternal);
}

TEST_CASE("allocate_dossier_id: fresh ids, distinct within one transaction", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(store
              ->write([&](WriteTx& tx) -> Status {
                auto a = tx.allocate_dossier_id();
                auto b = tx.allocate_dossier_id();
                CHECK(a.value() == 1);
                CHECK(b.value() == 2);
                for (DossierId id : {a.value(), b.value()}) {
                  auto [evs, p] = next_step(m, id, {});
                  if (Status s = tx.append(0, p, evs); !s) return s;
                  commit_step(m, id, evs, p);
                }
                return Status::Ok();
              })
              .ok());
  REQUIRE(store
              ->write([&](WriteTx& tx) -> Status {
                CHECK(tx.allocate_dossier_id().value() == 3);
                return Status::Ok();
              })
              .ok());
}

TEST_CASE("events are append-only in the database itself", "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  auto store = open_store(path);
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(3)).ok());
  RawDb raw(path);
  CHECK(raw.exec("UPDATE events SET note = 'sửa lén' WHERE seq = 2") != SQLITE_OK);
  CHECK_THAT(raw.errmsg(), Catch::Contains("append-only"));
  CHECK(raw.exec("DELETE FROM events WHERE seq = 3") != SQLITE_OK);
  CHECK_THAT(raw.errmsg(), Catch::Contains("append-only"));
  CHECK(raw.exec("DELETE FROM events") != SQLITE_OK);
  CHECK(raw.count("events") == 3);
  CHECK(store->events(1).value() == m.events[1]);
}

TEST_CASE("put_definition: idempotent by hash, moves the head of its name", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  const DefinitionRecord a1 = make_definition("khen-thuong", 1);
  const DefinitionRecord a2 = make_definition("khen-thuong", 2);
  const DefinitionRecord b1 = make_definition("danh-hieu", 1);
  auto put = [&](const DefinitionRecord& d) {
    return store->write([&](WriteTx& tx) { return tx.put_definition(d); });
  };
  auto heads = [&] {
    std::vector<std::string> out;
    const std::vector<DefinitionRecord> current = store->current_definitions().value();
    for (const auto& d : current) out.push_back(d.name + "@" + d.hash.substr(0, 8));
    return out;
  };
  auto tag = [](const DefinitionRecord& d) { return d.name + "@" + d.hash.substr(0, 8); };
  RawDb raw(store->path());

  REQUIRE(put(a1).ok());
  REQUIRE(put(a1).ok());
  CHECK(raw.count("definitions") == 1);
  CHECK(heads() == std::vector<std::string>{tag(a1)});
  REQUIRE(put(a2).ok());
  CHECK(heads() == std::vector<std::string>{tag(a2)});
  REQUIRE(put(b1).ok());
  CHECK(heads() == std::vector<std::string>{tag(b1), tag(a2)});  // by name
  REQUIRE(put(a1).ok());                                         // back to an older version
  CHECK(heads() == std::vector<std::string>{tag(b1), tag(a1)});
  CHECK(raw.count("definitions") == 3);

  auto got = store->definition(a2.hash);
  REQUIRE(got.ok());
  REQUIRE(got.value().has_value());
  const DefinitionRecord& d = *got.value();
  CHECK(d.hash == a2.hash);
  CHECK(d.name == a2.name);
  CHECK(d.workflow_file == a2.workflow_file);
  CHECK(d.workflow_source == a2.workflow_source);
  CHECK(d.catalogue_file == a2.catalogue_file);
  CHECK(d.catalogue_source == a2.catalogue_source);
  CHECK(d.loaded_at == a2.loaded_at);
  CHECK_FALSE(store->definition("khong-co").value().has_value());

  DefinitionRecord renamed = a1;
  renamed.name = "ten-khac";
  Status s = put(renamed);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kInternal);
}

TEST_CASE("replace_directory: round-trips in config order and replaces wholesale", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  const std::vector<OrgRecord> orgs = {
      {"ubnd-tinh", "Ủy ban nhân dân tỉnh", "ubnd", ""},
      {"so-noi-vu", "Sở Nội vụ", "so", "ubnd-tinh"},
      {"ban-tdkt", "Ban Thi đua – Khen thưởng", "ban", "so-noi-vu"},
      {"a-truong", "Trường THPT A", "truong", "so-noi-vu"},
  };
  const std::vector<UserRecord> users = {
      {"tran.b", "Trần Văn B", "b@example.vn", "so-noi-vu", {"clerk", "appraiser"}},
      {"an", "Nguyễn Văn An", "an@example.vn", "ubnd-tinh", {"signer"}},
      {"x", "Người \"lạ\"", "", "ban-tdkt", {}},
      {"y", "Ký tự đặc biệt", "y@example.vn", "a-truong", {"quote\"back\\slash", "tab\there", "vai trò"}},
  };
  REQUIRE(store->write([&](WriteTx& tx) { return tx.replace_directory(orgs, users); }).ok());
  auto got_orgs = store->orgs().value();
  auto got_users = store->users().value();
  REQUIRE(got_orgs.size() == orgs.size());
  for (std::size_t i = 0; i < orgs.size(); ++i) {
    CHECK(got_orgs[i].key == orgs[i].key);
    CHECK(got_orgs[i].name == orgs[i].name);
    CHECK(got_orgs[i].kind == orgs[i].kind);
    CHECK(got_orgs[i].parent == orgs[i].parent);
  }
  REQUIRE(got_users.size() == users.size());
  for (std::size_t i = 0; i < users.size(); ++i) {
    CHECK(got_users[i].key == users[i].key);
    CHECK(got_users[i].name == users[i].name);
    CHECK(got_users[i].email == users[i].email);
    CHECK(got_users[i].org == users[i].org);
    CHECK(got_users[i].roles == users[i].roles);
  }

  REQUIRE(store->write([&](WriteTx& tx) { return tx.replace_directory({orgs[1]}, {users[1]}); }).ok());
  REQUIRE(store->orgs().value().size() == 1);
  CHECK(store->orgs().value()[0].key == "so-noi-vu");
  REQUIRE(store->users().value().size() == 1);
  CHECK(store->users().value()[0].key == "an");
}

TEST_CASE("open_held_by: open dossiers of one holder, in id order, dossiers: all in id order", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*store, m, 3, Step().to("so-noi-vu")).ok());
  REQUIRE(advance(*store, m, 1, Step().to("so-noi-vu")).ok());
  REQUIRE(advance(*store, m, 2, Step().to("ubnd-tinh")).ok());
  REQUIRE(advance(*store, m, 4, Step().to("so-noi-vu").closing()).ok());
  REQUIRE(advance(*store, m, 5, Step().to("ubnd-tinh")).ok());

  auto ids = [](const std::vector<DossierRecord>& ds) {
    std::vector<DossierId> out;
    for (const auto& d : ds) out.push_back(d.id);
    return out;
  };
  CHECK(ids(store->open_held_by("so-noi-vu").value()) == std::vector<DossierId>{1, 3});
  CHECK(ids(store->open_held_by("ubnd-tinh").value()) == std::vector<DossierId>{2, 5});
  CHECK(store->open_held_by("khong-ai").value().empty());
  CHECK(store->open_held_by("so-noi-vu").value()[0] == m.projections[1]);

  // Moving a dossier moves it between inboxes.
  REQUIRE(advance(*store, m, 1, Step().to("ubnd-tinh")).ok());
  CHECK(ids(store->open_held_by("so-noi-vu").value()) == std::vector<DossierId>{3});
  CHECK(ids(store->open_held_by("ubnd-tinh").value()) == std::vector<DossierId>{1, 2, 5});

  auto all = store->dossiers().value();
  CHECK(ids(all) == std::vector<DossierId>{1, 2, 3, 4, 5});
  for (const auto& d : all) CHECK(d == m.projections[d.id]);
  RawDb raw(store->path());
  CHECK(raw.scalar("PRAGMA integrity_check") == "ok");
}

TEST_CASE("append: several appends and moves of one dossier inside one transaction", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*store, m, 1, Step().to("so-noi-vu")).ok());
  REQUIRE(advance(*store, m, 2, Step().to("so-noi-vu")).ok());
  Model next = m;
  // load, then append four times, alternating between keeping and moving the holder, closing last.
  const std::vector<Step> steps = {Step().to("so-noi-vu"), Step().n(2).to("ubnd-tinh"),
                                   Step().to("ubnd-tinh"), Step().to("ban-tdkt").closing()};
  Status s = store->write([&](WriteTx& tx) -> Status {
    auto loaded = tx.load(1);
    if (!loaded.ok()) return loaded.error();
    REQUIRE(loaded.value() == m.projections[1]);
    for (const Step& step : steps) {
      auto [fresh, p] = next_step(next, 1, step);
      if (Status st = tx.append(next.version(1), p, fresh); !st) return st;
      commit_step(next, 1, fresh, p);
    }
    return Status::Ok();
  });
  REQUIRE(s.ok());
  m = next;
  CHECK(store->load(1).value() == m.projections[1]);
  CHECK(store->events(1).value() == m.events[1]);
  CHECK(store->open_held_by("ban-tdkt").value().empty());
  CHECK(store->open_held_by("ubnd-tinh").value().empty());
  REQUIRE(store->open_held_by("so-noi-vu").value().size() == 1);
  CHECK(store->open_held_by("so-noi-vu").value()[0].id == 2);
  RawDb raw(store->path());
  CHECK(raw.scalar("PRAGMA integrity_check") == "ok");  // table and inbox index agree
}

TEST_CASE(
    "the dossiers changed after a place in the log: each once in the order of its first event there - "
    "and where the log ends",
    "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  CHECK(store->last_gseq().value() == 0);
  CHECK(store->dossiers_changed_after(0).value().ids.empty());
  CHECK(store->dossiers_changed_after(0).value().through == 0);
  Model m;
  REQUIRE(advance(*store, m, 2, Step().n(2)).ok());  // gseq 1-2
  REQUIRE(advance(*store, m, 1, Step().n(1)).ok());  // gseq 3
  REQUIRE(advance(*store, m, 2, Step().n(1)).ok());  // gseq 4
  REQUIRE(advance(*store, m, 3, Step().n(1)).ok());  // gseq 5
  CHECK(store->last_gseq().value() == 5);
  const ChangedDossiers all = store->dossiers_changed_after(0).value();
  CHECK(all.ids == std::vector<DossierId>{2, 1, 3});
  CHECK(all.through == 5);
  const ChangedDossiers late = store->dossiers_changed_after(3).value();
  CHECK(late.ids == std::vector<DossierId>{2, 3});
  CHECK(late.through == 5);
  const ChangedDossiers none = store->dossiers_changed_after(5).value();
  CHECK(none.ids.empty());
  CHECK(none.through == 5);
}

TEST_CASE("the log as the outbox: events after a place, one event by place, a dispatch cursor that only moves on",
          "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  for (DossierId id = 1; id <= 3; ++id) REQUIRE(advance(*store, m, id, Step().n(2)).ok());
  const std::vector<EventRecord> log = scan_all(*store);
  REQUIRE(log.size() == 6);
  // The payloads of the events after a gseq, in log order, at most `limit`.
  auto after = store->payloads_after(2, 3).value();
  REQUIRE(after.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(after[i].gseq == static_cast<std::int64_t>(i) + 3);
    CHECK(after[i].payload == log[i + 2].payload);
  }
  CHECK(store->payloads_after(6, 10).value().empty());
  CHECK(store->payloads_after(0, 100).value().size() == 6);
  CHECK(store->event_at(4).value().value() == log[3]);
  CHECK_FALSE(store->event_at(7).value().has_value());
  // The cursor starts before everything, and moves forward only, inside a write.
  CHECK(store->dispatch_cursor().value() == NoticeKey{0, -1});
  REQUIRE(store->write([](WriteTx& tx) { return tx.mark_delivered(2, 0); }).ok());
  CHECK(store->dispatch_cursor().value() == NoticeKey{2, 0});
  REQUIRE(store->write([](WriteTx& tx) { return tx.mark_delivered(2, 1); }).ok());
  const Snapshot before = snapshot(*store);
  for (NoticeKey k : {NoticeKey{2, 1}, NoticeKey{2, 0}, NoticeKey{1, 5}}) {
    Status s = store->write([&](WriteTx& tx) { return tx.mark_delivered(k.gseq, k.n); });
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInternal);
  }
  CHECK(snapshot(*store) == before);
  CHECK(store->dispatch_cursor().value() == NoticeKey{2, 1});
  // Inside a write, the event at a place is read on the writer's connection.
  REQUIRE(store->write([&](WriteTx& tx) -> Status {
    CHECK(tx.event_at(5).value().value() == log[4]);
    return Status::Ok();
  }).ok());
  SECTION("a cursor written by hand in another shape is refused, not guessed") {
    RawDb raw(store->path());
    for (const char* forged : {"2.x", "2.-1", "0.0", "-9223372036854775808.0", "2", ".", "2.1.1"}) {
      INFO(forged);
      REQUIRE(raw.exec(fmt::format("UPDATE meta SET value = '{}' WHERE key = 'dispatch_cursor'", forged)) == SQLITE_OK);
      CHECK(store->dispatch_cursor().error().code == ErrorCode::kVerifyFailed);
    }
  }
}

TEST_CASE("scan_events: stops at fn's first error, fn may read the store meanwhile", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  Model m;
  for (DossierId id = 1; id <= 3; ++id) REQUIRE(advance(*store, m, id, Step().n(2)).ok());

  int seen = 0;
  Status s = store->scan_events([&](const EventRecord&) -> Status {
    if (++seen == 3) return make_error(ErrorCode::kVerifyFailed, "chuỗi băm không khớp");
    return Status::Ok();
  });
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kVerifyFailed);
  CHECK(seen == 3);

  std::size_t matched = 0;
  s = store->scan_events([&](const EventRecord& e) -> Status {
    auto history = store->events(e.dossier);
    if (!history.ok()) return history.error();
    if (history.value()[static_cast<std::size_t>(e.seq - 1)] == e) ++matched;
    return Status::Ok();
  });
  REQUIRE(s.ok());
  CHECK(matched == m.log.size());

  s = store->scan_events([](const EventRecord&) -> Status { throw std::runtime_error("hỏng"); });
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kInternal);
}

TEST_CASE("write: waits for another writer's lock, then fails with kInternal after the busy timeout",
          "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  auto store = open_store(path, OpenMode::kCreate, std::chrono::milliseconds(150));
  Model m;
  RawDb other(path);
  REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
  const auto start = std::chrono::steady_clock::now();
  Status s = advance(*store, m, 1);
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kInternal);
  CHECK_THAT(s.error().message, Catch::Contains("khóa"));
  CHECK(waited >= std::chrono::milliseconds(100));
  REQUIRE(other.exec("ROLLBACK") == SQLITE_OK);
  REQUIRE(advance(*store, m, 1).ok());
  CHECK(store->events(1).value() == m.events[1]);
}

// ---------------------------------------------------------------------------------------------------
// Two OS processes race on the same dossier.

namespace {

// In a forked child: open the store, load the dossier, report "ready", wait for "go", then append one
// event on top of what was loaded. Exit code 0 = appended, 1 = kVersionConflict, 2+ = anything else.
int race_child(const std::string& path, DossierId id, std::int64_t expected, int ready_fd, int go_fd,
               int tag) {
  auto opened = SqliteStore::open(path, OpenMode::kExisting);
  if (!opened.ok()) return 3;
  SqliteStore& store = *opened.value();
  auto loaded = store.load(id);
  if (!loaded.ok() || !loaded.value() || loaded.value()->version != expected) return 4;
  const DossierRecord base = *loaded.value();
  char byte = 'r';
  if (::write(ready_fd, &byte, 1) != 1) return 5;
  if (::read(go_fd, &byte, 1) != 1) return 6;

  EventRecord e = make_event(id, expected + 1, base.last_hash, fmt::format("tien-trinh-{}", tag));
  e.note = fmt::format("ghi bởi tiến trình {}", tag);
  e.hash = event_hash(e);
  DossierRecord p = base;
  p.version = expected + 1;
  p.previous_holder = base.holder;
  p.holder = e.holder;
  p.last_hash = e.hash;
  p.updated_at = e.at;
  Status s = store.write([&](WriteTx& tx) { return tx.append(expected, p, {e}); });
  if (s.ok()) return 0;
  return s.error().code == ErrorCode::kVersionConflict ? 1 : 7;
}

}  // namespace

TEST_CASE("two processes append on the same version: exactly one wins, the other gets kVersionConflict",
          "[sqlite][process]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  Model m;
  {
    auto store = open_store(path);
    REQUIRE(advance(*store, m, 1).ok());
  }  // closed before forking: each child opens its own connection

  for (std::int64_t expected = 1; expected <= 3; ++expected) {
    int ready[2];
    int go[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(go) == 0);
    pid_t pids[2];
    for (int tag = 0; tag < 2; ++tag) {
      pids[tag] = ::fork();
      REQUIRE(pids[tag] >= 0);
      if (pids[tag] == 0) {
        ::alarm(60);  // never hang the suite
        ::close(ready[0]);
        ::close(go[1]);
        _exit(race_child(path, 1, expected, ready[1], go[0], tag));
      }
    }
    ::close(ready[1]);
    ::close(go[0]);
    char buf[2];
    std::size_t got = 0;
    while (got < 2) {
      const ssize_t n = ::read(ready[0], buf + got, 2 - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    CHECK(got == 2);  // both children have read version `expected`
    const char go_bytes[2] = {'g', 'g'};
    CHECK(::write(go[1], go_bytes, 2) == 2);
    ::close(ready[0]);
    ::close(go[1]);

    int codes[2] = {-1, -1};
    for (int tag = 0; tag < 2; ++tag) {
      int status = 0;
      REQUIRE(::waitpid(pids[tag], &status, 0) == pids[tag]);
      REQUIRE(WIFEXITED(status));
      codes[tag] = WEXITSTATUS(status);
    }
    INFO("round " << expected << ": exit codes " << codes[0] << ", " << codes[1]);
    CHECK(((codes[0] == 0 && codes[1] == 1) || (codes[0] == 1 && codes[1] == 0)));
    const int winner = codes[0] == 0 ? 0 : 1;

    auto store = open_store(path, OpenMode::kExisting);
    auto events = store->events(1).value();
    REQUIRE(static_cast<std::int64_t>(events.size()) == expected + 1);
    CHECK(events.back().note == fmt::format("ghi bởi tiến trình {}", winner));
    CHECK(store->load(1).value()->version == expected + 1);
    CHECK(scan_all(*store).size() == static_cast<std::size_t>(expected + 1));
  }
}

TEST_CASE("snapshot: reads inside see one state while another connection commits", "[sqlite]") {
  TempDir dir;
  auto reader = open_store(dir.file("hoso.db"));
  auto writer = open_store(dir.file("hoso.db"));
  Model m;
  REQUIRE(advance(*writer, m, 1).ok());
  std::int64_t inside_first = 0, inside_after = 0;
  std::size_t events_inside = 0;
  Status s = reader->snapshot([&]() -> Status {
    inside_first = reader->load(1).value()->version;
    // Another connection commits two more events meanwhile.
    if (Status w = advance(*writer, m, 1, Step().n(2)); !w) return w;
    inside_after = reader->load(1).value()->version;
    events_inside = reader->events(1).value().size();
    return reader->last_event(1).value()->seq == 1 ? Status::Ok()
                                                   : Status(make_error(ErrorCode::kInternal, "moved"));
  });
  REQUIRE(s.ok());
  CHECK(inside_first == 1);
  CHECK(inside_after == 1);
  CHECK(events_inside == 1);
  // After the snapshot, the new state is visible.
  CHECK(reader->load(1).value()->version == 3);
  // A failing snapshot returns its error.
  Status failed = reader->snapshot([]() -> Status { return make_error(ErrorCode::kVerifyFailed, "x"); });
  CHECK(failed.error().code == ErrorCode::kVerifyFailed);
  CHECK(reader->load(1).value()->version == 3);
}

// Runs scan_log_chunks and records what reached in_order, checking the contract on the way: every chunk is
// worked on (by a worker < plan.workers) before it reaches in_order, chunks reach in_order in index order, at
// most plan.slots() are in flight, and their stretches of gseq follow one another from the smallest to the
// largest.
struct ChunkRun {
  std::vector<std::pair<std::int64_t, EventRecord>> events;  // (gseq, event) in the order in_order saw them
  std::vector<std::int64_t> chunk_sizes;
  std::set<unsigned> workers;
  Status status = Status::Ok();
};
ChunkRun run_chunks(SqliteStore& store, const LogScan& plan,
                    const std::function<Status(const LogChunk&)>& fail_work = nullptr,
                    const std::function<Status(const LogChunk&)>& fail_in_order = nullptr) {
  ChunkRun out;
  std::mutex guard;
  std::set<std::int64_t> worked;
  int in_flight = 0, most = 0;
  std::int64_t next_index = 0, next_first = std::numeric_limits<std::int64_t>::min();
  bool ended = false;
  out.status = store.scan_log_chunks(
      plan,
      [&](unsigned worker, LogChunk& c) -> Status {
        std::lock_guard lock(guard);
        CHECK(worker < plan.workers);
        CHECK(c.slot < plan.slots());
        CHECK(c.n_events <= plan.chunk_events);
        out.workers.insert(worker);
        worked.insert(c.index);
        most = std::max(most, ++in_flight);
        return fail_work ? fail_work(c) : Status::Ok();
      },
      [&](LogChunk& c) -> Status {
        std::lock_guard lock(guard);
        CHECK(worked.count(c.index) == 1);
        CHECK(c.index == next_index++);
        CHECK_FALSE(ended);
        CHECK(c.first_gseq == next_first);
        CHECK(c.last_gseq >= c.first_gseq);
        ended = c.last_gseq == std::numeric_limits<std::int64_t>::max();
        if (!ended) next_first = c.last_gseq + 1;
        for (std::size_t i = 0; i < c.n_events; ++i) {
          CHECK(c.gseqs[i] >= c.first_gseq);
          CHECK(c.gseqs[i] <= c.last_gseq);
          out.events.emplace_back(c.gseqs[i], c.events[i]);
        }
        out.chunk_sizes.push_back(static_cast<std::int64_t>(c.n_events));
        --in_flight;
        return fail_in_order ? fail_in_order(c) : Status::Ok();
      });
  CHECK(most <= static_cast<int>(plan.slots()));
  if (!out.status.ok()) UNSCOPED_INFO(out.status.error().message);
  if (out.status.ok()) CHECK(ended);  // the last stretch reaches the largest gseq
  return out;
}

LogScan chunk_plan(unsigned workers, std::size_t chunk_events) {
  LogScan plan;
  plan.workers = workers;
  plan.chunk_events = chunk_events;
  return plan;
}

TEST_CASE("chunked log scan: every event once, in log order, from the caller's snapshot", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("hoso.db"));
  auto writer = open_store(dir.file("hoso.db"));
  Model m;
  // Interleaved appends of 7 dossiers.
  for (int round = 0; round < 3; ++round)
    for (DossierId id = 1; id <= 7; ++id) REQUIRE(advance(*store, m, id, Step().n(1 + static_cast<int>((id + round) % 2))).ok());
  const std::vector<EventRecord> log = scan_all(*store);
  REQUIRE(log.size() > 21);

  for (unsigned workers : {1u, 2u, 3u})
    for (std::size_t size : {std::size_t{1}, std::size_t{4}, std::size_t{1000}}) {
      INFO("workers = " << workers << ", chunk_events = " << size);
      ChunkRun run = run_chunks(*store, chunk_plan(workers, size));
      REQUIRE(run.status.ok());
      REQUIRE(run.events.size() == log.size());
      for (std::size_t i = 0; i < log.size(); ++i) {
        CHECK(run.events[i].first == static_cast<std::int64_t>(i + 1));  // gseq is the position in the log
        CHECK(run.events[i].second == log[i]);
      }
      // Full chunks but the last.
      for (std::size_t i = 0; i + 1 < run.chunk_sizes.size(); ++i) CHECK(run.chunk_sizes[i] == static_cast<std::int64_t>(size));
    }

  std::vector<std::vector<DossierId>> ids(3);
  std::mutex guard;
  Status s = store->scan_dossiers_partitioned(3, [&](unsigned k, std::int64_t id, DossierRecord& d) {
    std::lock_guard lock(guard);
    CHECK(d.id == id);
    CHECK(d == m.projections.at(id));
    ids[k].push_back(id);
    return Status::Ok();
  });
  REQUIRE(s.ok());
  // Projections come in contiguous id ranges, part 0 first.
  std::vector<DossierId> all;
  for (unsigned k = 0; k < 3; ++k) {
    CHECK_FALSE(ids[k].empty());
    all.insert(all.end(), ids[k].begin(), ids[k].end());
  }
  CHECK(all == std::vector<DossierId>{1, 2, 3, 4, 5, 6, 7});

  SECTION("a projection forged with an id below 1 still lands in a part") {
    RawDb raw(store->path());
    REQUIRE(raw.exec("CREATE TEMP TABLE copy AS SELECT * FROM dossiers WHERE id = 1; UPDATE copy SET id = -4; "
                     "INSERT INTO dossiers SELECT * FROM copy") == SQLITE_OK);
    for (unsigned parts : {1u, 2u, 3u}) {
      std::vector<DossierId> seen;
      REQUIRE(store->scan_dossiers_partitioned(parts, [&](unsigned, std::int64_t id, DossierRecord&) {
        std::lock_guard lock(guard);
        seen.push_back(id);
        return Status::Ok();
      }).ok());
      std::sort(seen.begin(), seen.end());
      CHECK(seen == std::vector<DossierId>{-4, 1, 2, 3, 4, 5, 6, 7});
    }
  }
  SECTION("events forged far beyond the log, and below it, are read in their place; the scan ends") {
    RawDb raw(store->path());
    REQUIRE(raw.exec("CREATE TEMP TABLE copy AS SELECT * FROM events WHERE gseq = 1; "
                     "UPDATE copy SET gseq = 9223372036854775807; INSERT INTO events SELECT * FROM copy; "
                     "UPDATE copy SET gseq = 1000000; INSERT INTO events SELECT * FROM copy; "
                     "UPDATE copy SET gseq = -9223372036854775807; INSERT INTO events SELECT * FROM copy") == SQLITE_OK);
    for (unsigned workers : {1u, 2u}) {
      ChunkRun run = run_chunks(*store, chunk_plan(workers, 4));
      REQUIRE(run.status.ok());
      REQUIRE(run.events.size() == log.size() + 3);
      CHECK(run.events.front().first == -9223372036854775807LL);
      CHECK(run.events[run.events.size() - 2].first == 1000000);
      CHECK(run.events.back().first == std::numeric_limits<std::int64_t>::max());
      CHECK(run.events.back().second == log[0]);
    }
  }
  SECTION("a failing work or in_order stops the scan: no later chunk reaches in_order") {
    for (unsigned workers : {1u, 2u}) {
      auto at_chunk_3 = [](const LogChunk& c) -> Status {
        return c.index == 3 ? Status(make_error(ErrorCode::kVerifyFailed, "hỏng")) : Status::Ok();
      };
      ChunkRun in_order = run_chunks(*store, chunk_plan(workers, 2), nullptr, at_chunk_3);
      CHECK(in_order.status.error().code == ErrorCode::kVerifyFailed);
      CHECK(in_order.chunk_sizes.size() == 4);  // chunks 0..3
      ChunkRun work = run_chunks(*store, chunk_plan(workers, 2), at_chunk_3);
      CHECK(work.status.error().code == ErrorCode::kVerifyFailed);
      CHECK(work.chunk_sizes.size() == 3);  // chunks 0..2 pass; chunk 3 and after never reach in_order
    }
  }
  SECTION("a later chunk's failure never hides an earlier one, however the threads run") {
    for (unsigned workers : {1u, 2u, 3u}) {
      // Chunk 1's work fails at once; chunk 0 fails in in_order, later in time.
      ChunkRun run = run_chunks(
          *store, chunk_plan(workers, 4),
          [](const LogChunk& c) -> Status {
            return c.index == 1 ? Status(make_error(ErrorCode::kInternal, "chunk 1")) : Status::Ok();
          },
          [](const LogChunk& c) -> Status {
            if (c.index != 0) return Status::Ok();
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            return make_error(ErrorCode::kVerifyFailed, "chunk 0");
          });
      REQUIRE_FALSE(run.status.ok());
      CHECK(run.status.error().message == "chunk 0");
    }
  }
  SECTION("work may read through the store while the chunks are read") {
    std::atomic<int> loads{0};
    LogScan plan = chunk_plan(2, 2);
    Status scanned = store->scan_log_chunks(
        plan,
        [&](unsigned, LogChunk& c) -> Status {
          for (std::size_t i = 0; i < c.n_events; ++i) {
            static std::mutex serial;  // the store's own connection is used by one thread at a time
            std::lock_guard lock(serial);
            auto p = store->load(c.events[i].dossier);
            if (!p || !p->has_value()) return make_error(ErrorCode::kInternal, "load");
            ++loads;
          }
          return Status::Ok();
        },
        [](LogChunk&) { return Status::Ok(); });
    REQUIRE(scanned.ok());
    CHECK(loads.load() == static_cast<int>(log.size()));
  }
  SECTION("inside a snapshot that a writer has since moved past, the snapshot is read, on the calling thread") {
    ChunkRun run;
    Status snap = store->snapshot([&]() -> Status {
      REQUIRE(store->load(1).value()->version >= 1);  // the snapshot is taken
      REQUIRE(advance(*writer, m, 1).ok());
      run = run_chunks(*store, chunk_plan(2, 3));
      return run.status;
    });
    REQUIRE(snap.ok());
    CHECK(run.events.size() == log.size());  // not the writer's event
    CHECK(run.workers == std::set<unsigned>{0});
    // Outside it, the new event is read.
    CHECK(run_chunks(*store, chunk_plan(2, 3)).events.size() == log.size() + 1);
  }
}

TEST_CASE("disk full: a command whose writes hit a full disk ends its group and no later command of the group "
          "is kept on its own",
          "[sqlite]") {
  TempDir dir;
  const std::string path = dir.file("hoso.db");
  auto store = open_store(path);
  REQUIRE(store->defer_durability().ok());  // as the server's writer: its 8 MiB page cache
  Model m;
  REQUIRE(advance(*store, m, 1, Step().n(2)).ok());
  REQUIRE(advance(*store, m, 2).ok());
  const Snapshot before = snapshot(*store);
  // A command larger than the page cache: SQLite writes part of it to the log before its commit, and the
  // disk is full by then.
  auto [big, p_big] = next_step(m, 1, Step().n(4000).editing([](EventRecord& e) { e.note = std::string(3000, 'n'); }));
  auto [small, p_small] = next_step(m, 2, {});
  std::error_code ec;
  const auto log_size = fs::exists(path + "-wal") ? fs::file_size(path + "-wal", ec) : 0;
  Status big_written, small_written;
  {
    FileSizeLimit full(static_cast<rlim_t>(std::max(fs::file_size(path), log_size) + (1u << 20)));
    Status group = store->group([&] {
      big_written = store->write([&](WriteTx& tx) { return tx.append(2, p_big, big); });
      full.lift();  // room again: the next command could be written
      small_written = store->write([&](WriteTx& tx) { return tx.append(1, p_small, small); });
      return Status::Ok();
    });
    INFO("group: " << (group.ok() ? std::string("ok") : group.error().message));
    CHECK_FALSE(group.ok());
  }
  INFO("big: " << (big_written.ok() ? std::string("ok") : big_written.error().message));
  INFO("small: " << (small_written.ok() ? std::string("ok") : small_written.error().message));
  REQUIRE_FALSE(big_written.ok());
  CHECK(big_written.error().reason == "storage_full");
  CHECK_THAT(big_written.error().message, Catch::Contains("đĩa đã đầy"));
  REQUIRE_FALSE(small_written.ok());
  CHECK(small_written.error().reason == "storage_full");  // the group's cause, not run at all
  CHECK(snapshot(*store) == before);

  // The same command alone, on a full disk, with work that ignores the failure and writes on: refused whole,
  // and what it wrote after the failure is not committed on its own either.
  {
    FileSizeLimit full(
        static_cast<rlim_t>(std::max(fs::file_size(path), fs::file_size(path + "-wal", ec)) + (1u << 20)));
    Status after;
    Status alone = store->write([&](WriteTx& tx) -> Status {
      if (tx.append(2, p_big, big).ok()) return make_error(ErrorCode::kInternal, "the disk was not full");
      full.lift();
      after = tx.append(1, p_small, small);
      return Status::Ok();
    });
    REQUIRE_FALSE(alone.ok());
    CHECK(alone.error().reason == "storage_full");
    REQUIRE_FALSE(after.ok());
  }
  CHECK(snapshot(*store) == before);
  // With room again the store goes on where it was.
  REQUIRE(advance(*store, m, 2).ok());
  REQUIRE(advance(*store, m, 1).ok());
  CHECK(store->events(1).value() == m.events[1]);
  CHECK(store->events(2).value() == m.events[2]);
  CHECK(scan_all(*store) == m.log);
}

}  // namespace hoso
