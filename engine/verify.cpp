#include "engine/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
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

void recorded_digest_into(std::string_view payload, std::string& out) {
  if (auto fast = recorded_state_digest_fast(payload); !fast.empty())
    out.assign(fast);
  else
    out = recorded_state_digest(payload);
}

std::string ChainChecker::check(const EventRecord& r) {
  std::string digest;
  if (keep_digests_) recorded_digest_into(r.payload, digest);
  return check(r, event_hash_matches(r), digest);
}

std::string ChainChecker::check(const EventRecord& r, bool hash_matches, std::string_view digest) {
  Link& l = links_[r.dossier];
  if (r.seq != l.seq + 1) return fmt::format("số thứ tự {} đứng sau {}", r.seq, l.seq);
  if (r.prev_hash != l.last_hash) return "prev_hash không khớp mã băm của sự kiện trước (chuỗi bị đứt)";
  if (!hash_matches) return "mã băm không khớp nội dung sự kiện (nội dung đã bị sửa)";
  l.last_hash = r.hash;
  l.seq = r.seq;
  if (keep_digests_) l.last_digest.assign(digest);
  return {};
}

bool Folder::fold(const EventRecord& r, const Pin* pin, VerifyReport& report, const PreparedEvent* prepared) {
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
  const Event* event = &event_;
  if (prepared != nullptr && prepared->decoded_under == t.def.get()) {
    event = &prepared->event;
  } else if (auto st = decode_event_into(*t.def, dir_, r, event_, /*fold_only=*/true); !st) {
    set_failure(report, r.dossier, r.seq, st.error().message);
    return false;
  }
  if (event->type == EventType::kDossierCreated && event->definition_hash != t.state.definition_hash) {
    set_failure(report, r.dossier, r.seq, "quy trình gắn với hồ sơ khác quy trình lúc lập hồ sơ");
    return false;
  }
  if (auto st = apply_event(*t.def, t.state, *event); !st) {
    set_failure(report, r.dossier, r.seq, st.error().message);
    return false;
  }
  // The projection digest the event recorded, compared with the rebuilt state at the end.
  if (prepared != nullptr)
    t.last_digest.assign(prepared->digest);
  else
    recorded_digest_into(r.payload, t.last_digest);
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

Status FirstFailure::stopped() { return make_error(ErrorCode::kVerifyFailed, "stopped"); }

Status FirstFailure::stop_at(std::int64_t at) {
  std::int64_t seen = first_.load();
  while (at < seen && !first_.compare_exchange_weak(seen, at)) {
  }
  return stopped();
}

Status scan_projections_in_parts(Store& store, unsigned parts,
                                 const std::function<Status(unsigned, std::int64_t, DossierRecord&)>& on_projection,
                                 bool& sequential) {
  if (!sequential) {
    Status compared = store.scan_dossiers_partitioned(parts, on_projection);
    sequential = !compared && compared.error().code == ErrorCode::kVersionConflict;
    if (!sequential) return compared;
  }
  sequential = true;
  return store.scan_dossiers([&](const DossierRecord& p) {
    DossierRecord copy = p;
    return on_projection(0, p.id, copy);
  });
}

namespace {

constexpr std::int64_t kNowhere = FirstFailure::kNowhere;

// A failure met in one part of the projection pass, by dossier id.
struct PartFailure {
  VerifyReport report;
  std::int64_t failed_at = kNowhere;
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
  using Cache = std::unordered_map<std::string, const Pin*>;  // one worker's view of the shared pins
  const Pin* find(Cache& cache, const std::string& hash, Status& error) {
    if (auto it = cache.find(hash); it != cache.end()) return it->second;
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
    cache.emplace(hash, &it->second);
    return &it->second;
  }

 private:
  DefinitionRegistry& registry_;
  std::mutex mutex_;
  std::unordered_map<std::string, Pin> pins_;
};

// Each dossier's definition as the workers have seen it named by a first event: a guess, so that they can
// decode its later events at once. Folding checks it (PreparedEvent::decoded_under); a dossier whose first
// event is read later, or a forged log, only costs a decode in log order.
class PinGuesses {
 public:
  explicit PinGuesses(unsigned workers) : seen_(workers) {}
  void put(unsigned worker, DossierId id, const Pin* pin) {
    seen_[worker][id] = pin;
    std::unique_lock lock(mutex_);
    pins_[id] = pin;
  }
  // Each worker keeps what it has looked up: the shared table is read once per dossier and worker.
  const Pin* get(unsigned worker, DossierId id) {
    auto& mine = seen_[worker];
    if (auto it = mine.find(id); it != mine.end()) return it->second;
    const Pin* pin = nullptr;
    {
      std::shared_lock lock(mutex_);
      if (auto it = pins_.find(id); it != pins_.end()) pin = it->second;
    }
    if (pin != nullptr) mine.emplace(id, pin);
    return pin;
  }

 private:
  std::shared_mutex mutex_;
  std::unordered_map<DossierId, const Pin*> pins_;
  std::vector<std::unordered_map<DossierId, const Pin*>> seen_;  // by worker
};

}  // namespace

Result<VerifyReport> replay_log(Store& store, DefinitionRegistry& registry, const Directory& dir,
                                unsigned workers) {
  LogScan plan;
  plan.workers = std::max(1u, workers);
  plan.chunk_events = kLogChunkEvents;
  PinTable pins(registry);
  std::vector<PinTable::Cache> caches(plan.workers);
  PinGuesses guesses(plan.workers);
  std::vector<std::vector<PreparedEvent>> prepared(plan.slots());

  // At once, chunk by chunk: every hash, the digest each event recorded, and the event decoded under
  // its dossier's definition when that is known.
  auto work = [&](unsigned worker, LogChunk& c) -> Status {
    auto& out = prepared[c.slot];
    if (out.size() < c.n_events) out.resize(c.n_events);
    for (std::size_t i = 0; i < c.n_events; ++i) {
      const EventRecord& r = c.events[i];
      PreparedEvent& p = out[i];
      p.hash_matches = event_hash_matches(r);
      recorded_digest_into(r.payload, p.digest);
      p.created = nullptr;
      p.pin_error.reset();
      p.decoded_under = nullptr;
      const Pin* pin = nullptr;
      if (r.seq == 1) {
        Status error = Status::Ok();
        p.created = pins.find(caches[worker], created_definition_hash(r.payload), error);
        if (p.created == nullptr && error.error().code != ErrorCode::kNotFound) p.pin_error = error.error();
        pin = p.created;
        if (pin != nullptr) guesses.put(worker, r.dossier, pin);
      } else {
        pin = guesses.get(worker, r.dossier);
      }
      if (pin != nullptr && decode_event_into(*pin->def, dir, r, p.event, /*fold_only=*/true))
        p.decoded_under = pin->def.get();
    }
    return Status::Ok();
  };

  // In log order: the chains and the folds. Stops at the first failure.
  ChainChecker chain;
  Folder folder(dir);
  VerifyReport report;
  std::optional<Error> error;
  auto in_order = [&](LogChunk& c) -> Status {
    const auto& ready = prepared[c.slot];
    for (std::size_t i = 0; i < c.n_events; ++i) {
      const EventRecord& r = c.events[i];
      const PreparedEvent& p = ready[i];
      ++report.events;
      if (auto why = chain.check(r, p.hash_matches, {}); !why.empty()) {
        set_failure(report, r.dossier, r.seq, why);
        return FirstFailure::stopped();
      }
      if (r.seq == 1 && p.created == nullptr) {
        if (p.pin_error) {
          error = *p.pin_error;
          return FirstFailure::stopped();
        }
        set_failure(report, r.dossier, r.seq,
                    fmt::format("hồ sơ được lập theo quy trình '{}' không có trong cơ sở dữ liệu",
                                created_definition_hash(r.payload)));
        return FirstFailure::stopped();
      }
      if (!folder.fold(r, p.created, report, &p)) return FirstFailure::stopped();
    }
    return Status::Ok();
  };
  Status scanned = store.scan_log_chunks(plan, work, in_order);
  if (error) return *error;
  if (!report.ok) return report;
  if (!scanned) return scanned.error();

  // Projections come in id ranges; compare() touches only its own dossier's track, so the parts compare at
  // once, each keeping its own first failure.
  std::vector<PartFailure> results(plan.workers);
  FirstFailure first_failure;
  auto on_projection = [&](unsigned k, std::int64_t id, DossierRecord& p) -> Status {
    if (first_failure.passed(id)) return FirstFailure::stopped();
    if (folder.compare(p, results[k].report)) return Status::Ok();
    results[k].failed_at = id;
    return first_failure.stop_at(id);
  };
  bool sequential = false;
  Status compared = scan_projections_in_parts(store, plan.workers, on_projection, sequential);
  report.dossiers = static_cast<std::int64_t>(folder.compared());
  const PartFailure* first = nullptr;
  for (const auto& r : results)
    if (!r.report.ok && (first == nullptr || r.failed_at < first->failed_at)) first = &r;
  if (first != nullptr) {
    VerifyReport out = first->report;
    out.events = report.events;
    out.dossiers = report.dossiers;
    return out;
  }
  if (!compared) return compared.error();
  // Events of a dossier that has no projection.
  if (DossierId orphan = folder.first_uncompared(); orphan != 0)
    set_failure(report, orphan, 0, "có sự kiện của một hồ sơ không có trạng thái");
  return report;
}

}  // namespace hoso
