// Checking stored history: the per-dossier hash chain, the fold of events back into dossiers, and
// the whole-log replay that does both in parallel parts. Used by CommandService (audit verify, replay).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
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

// Folds dossiers' events (their chain is checked elsewhere) and compares each rebuilt dossier with its
// stored projection. One dossier's events must all go through the same folder, in order.
class Folder {
 public:
  explicit Folder(const Directory& dir) : dir_(dir) {}

  // Folds one record. `pin` is required for a dossier's first record and ignored after it.
  // Returns false, with the failure in `report`, when the record does not fold.
  bool fold(const EventRecord& r, const Pin* pin, VerifyReport& report);
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

// Replays the whole log in one read snapshot: every event's hash and chain link, every event folded
// under the definition its dossier was created with, every projection compared with its rebuilt
// dossier. The store's partitioned scans split the work into `workers` parts (at least 1) by dossier id,
// so each dossier's events are checked in order within one part. The failure reported is the one
// earliest in the log (then in id order), as a sequential replay would report it.
Result<VerifyReport> replay_log(Store& store, DefinitionRegistry& registry, const Directory& dir,
                                unsigned workers);

}  // namespace hoso
