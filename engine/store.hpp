// The ports the core's command service needs from the outside world.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/records.hpp"
#include "engine/result.hpp"
#include "engine/time.hpp"

namespace hoso {

// The one source of "now". Production reads the system clock; tests and simulations use others.
class Clock {
 public:
  virtual ~Clock() = default;
  // Returns the current instant. Read once per command.
  virtual Timestamp now() = 0;
};

// Operations inside one write transaction. Everything done through one WriteTx commits together
// or not at all.
class WriteTx {
 public:
  virtual ~WriteTx() = default;
  // Returns the dossier's projection, or nullopt when there is none.
  virtual Result<std::optional<DossierRecord>> load(DossierId id) = 0;
  // Whether the stored projection of `id` is for certain the one this store's own writes last put there, at
  // `version` with head `last_hash`, and nobody has written it since: then the caller may use its copy of
  // what it wrote instead of load(). False whenever the store cannot tell (the default: always load).
  virtual Result<bool> still_written(DossierId id, std::int64_t version, const std::string& last_hash) {
    (void)id, (void)version, (void)last_hash;
    return false;
  }
  // The dossier's latest event, or nullopt when there is no such dossier.
  virtual Result<std::optional<EventRecord>> last_event(DossierId id) = 0;
  // The time of the last event appended to the log (any dossier), or nullopt when the log is empty.
  virtual Result<std::optional<Timestamp>> log_time() = 0;
  // Returns a fresh dossier id, never used before.
  virtual Result<DossierId> allocate_dossier_id() = 0;
  // Appends events and writes the projection. `expected_version` 0 inserts a new dossier; otherwise the
  // stored version must equal it or this fails with kVersionConflict and writes nothing.
  virtual Status append(std::int64_t expected_version, const DossierRecord& projection,
                        const std::vector<EventRecord>& events) = 0;
  // Stores a definition; a no-op when its hash is already stored. Makes it current for its name.
  virtual Status put_definition(const DefinitionRecord& def) = 0;
  // Replaces the org tree and users.
  virtual Status replace_directory(const std::vector<OrgRecord>& orgs,
                                   const std::vector<UserRecord>& users) = 0;
  // Stores a set of config sources (a no-op for a hash already stored) and makes it current for its name.
  virtual Status put_sources(const ConfigSources& sources) = 0;
  // Sets where "now" comes from (and, for a virtual clock, its time). A virtual clock only moves forward:
  // an earlier time fails with kInvalidInput.
  virtual Status set_clock(const ClockRecord& clock) = 0;
  // Moves the dispatch cursor to notice n of the event at gseq; fails (kInternal) unless that is after the
  // cursor (so that no notice is recorded delivered twice).
  virtual Status mark_delivered(std::int64_t gseq, std::int64_t n) = 0;
  // The event at `gseq`, or nullopt when there is none.
  virtual Result<std::optional<EventRecord>> event_at(std::int64_t gseq) = 0;
  // Stores a new API token (its hash must be new).
  virtual Status put_token(const TokenRecord& token) = 0;
  // Marks every valid token of `user` revoked at `at`; returns how many.
  virtual Result<std::int64_t> revoke_tokens(const std::string& user, const std::string& at) = 0;
  // Marks the token whose hash is `hash` revoked at `at`; false when there is none not revoked yet.
  virtual Result<bool> revoke_token(const std::string& hash, const std::string& at) = 0;
  // Marks revoked at `at` every valid token whose user is not active in the directory as it now is
  // (deactivated, or gone from it); returns how many. Taken back later (a new person in the same post gets
  // the same key), the user starts with no token.
  virtual Result<std::int64_t> revoke_tokens_of_inactive(const std::string& at) = 0;
  // Adds a pending timer; a row already there (a cancelled one started again with the same due time) is
  // kept as it is.
  virtual Status add_timer(const TimerRecord& timer) = 0;
  // Removes a pending timer; a row already gone is not an error (the dossier's own list is the truth).
  virtual Status remove_timer(const TimerRecord& timer) = 0;
  // The pending timers due at or before `until` (UTC text), earliest first (then dossier, name), at most
  // `limit`.
  virtual Result<std::vector<TimerRecord>> due_timers(const std::string& until, int limit) = 0;
};

// How scan_log_chunks reads the log.
struct LogScan {
  unsigned workers = 1;            // threads reading and working on chunks at once (at least 1)
  std::size_t chunk_events = 1024;  // events per chunk, at most (at least 1)
  unsigned window = 0;             // chunks between being read and leaving in_order, at most; 0: 2 * workers + 1
  unsigned slots() const { return window ? std::max(window, workers) : 2 * workers + 1; }
};

// A run of consecutive events of the log. The chunks' stretches of gseq values follow one another and cover
// every possible gseq (the first starts at the smallest, the last ends at the largest). The vectors keep
// their capacity from chunk to chunk: only the first n_events entries are this chunk's.
struct LogChunk {
  std::int64_t index = 0;  // 0, 1, 2, ... in log order
  unsigned slot = 0;       // the buffer holding it, < LogScan::slots(); reused once in_order has returned
  std::int64_t first_gseq = 0, last_gseq = 0;  // the stretch, both ends included
  std::vector<EventRecord> events;   // in gseq order
  std::vector<std::int64_t> gseqs;   // gseqs[i] is events[i]'s
  std::size_t n_events = 0;
};

// The dossiers that events after a place in the log belong to, and where that stretch of the log ends.
struct ChangedDossiers {
  std::vector<DossierId> ids;  // each once, in the order of its first event in the stretch
  std::int64_t through = 0;    // gseq of the stretch's last event (the place asked about when it is empty)
};

// A durable store of definitions, events (which are also the outbox: see NoticeKey) and projections.
class Store {
 public:
  virtual ~Store() = default;
  // Runs `work` in one write transaction: commits when it returns ok, rolls back otherwise (and on
  // any storage error), returning work's error.
  virtual Status write(const std::function<Status(WriteTx&)>& work) = 0;
  // Group commit: runs `work`, in which several write() calls (commands) may run, so that they become
  // durable together (one transaction, one flush). Each write() inside still succeeds or fails as a whole
  // (a failing one leaves nothing behind) and the others go on; if the group itself then fails to commit,
  // none of them is kept, and the error is returned. A store without it runs `work` as it is.
  virtual Status group(const std::function<Status()>& work) { return work(); }

