// The Store port on one SQLite file: an append-only event log plus the projections derived from it.
//
// One SqliteStore is one connection. It is not thread-safe: use it from one thread at a time (open
// one per thread or per process). Several processes may open the same file; their writes are
// serialized by SQLite's write lock (write() takes it up front), readers never block writers (WAL).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/records.hpp"
#include "engine/result.hpp"
#include "engine/store.hpp"

namespace hoso {

enum class OpenMode {
  kCreate,    // create the file and the schema when missing; open an existing hoso database as is
  kExisting,  // the file must exist and hold a hoso schema, else kNotFound
};

// How hard a commit pushes to the disk.
enum class Durability {
  kFull,    // synchronous=FULL: an acknowledged commit survives a power cut. Always, for real data.
  kNoSync,  // synchronous=OFF: no fsync at all. Only for throwaway data (benchmark fixtures, tests).
};

// Configures the SQLite library for this process before its first use (idempotent; every SqliteStore::open
// calls it): no memory statistics. SQLite otherwise takes one process-wide mutex around each of its
// allocations to count them, and the server's engine, notice dispatcher and checkpoints, each on a connection
// of its own, contend for it (futex waits on every few rows). hoso never reads those statistics. Returns
// false when SQLite was already initialised by someone else (then it stays as they configured it).
bool configure_sqlite_library();

// Makes durable every transaction committed to the database at `db_path` so far, by any connection: one
// fdatasync of its write-ahead log (fsync acts on the file, whichever descriptor wrote it). For a connection
// with deferred durability. Thread-safe; uses no SQLite connection.
class LogSync {
 public:
  explicit LogSync(std::string db_path);
  ~LogSync();
  LogSync(const LogSync&) = delete;
  LogSync& operator=(const LogSync&) = delete;
  Status sync();

 private:
  std::string wal_path_;
  std::mutex m_;
  int fd_ = -1;
  unsigned long inode_ = 0;
};

class SqliteStore final : public Store {
 public:
  // Version of the on-disk schema written by this build (meta.schema_version). Stored on disk.
  // 2: submitted_at, users.active; 3: outbox keys; 4,5: time; 6: config; 7: log as outbox; 8: tokens;
  // 9: users.delegates; 10: tokens.expires_at (a version 8 or 9 file is migrated when opened)
  static constexpr int kSchemaVersion = 10;
  // How long a command waits for another process's write lock before failing with kInternal.
  static constexpr std::chrono::milliseconds kDefaultBusyTimeout{10'000};

  // Opens (or creates, with kCreate) the database at `path`. Fails with kNotFound when kExisting and the
  // file is missing or holds no hoso schema; with kInvalidInput when kCreate meets a file that is some
  // other database; with kInternal on I/O errors or a schema version this build does not know.
  static Result<std::unique_ptr<SqliteStore>> open(
      const std::string& path, OpenMode mode, std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout,
      Durability durability = Durability::kFull);
  // Returns true when `path` is an existing file holding a hoso schema. Never modifies the file.
  static bool exists(const std::string& path);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  const std::string& path() const;

  // For a server that makes its commits durable in batches of its own (group commit with the flush off the
  // writing thread): from now on this connection's commits are written to the log but not flushed one by
  // one (synchronous=NORMAL) and it no longer checkpoints. Its owner must make them durable with a LogSync
  // before it reports any of them done or lets anything outside see them, and must checkpoint from another
  // connection (checkpoint()). Outside a transaction.
  Status defer_durability();
  // For a connection that reads beside a busy writer: SQLite empties a connection's page cache whenever
  // another has committed since its last read, so a cache larger than one pass's pages is memory filled for
  // nothing: this one keeps at most 8 MiB (instead of 32). Outside a transaction.
  Status read_beside_writer();
  // With deferred durability: frames in the write-ahead log after this connection's last commit (0 before).
  std::int64_t log_frames() const;
  // A passive checkpoint: copies what the write-ahead log holds (as far as readers allow) into the database
  // file, flushing both. Returns the frames the log then holds and how many of them are copied.
  Result<std::pair<std::int64_t, std::int64_t>> checkpoint();

  // Runs `work` inside BEGIN IMMEDIATE … COMMIT. Rolls back when work fails, throws, or when any storage
  // step inside it failed after writing (even if work ignored that error). Fails with kInternal when
  // called from inside another write() on this store.
  Status write(const std::function<Status(WriteTx&)>& work) override;
  // One BEGIN IMMEDIATE … COMMIT around `work`; each write() inside it is a savepoint (released when it
  // succeeds, rolled back to when it fails). Fails with kInternal when called inside write() or group().
  Status group(const std::function<Status()>& work) override;

  // Reads run on this connection: from inside write() they see that transaction's own writes.
  // One read transaction around `reads`; the reads inside join it (WAL: one snapshot, writers not blocked).
  Status snapshot(const std::function<Status()>& reads) override;

  Result<std::optional<DossierRecord>> load(DossierId id) override;
  // Walks the dossier's prev_gseq chain back from its projection (rowid lookups only), in one read
  // transaction; empty when there is no such dossier; kInternal when the chain is broken.
  Result<std::vector<EventRecord>> events(DossierId id) override;
  // The same walk, with each event's gseq.
  Result<std::vector<LoggedEvent>> chain(DossierId id) override;
  // Streams the log in gseq (append) order through one cursor; the record passed to fn is reused
  // between calls (copy it to keep it).
  Status scan_events(const std::function<Status(EventRecord&)>& fn) override;
  // Chunks are read on this connection (worker 0, the calling thread) and on read-only connections of
  // their own (the other workers).
  Status scan_log_chunks(const LogScan& plan, const std::function<Status(unsigned, LogChunk&)>& work,
                         const std::function<Status(LogChunk&)>& in_order) override;
  Status scan_dossiers_partitioned(
      unsigned parts, const std::function<Status(unsigned, std::int64_t, DossierRecord&)>& fn) override;
  Result<std::vector<DossierRecord>> dossiers() override;
  // Streams the projections in id order through one cursor; the record passed to fn is reused.
  Status scan_dossiers(const std::function<Status(const DossierRecord&)>& fn) override;
  Result<std::optional<EventRecord>> last_event(DossierId id) override;
  Result<std::vector<DossierRecord>> open_held_by(const std::string& holder) override;

  Result<std::optional<DefinitionRecord>> definition(const std::string& hash) override;
  Result<std::vector<DefinitionRecord>> current_definitions() override;
  Result<std::vector<OrgRecord>> orgs() override;
  Result<std::vector<UserRecord>> users() override;
  Result<std::optional<ConfigSources>> sources(const std::string& name) override;
  Result<ClockRecord> clock() override;
  Result<std::vector<TimerRecord>> due_timers(const std::string& until, int limit) override;
  Result<std::int64_t> pending_timers() override;
  Result<NoticeKey> dispatch_cursor() override;
  Result<std::int64_t> directory_version() override;
  Result<std::int64_t> config_version() override;
  Result<std::optional<TokenRecord>> token(const std::string& hash) override;
  Result<std::vector<TokenRecord>> tokens_of(const std::string& user) override;
  Result<std::vector<LoggedPayload>> payloads_after(std::int64_t gseq, int limit) override;
  Result<ChangedDossiers> dossiers_changed_after(std::int64_t gseq) override;
  Result<std::int64_t> last_gseq() override;
  Result<std::optional<EventRecord>> event_at(std::int64_t gseq) override;

 private:
  class Impl;  // SQLite lives only in the .cpp
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoso
