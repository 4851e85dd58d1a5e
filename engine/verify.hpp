// Checking stored history: the per-dossier hash chain, the fold of events back into dossiers, and
// the whole-log replay that does both in parallel parts. Used by CommandService (audit verify, replay).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/dossier.hpp"
#include "engine/records.hpp"
#include "engine/service.hpp"
#include "engine/store.hpp"

namespace hoso {

// Marks `report` failed at (id, seq) — seq 0 when the failure is about the dossier as a whole.
void set_failure(VerifyReport& report, DossierId id, std::int64_t seq, const std::string& why);

// Checks each dossier's chain as its events stream by in append order: sequence numbers, prev_hash
// links and every event's own hash. One dossier's events must all go through the same checker.
class ChainChecker {
 public:
  struct Link {
    std::string last_hash;
    std::int64_t seq = 0;
    std::string last_digest;  // kept when asked: the projection digest the latest event recorded
  };
  explicit ChainChecker(bool keep_digests = false) : keep_digests_(keep_digests) {}

  // Returns "" when the record continues its dossier's chain, else why it does not (for people).
  std::string check(const EventRecord& r);
  // The same, with the record's own hash already checked (`hash_matches`) and, when digests are kept,
  // the projection digest it recorded (recorded_digest_into) already read.
  std::string check(const EventRecord& r, bool hash_matches, std::string_view digest);
  const std::unordered_map<DossierId, Link>& links() const { return links_; }

 private:
  std::unordered_map<DossierId, Link> links_;
  bool keep_digests_;
};

// The definition a dossier is folded under, and its hash as the dossier's first event must name it.
struct Pin {
  std::shared_ptr<const Definition> def;
  std::string hash;
};

// The projection digest an event's payload recorded ("" when none), into `out` (reusing its capacity).
void recorded_digest_into(std::string_view payload, std::string& out);

// What a worker has already worked out for an event record, so that folding it in log order is cheap.
struct PreparedEvent {
  bool hash_matches = false;
  std::string digest;                         // the projection digest it recorded
  const Pin* created = nullptr;               // a first event's: the definition its payload names, if stored
  std::optional<Error> pin_error;             // or why the store could not say (not "not stored")
  const Definition* decoded_under = nullptr;  // when `event` holds the record decoded under this definition
  Event event;
};

// Folds dossiers' events (their chain is checked elsewhere) and compares each rebuilt dossier with its
// stored projection. One dossier's events must all go through the same folder, in order.
class Folder {
 public:
  explicit Folder(const Directory& dir) : dir_(dir) {}

  // Folds one record. `pin` is required for a dossier's first record and ignored after it.
  // Returns false, with the failure in `report`, when the record does not fold. With `prepared`, its
  // digest is used, and its decoded event when decoded under the dossier's definition.
  bool fold(const EventRecord& r, const Pin* pin, VerifyReport& report, const PreparedEvent* prepared = nullptr);
  // Compares a stored projection with its rebuilt dossier; false, with the failure, when they differ
  // or the dossier had no events. Once folding is over, threads may compare different dossiers at once.
  bool compare(const DossierRecord& p, VerifyReport& report);
  // The smallest folded dossier that no compare() call has matched; 0 when there is none.
  DossierId first_uncompared() const;
  // How many dossiers compare() has matched.
  std::size_t compared() const;
  std::size_t size() const { return tracks_.size(); }

 private:
  struct Track {
    std::shared_ptr<const Definition> def;
    DossierState state;
    std::string last_hash, last_digest;
    bool compared = false;
  };
  const Directory& dir_;
  std::unordered_map<DossierId, Track> tracks_;
  Event event_;  // reused for every decoded event
};

// Events per chunk when audit and replay read the log (Store::scan_log_chunks).
constexpr std::size_t kLogChunkEvents = 128;

// The earliest failure that parts running at once have met, by position (in the log, or the dossier id when
// comparing projections). A part stops once it is past it, but not before: it may still meet an earlier one.
class FirstFailure {
 public:
  static constexpr std::int64_t kNowhere = std::numeric_limits<std::int64_t>::max();
  // True when a failure was met before `at`: nothing at `at` can change what is reported.
  bool passed(std::int64_t at) const { return at > first_.load(std::memory_order_relaxed); }
  // Records a failure at `at`; returns stopped().
  Status stop_at(std::int64_t at);
  // The status that stops a part's scan (not a failure of its own).
  static Status stopped();

 private:
  std::atomic<std::int64_t> first_{kNowhere};
};

// Calls on_projection(part, id, record) for every projection, `parts` parts at once, each a contiguous id
// range (Store::scan_dossiers_partitioned); in this thread (as part 0) when `sequential` is already set or
// the store cannot give the parts the caller's snapshot (then `sequential` is set).
Status scan_projections_in_parts(Store& store, unsigned parts,
                                 const std::function<Status(unsigned, std::int64_t, DossierRecord&)>& on_projection,
                                 bool& sequential);

// Audits the whole store (call it inside Store::snapshot): every event's hash and chain link, times never going backwards
// in append order, every projection against the digest its last event recorded, the timers table against the
// projections and the history, and the deliveries against the notices and the dispatch cursor. The log is read in
// chunks by `workers` threads (at least 1) and checked in log order, so the failure reported is the one a
// single pass would meet first: in the log, else among the projections (smallest id), the timers, the cursor.
Result<VerifyReport> audit_store(Store& store, unsigned workers);

// Replays the whole log in one read snapshot: every event's hash and chain link, every event folded
// under the definition its dossier was created with, every projection compared with its rebuilt
// dossier. `workers` threads (at least 1) read the log in chunks, check hashes and decode payloads at once;
// the chains and folds then run in log order, so the failure reported is the one earliest in the log (then
// in id order), as a sequential replay would report it.
Result<VerifyReport> replay_log(Store& store, DefinitionRegistry& registry, const Directory& dir,
                                unsigned workers);

}  // namespace hoso