  // Runs `reads` so that every read it makes through this store sees one consistent snapshot, even while
  // other connections commit. Returns what `reads` returns.
  virtual Status snapshot(const std::function<Status()>& reads) = 0;

  virtual Result<std::optional<DossierRecord>> load(DossierId id) = 0;
  // The dossier's latest event, or nullopt when there is no such dossier.
  virtual Result<std::optional<EventRecord>> last_event(DossierId id) = 0;
  // The dossier's events in sequence order.
  virtual Result<std::vector<EventRecord>> events(DossierId id) = 0;
  // The same, each with its place in the log (the chain a dossier's projection heads, not merely events
  // that name the dossier).
  virtual Result<std::vector<LoggedEvent>> chain(DossierId id) = 0;
  // Calls `fn` for every event in append order; stops early (returning fn's error) when fn fails.
  // fn may take the record's contents (swap them out): the store refills the record for the next row,
  // so a reader that swaps in records of its own reuses their memory.
  virtual Status scan_events(const std::function<Status(EventRecord&)>& fn) = 0;
  // Reads the whole log as chunks of consecutive events (see LogChunk), from up to `plan.workers` threads
  // at once, each on a read connection of its own in the caller's snapshot (inside snapshot(): that one).
  // For each chunk, work(worker, chunk) runs on the thread that read it, so chunks are worked on at once
  // (worker < plan.workers); then in_order(chunk) runs for every chunk strictly in log order, one at a time.
  // When the other threads cannot read the caller's snapshot (a writer committed while they were
  // opening), every chunk is read and worked on in the calling thread. The first failure of work or
  // in_order stops the scan: no chunk after the failing one reaches in_order, and the failure is returned.
  virtual Status scan_log_chunks(const LogScan& plan, const std::function<Status(unsigned, LogChunk&)>& work,
                                 const std::function<Status(LogChunk&)>& in_order) = 0;
  // Calls fn(part, id, record) for every projection, from `parts` threads at once (in the caller's snapshot,
  // as scan_log_chunks; kVersionConflict before calling fn when that cannot be had): part k gets, in id
  // order, the k-th of `parts` contiguous id ranges (so each part reads only its own pages). fn may take the
  // record's contents. A part stops at its fn's first failure (the others go on); the call then returns one
  // of the failures.
  virtual Status scan_dossiers_partitioned(
      unsigned parts, const std::function<Status(unsigned, std::int64_t, DossierRecord&)>& fn) = 0;
  // Every dossier projection, in id order.
  virtual Result<std::vector<DossierRecord>> dossiers() = 0;
  // Calls `fn` for every projection in id order; stops early (returning fn's error) when fn fails.
  virtual Status scan_dossiers(const std::function<Status(const DossierRecord&)>& fn) = 0;
  // Open dossiers held by org `holder`, in id order.
  virtual Result<std::vector<DossierRecord>> open_held_by(const std::string& holder) = 0;

