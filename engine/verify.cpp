#include "engine/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <limits>
#include <mutex>
#include <vector>

#include "engine/codec.hpp"
#include "engine/core.hpp"
#include "engine/hash_chain.hpp"

namespace hoso {

void set_failure(VerifyReport& report, DossierId id, std::int64_t seq, const std::string& why) {
  report.ok = false;
  report.failed_dossier = id;
  report.failed_seq = seq;
  report.failure =
      seq ? fmt::format("hồ sơ {}, sự kiện {}: {}", id, seq, why) : fmt::format("hồ sơ {}: {}", id, why);
}

std::string ChainChecker::check(const EventRecord& r) {
  Link& l = links_[r.dossier];
  if (r.seq != l.seq + 1) return fmt::format("số thứ tự {} đứng sau {}", r.seq, l.seq);
  if (r.prev_hash != l.last_hash) return "prev_hash không khớp mã băm của sự kiện trước (chuỗi bị đứt)";
  if (!event_hash_matches(r)) return "mã băm không khớp nội dung sự kiện (nội dung đã bị sửa)";
  l.last_hash = r.hash;
  l.seq = r.seq;
  if (keep_digests_) {
    if (auto fast = recorded_state_digest_fast(r.payload); !fast.empty())
      l.last_digest.assign(fast);
    else
      l.last_digest = recorded_state_digest(r.payload);
  }
  return {};
}

bool Folder::fold(const EventRecord& r, const Pin* pin, VerifyReport& report) {
  auto [it, fresh] = tracks_.try_emplace(r.dossier);
  Track& t = it->second;
  if (fresh) {
    if (pin == nullptr || !pin->def) {
      set_failure(report, r.dossier, r.seq, "không xác định được quy trình của hồ sơ");
      return false;
    }
    t.def = pin->def;
    t.state.id = r.dossier;
    t.state.definition_hash = pin->hash;
  }
  if (auto st = decode_event_into(*t.def, dir_, r, event_, /*fold_only=*/true); !st) {
    set_failure(report, r.dossier, r.seq, st.error().message);
    return false;
  }
  if (event_.type == EventType::kDossierCreated && event_.definition_hash != t.state.definition_hash) {
    set_failure(report, r.dossier, r.seq, "quy trình gắn với hồ sơ khác quy trình lúc lập hồ sơ");
    return false;
  }
  if (auto st = apply_event(*t.def, t.state, event_); !st) {
    set_failure(report, r.dossier, r.seq, st.error().message);
    return false;
  }
  // The projection digest the event recorded, compared with the rebuilt state at the end.
  if (auto fast = recorded_state_digest_fast(r.payload); !fast.empty())
    t.last_digest.assign(fast);
  else
    t.last_digest = recorded_state_digest(r.payload);
  t.last_hash = r.hash;
  return true;
}

namespace {

std::string describe(const DossierRecord& a, const DossierRecord& b) {
  auto diff = [](const char* name, const auto& x, const auto& y) -> std::string {
    return x == y ? "" : fmt::format("{}: dựng lại '{}' nhưng đang lưu '{}'; ", name, x, y);
  };
  return "trạng thái đang lưu khác trạng thái dựng lại: " + diff("state", a.state, b.state) +
         diff("holder", a.holder, b.holder) + diff("version", a.version, b.version) +
         diff("closed", a.closed, b.closed) + diff("fields", a.fields, b.fields) +
         diff("documents", a.documents, b.documents) + diff("vote", a.vote, b.vote) +
         diff("last_hash", a.last_hash, b.last_hash) + diff("award", a.award, b.award) +
         diff("origin", a.origin, b.origin) + diff("updated_at", a.updated_at, b.updated_at) +
         diff("submitted_at", a.submitted_at, b.submitted_at) + diff("workflow", a.workflow, b.workflow) +
         diff("definition_hash", a.definition_hash, b.definition_hash);
}

}  // namespace

bool Folder::compare(const DossierRecord& p, VerifyReport& report) {
  auto it = tracks_.find(p.id);
  if (it == tracks_.end()) {
    set_failure(report, p.id, 0, "trạng thái hồ sơ không có sự kiện nào");
    return false;
  }
  Track& t = it->second;
  t.compared = true;
  DossierRecord rebuilt = encode_dossier(*t.def, dir_, t.state, t.last_hash);
  if (!(rebuilt == p)) {
    set_failure(report, p.id, t.state.version, describe(rebuilt, p));
    return false;
  }
  if (projection_digest(rebuilt) != t.last_digest) {
    set_failure(report, p.id, t.state.version, "trạng thái dựng lại khác trạng thái mà sự kiện cuối đã ghi");
    return false;
  }
  return true;
}

std::size_t Folder::compared() const {
  std::size_t n = 0;
  for (const auto& [id, t] : tracks_) n += t.compared ? 1 : 0;
  return n;
}

DossierId Folder::first_uncompared() const {
  DossierId first = 0;
  for (const auto& [id, t] : tracks_)
    if (!t.compared && (first == 0 || id < first)) first = id;
  return first;
}

unsigned part_of(DossierId id, unsigned parts) {
  const auto n = static_cast<DossierId>(std::max(1u, parts));
  return static_cast<unsigned>((id % n + n) % n);
}

Status FirstFailure::stopped() { return make_error(ErrorCode::kVerifyFailed, "stopped"); }

Status FirstFailure::stop_at(std::int64_t at) {
  std::int64_t seen = first_.load();
  while (at < seen && !first_.compare_exchange_weak(seen, at)) {
  }
  return stopped();
}

Status scan_log_in_parts(Store& store, unsigned parts,
                         const std::function<Status(unsigned, std::int64_t, EventRecord&)>& on_event,
                         bool& sequential) {
  Status scanned = store.scan_events_partitioned(parts, on_event);
  sequential = !scanned && scanned.error().code == ErrorCode::kVersionConflict;
  if (!sequential) return scanned;
  // A writer committed while the parts were opening: one cursor, the same work, in this thread.
  std::int64_t position = 0;  // 1-based, like gseq
  return store.scan_events([&](EventRecord& r) { return on_event(part_of(r.dossier, parts), ++position, r); });
}

Status scan_projections_in_parts(Store& store, unsigned parts,
                                 const std::function<Status(unsigned, std::int64_t, DossierRecord&)>& on_projection,
                                 bool& sequential) {
  if (!sequential) {
    Status compared = store.scan_dossiers_partitioned(parts, on_projection);
    sequential = !compared && compared.error().code == ErrorCode::kVersionConflict;
    if (!sequential) return compared;
  }
  return store.scan_dossiers([&](const DossierRecord& p) {
    DossierRecord copy = p;
    return on_projection(part_of(p.id, parts), p.id, copy);
  });
}

namespace {

constexpr std::int64_t kNowhere = FirstFailure::kNowhere;

// One part's dossiers: their chains, their folds, and the first failure met (by log position).
struct Shard {
  explicit Shard(const Directory& dir) : folder(dir) {}
  ChainChecker chain;
  Folder folder;
  VerifyReport report;
  std::int64_t failed_at = kNowhere;
  std::int64_t events = 0;  // events this part has checked (a shared counter would bounce between cores)
  std::unordered_map<std::string, const Pin*> pins;  // this part's view of the shared pins
};

// Where the definition hash sits in a DossierCreated payload: encode_event writes the keys in order.
std::string created_definition_hash(std::string_view payload) {
  constexpr std::string_view kKey = "\"definition\":\"";
  if (auto at = payload.find(kKey); at != std::string_view::npos) {
    const auto begin = at + kKey.size();
    if (payload.size() >= begin + 65 && payload[begin + 64] == '"') {
      const std::string_view hash = payload.substr(begin, 64);
      if (is_digest_hex(hash)) return std::string(hash);
    }
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(payload, ec);
  if (ec || !v.is_object()) return {};
  const auto* d = v.as_object().if_contains("definition");
  return d && d->is_string() ? std::string(d->as_string()) : std::string();
}

// The definitions dossiers were created with, shared by the parts; the registry is asked under a lock.
class PinTable {
 public:
  explicit PinTable(DefinitionRegistry& registry) : registry_(registry) {}
  // The pin for `hash`; nullptr with `error` set when the database does not hold it.
  const Pin* find(Shard& shard, const std::string& hash, Status& error) {
    if (auto it = shard.pins.find(hash); it != shard.pins.end()) return it->second;
    std::lock_guard lock(mutex_);
    auto it = pins_.find(hash);
    if (it == pins_.end()) {
      auto def = hash.empty() ? Result<std::shared_ptr<const Definition>>(make_error(ErrorCode::kNotFound, ""))
                              : registry_.by_hash(hash);
      if (!def) {
        error = def.error();
        return nullptr;
      }
      it = pins_.emplace(hash, Pin{*def, hash}).first;  // node-based: the address stays valid
    }
    shard.pins.emplace(hash, &it->second);
    return &it->second;
  }

 private:
  DefinitionRegistry& registry_;
  std::mutex mutex_;
  std::unordered_map<std::string, Pin> pins_;
};

}  // namespace

Result<VerifyReport> replay_log(Store& store, DefinitionRegistry& registry, const Directory& dir,
                                unsigned workers) {
  const unsigned parts = std::max(1u, workers);
  std::vector<std::unique_ptr<Shard>> shards;
  for (unsigned i = 0; i < parts; ++i) shards.push_back(std::make_unique<Shard>(dir));
  PinTable pins(registry);
  FirstFailure first_failure;
  auto failed_at = [&](Shard& s, std::int64_t at) {
    s.failed_at = at;
    return first_failure.stop_at(at);
  };

  // Checks the chain, then folds: one event of part k at log position `at`.
  auto on_event = [&](unsigned k, std::int64_t at, EventRecord& r) -> Status {
    Shard& s = *shards[k];
    if (first_failure.passed(at)) return FirstFailure::stopped();
    ++s.events;
    if (auto why = s.chain.check(r); !why.empty()) {
      set_failure(s.report, r.dossier, r.seq, why);
    } else {
      const Pin* pin = nullptr;
      if (r.seq == 1) {
        Status error = Status::Ok();
        const std::string hash = created_definition_hash(r.payload);
        pin = pins.find(s, hash, error);
        if (pin == nullptr && error.error().code != ErrorCode::kNotFound) return error;
        if (pin == nullptr)
          set_failure(s.report, r.dossier, r.seq,
                      fmt::format("hồ sơ được lập theo quy trình '{}' không có trong cơ sở dữ liệu", hash));
      }
      if (s.report.ok) s.folder.fold(r, pin, s.report);
    }
    return s.report.ok ? Status::Ok() : failed_at(s, at);
  };
  // Projections come in id ranges, not by owner: part k compares against the owner's folder (compare()
  // touches only that dossier's track) and keeps its failure in its own result.
  std::vector<std::unique_ptr<Shard>> results;
  for (unsigned i = 0; i < parts; ++i) results.push_back(std::make_unique<Shard>(dir));
  auto on_projection = [&](unsigned k, std::int64_t id, DossierRecord& p) -> Status {
    Shard& owner = *shards[part_of(id, parts)];
    if (first_failure.passed(id)) return FirstFailure::stopped();
    return owner.folder.compare(p, results[k]->report) ? Status::Ok() : failed_at(*results[k], id);
  };
  // The earliest failure, as one pass in log order would have met it.
  auto earliest = [](const std::vector<std::unique_ptr<Shard>>& of) -> const Shard* {
    const Shard* first = nullptr;
    for (const auto& s : of)
      if (!s->report.ok && (first == nullptr || s->failed_at < first->failed_at)) first = s.get();
    return first;
  };

  bool sequential = false;
  Status scanned = scan_log_in_parts(store, parts, on_event, sequential);
  VerifyReport report;
  for (const auto& s : shards) report.events += s->events;
  if (const Shard* first = earliest(shards)) {
    VerifyReport out = first->report;
    out.events = first->failed_at;  // the events up to the failing one, in log order
    return out;
  }
  if (!scanned) return scanned.error();

  Status compared = scan_projections_in_parts(store, parts, on_projection, sequential);
  std::int64_t projections = 0;
  for (const auto& s : shards) projections += static_cast<std::int64_t>(s->folder.compared());
  report.dossiers = projections;
  if (const Shard* first = earliest(results)) {
    VerifyReport out = first->report;
    out.events = report.events;
    out.dossiers = report.dossiers;
    return out;
  }
  if (!compared) return compared.error();
  // Events of a dossier that has no projection.
  DossierId orphan = 0;
  for (const auto& s : shards)
    if (DossierId d = s->folder.first_uncompared(); d != 0 && (orphan == 0 || d < orphan)) orphan = d;
  if (orphan != 0) set_failure(report, orphan, 0, "có sự kiện của một hồ sơ không có trạng thái");
  return report;
}

}  // namespace hoso