  virtual Result<std::optional<DefinitionRecord>> definition(const std::string& hash) = 0;
  // The current definition of every workflow name.
  virtual Result<std::vector<DefinitionRecord>> current_definitions() = 0;
  virtual Result<std::vector<OrgRecord>> orgs() = 0;
  virtual Result<std::vector<UserRecord>> users() = 0;
  // The current config sources of `name`; nullopt before any was stored.
  virtual Result<std::optional<ConfigSources>> sources(const std::string& name) = 0;
  // Where "now" comes from; {"system", ""} unless a virtual clock was set.
  virtual Result<ClockRecord> clock() = 0;
  // The pending timers due at or before `until`, earliest first, at most `limit` (see WriteTx).
  virtual Result<std::vector<TimerRecord>> due_timers(const std::string& until, int limit) = 0;
  // The token whose hash is `hash`, or nullopt.
  virtual Result<std::optional<TokenRecord>> token(const std::string& hash) = 0;
  // Every token of `user`, revoked ones included, oldest first.
  virtual Result<std::vector<TokenRecord>> tokens_of(const std::string& user) = 0;
  // Where the dispatcher is ({0, -1} before the first delivery).
  virtual Result<NoticeKey> dispatch_cursor() = 0;
  // How many times replace_directory changed the org tree or the users (0 before the first change): a
  // process that loaded the directory at another version acts on stale people and permissions.
  virtual Result<std::int64_t> directory_version() = 0;
  // How many times what `hoso init` installs changed (0 before the first change): the directory, the current
  // definition of a workflow, the calendar, the notice templates or the report plan. A long-running process
  // that read them at another version reads them again (App::refresh).
  virtual Result<std::int64_t> config_version() = 0;
  // The payloads of the events after `gseq`, in log order, at most `limit`.
  virtual Result<std::vector<LoggedPayload>> payloads_after(std::int64_t gseq, int limit) = 0;
  // The event at `gseq`, or nullopt when there is none.
  virtual Result<std::optional<EventRecord>> event_at(std::int64_t gseq) = 0;
  // The dossiers of the events after `gseq` (a projection changes only with an event of its dossier).
  virtual Result<ChangedDossiers> dossiers_changed_after(std::int64_t gseq) = 0;
  // gseq of the log's last event (0 when it has none).
  virtual Result<std::int64_t> last_gseq() = 0;
  // How many timers are pending.
  virtual Result<std::int64_t> pending_timers() = 0;
};

}  // namespace hoso
