// Fakes for unit tests of the core: a settable clock and an in-memory Store.
#pragma once
#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "engine/store.hpp"
#include "engine/verify.hpp"

namespace hoso::testing {

class FakeClock : public Clock {
 public:
  explicit FakeClock(Timestamp t) : now_(t) {}
  Timestamp now() override { return now_; }
  void set(Timestamp t) { now_ = t; }
  void advance_ms(std::int64_t ms) { now_.millis += ms; }

 private:
  Timestamp now_;
};

// Keeps everything in maps; a write works on a copy that replaces the state only on success.
class MemoryStore : public Store {
 public:
  struct Data {
    std::map<DossierId, DossierRecord> dossiers;
    std::vector<EventRecord> events;
    NoticeKey cursor;  // the dispatch cursor; an event's gseq is its position in `events`, from 1
    std::map<std::string, TokenRecord> tokens;
    std::map<std::string, DefinitionRecord> definitions;
    std::map<std::string, std::string> heads;
    std::vector<OrgRecord> orgs;
    std::vector<UserRecord> users;
    std::int64_t directory_version = 0;
    std::int64_t config_version = 0;
    std::map<std::string, ConfigSources> sources;
    ClockRecord clock;
    std::set<std::tuple<std::string, DossierId, std::string>> timers;  // (due_at, dossier, name)
  };

  Status write(const std::function<Status(WriteTx&)>& work) override {
    Tx tx(data_);
    Status st = work(tx);
    if (st) data_ = std::move(tx.data);
    return st;
  }
  Status snapshot(const std::function<Status()>& reads) override { return reads(); }
  Result<std::optional<DossierRecord>> load(DossierId id) override { return find(data_, id); }
  Result<std::optional<EventRecord>> last_event(DossierId id) override { return last_of(data_, id); }
  Result<std::vector<EventRecord>> events(DossierId id) override {
    std::vector<EventRecord> out;
    for (const auto& e : data_.events)
      if (e.dossier == id) out.push_back(e);
    return out;
  }
  Result<std::vector<LoggedEvent>> chain(DossierId id) override {
    std::vector<LoggedEvent> out;
    for (std::size_t i = 0; i < data_.events.size(); ++i)
      if (data_.events[i].dossier == id) out.push_back(LoggedEvent{static_cast<std::int64_t>(i + 1), data_.events[i]});
    return out;
  }
  Status scan_events(const std::function<Status(EventRecord&)>& fn) override {
    for (const auto& e : data_.events) {
      EventRecord copy = e;  // fn may take its contents
      if (auto st = fn(copy); !st) return st;
    }
    return Status::Ok();
  }
  // Events per chunk in scan_log_chunks, whatever the plan asks: small, so that the core's unit tests cross
  // chunk boundaries.
  std::size_t chunk_events = 2;
  // One thread here (worker 0): each chunk is worked on, then passed in order. An event's gseq is its
  // position from 1.
  Status scan_log_chunks(const LogScan& plan, const std::function<Status(unsigned, LogChunk&)>& work,
                         const std::function<Status(LogChunk&)>& in_order) override {
    const auto size = static_cast<std::int64_t>(chunk_events ? chunk_events : plan.chunk_events);
    const auto total = static_cast<std::int64_t>(data_.events.size());
    for (std::int64_t index = 0, first = 1; index == 0 || first <= total; ++index, first += size) {
      LogChunk c;
      c.index = index;
      c.first_gseq = index == 0 ? std::numeric_limits<std::int64_t>::min() : first;
      c.last_gseq = first + size > total ? std::numeric_limits<std::int64_t>::max() : first + size - 1;
      for (std::int64_t g = first; g <= std::min(total, c.last_gseq); ++g) {
        c.events.push_back(data_.events[static_cast<std::size_t>(g - 1)]);
        c.gseqs.push_back(g);
      }
      c.n_events = c.events.size();
      if (auto st = work(0, c); !st) return st;
      if (auto st = in_order(c); !st) return st;
    }
    return Status::Ok();
  }
  Status scan_dossiers_partitioned(
      unsigned parts, const std::function<Status(unsigned, std::int64_t, DossierRecord&)>& fn) override {
    const DossierId max_id = data_.dossiers.empty() ? 0 : data_.dossiers.rbegin()->first;
    for (const auto& [id, d] : data_.dossiers) {
      const auto k = static_cast<unsigned>((id - 1) * static_cast<DossierId>(parts) / std::max<DossierId>(max_id, 1));
      DossierRecord copy = d;
      if (auto st = fn(std::min(k, parts - 1), id, copy); !st) return st;
    }
    return Status::Ok();
  }
  Result<std::vector<DossierRecord>> dossiers() override {
    std::vector<DossierRecord> out;
    for (const auto& [id, d] : data_.dossiers) out.push_back(d);
    return out;
  }
  Status scan_dossiers(const std::function<Status(const DossierRecord&)>& fn) override {
    for (const auto& [id, d] : data_.dossiers)
      if (auto st = fn(d); !st) return st;
    return Status::Ok();
  }
  Result<std::vector<DossierRecord>> open_held_by(const std::string& holder) override {
    std::vector<DossierRecord> out;
    for (const auto& [id, d] : data_.dossiers)
      if (d.holder == holder && !d.closed) out.push_back(d);
    return out;
  }
  Result<std::optional<DefinitionRecord>> definition(const std::string& hash) override {
    auto it = data_.definitions.find(hash);
    if (it == data_.definitions.end()) return std::optional<DefinitionRecord>{};
    return std::optional<DefinitionRecord>{it->second};
  }
  Result<std::vector<DefinitionRecord>> current_definitions() override {
    std::vector<DefinitionRecord> out;
    for (const auto& [name, hash] : data_.heads) out.push_back(data_.definitions.at(hash));
    return out;
  }
  Result<std::vector<OrgRecord>> orgs() override { return data_.orgs; }
  Result<std::vector<UserRecord>> users() override { return data_.users; }
  Result<std::optional<ConfigSources>> sources(const std::string& name) override {
    auto it = data_.sources.find(name);
    if (it == data_.sources.end()) return std::optional<ConfigSources>();
    return std::optional<ConfigSources>(it->second);
  }
  Result<ClockRecord> clock() override { return data_.clock; }
  Result<std::vector<TimerRecord>> due_timers(const std::string& until, int limit) override {
    return due_of(data_, until, limit);
  }
  Result<std::int64_t> pending_timers() override { return static_cast<std::int64_t>(data_.timers.size()); }
  Result<NoticeKey> dispatch_cursor() override { return data_.cursor; }
  Result<std::int64_t> directory_version() override { return data_.directory_version; }
  Result<std::int64_t> config_version() override { return data_.config_version; }
  Result<std::optional<TokenRecord>> token(const std::string& hash) override {
    auto it = data_.tokens.find(hash);
    if (it == data_.tokens.end()) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(it->second);
  }
  Result<std::vector<TokenRecord>> tokens_of(const std::string& user) override {
    std::vector<TokenRecord> out;
    for (const auto& [h, t] : data_.tokens)
      if (t.user == user) out.push_back(t);
    std::sort(out.begin(), out.end(), [](const TokenRecord& a, const TokenRecord& b) {
      return std::tie(a.created_at, a.hash) < std::tie(b.created_at, b.hash);
    });
    return out;
  }
  Result<std::vector<LoggedPayload>> payloads_after(std::int64_t gseq, int limit) override {
    return payloads_after_of(data_, gseq, limit);
  }
  Result<std::optional<EventRecord>> event_at(std::int64_t gseq) override { return event_at_of(data_, gseq); }
  Result<ChangedDossiers> dossiers_changed_after(std::int64_t gseq) override {
    ChangedDossiers out;
    out.through = gseq;
    for (auto g = std::max<std::int64_t>(gseq, 0) + 1; g <= static_cast<std::int64_t>(data_.events.size());
         ++g) {
      const DossierId id = data_.events[static_cast<std::size_t>(g - 1)].dossier;
      if (std::find(out.ids.begin(), out.ids.end(), id) == out.ids.end()) out.ids.push_back(id);
      out.through = g;
    }
    return out;
  }
  Result<std::int64_t> last_gseq() override { return static_cast<std::int64_t>(data_.events.size()); }

  Data& data() { return data_; }

 private:
  static std::vector<LoggedPayload> payloads_after_of(const Data& d, std::int64_t gseq, int limit) {
    std::vector<LoggedPayload> out;
    for (auto g = std::max<std::int64_t>(gseq, 0) + 1;
         g <= static_cast<std::int64_t>(d.events.size()) && static_cast<int>(out.size()) < limit; ++g)
      out.push_back(LoggedPayload{g, d.events[static_cast<std::size_t>(g - 1)].payload});
    return out;
  }
  static std::optional<EventRecord> event_at_of(const Data& d, std::int64_t gseq) {
    if (gseq < 1 || gseq > static_cast<std::int64_t>(d.events.size())) return std::nullopt;
    return d.events[static_cast<std::size_t>(gseq - 1)];
  }
  static std::optional<DossierRecord> find(const Data& d, DossierId id) {
    auto it = d.dossiers.find(id);
    if (it == d.dossiers.end()) return std::nullopt;
    return it->second;
  }

  static std::vector<TimerRecord> due_of(const Data& d, const std::string& until, int limit) {
    std::vector<TimerRecord> out;
    for (const auto& [due, id, name] : d.timers) {
      if (due > until || static_cast<int>(out.size()) >= limit) break;
      out.push_back(TimerRecord{due, id, name});
    }
    return out;
  }

  static std::optional<EventRecord> last_of(const Data& d, DossierId id) {
    for (auto it = d.events.rbegin(); it != d.events.rend(); ++it)
      if (it->dossier == id) return *it;
    return std::nullopt;
  }

  struct Tx : WriteTx {
    explicit Tx(const Data& d) : data(d) {}
    Result<std::optional<EventRecord>> last_event(DossierId id) override { return last_of(data, id); }
    Result<std::optional<DossierRecord>> load(DossierId id) override { return find(data, id); }
    Result<std::optional<Timestamp>> log_time() override {
      if (data.events.empty()) return std::optional<Timestamp>();
      return std::optional<Timestamp>(parse_utc(data.events.back().at));
    }
    Result<DossierId> allocate_dossier_id() override {
      return data.dossiers.empty() ? DossierId{1} : data.dossiers.rbegin()->first + 1;
    }
    Status append(std::int64_t expected, const DossierRecord& p, const std::vector<EventRecord>& events) override {
      auto existing = find(data, p.id);
      if ((expected == 0 && existing) || (expected != 0 && (!existing || existing->version != expected)))
        return make_error(ErrorCode::kVersionConflict, "version conflict");
      data.dossiers[p.id] = p;
      data.events.insert(data.events.end(), events.begin(), events.end());
      return Status::Ok();
    }
    Status put_definition(const DefinitionRecord& d) override {
      data.definitions.emplace(d.hash, d);
      if (data.heads[d.name] != d.hash) ++data.config_version;
      data.heads[d.name] = d.hash;
      return Status::Ok();
    }
    Status replace_directory(const std::vector<OrgRecord>& o, const std::vector<UserRecord>& u) override {
      if (data.orgs == o && data.users == u) return Status::Ok();
      ++data.directory_version;
      ++data.config_version;
      data.orgs = o;
      data.users = u;
      return Status::Ok();
    }
    Status put_sources(const ConfigSources& c) override {
      if (auto had = data.sources.find(c.name); had == data.sources.end() || had->second.hash != c.hash)
        ++data.config_version;
      data.sources[c.name] = c;
      return Status::Ok();
    }
    Status set_clock(const ClockRecord& c) override {
      if (data.clock.kind == "virtual" && c.kind == "virtual" && c.at < data.clock.at)
        return make_error(ErrorCode::kInvalidInput, "the clock does not go back");
      data.clock = c;
      return Status::Ok();
    }
    Status mark_delivered(std::int64_t gseq, std::int64_t n) override {
      if (NoticeKey{gseq, n} <= data.cursor) return make_error(ErrorCode::kInternal, "delivered already");
      data.cursor = NoticeKey{gseq, n};
      return Status::Ok();
    }
    Result<std::optional<EventRecord>> event_at(std::int64_t gseq) override { return event_at_of(data, gseq); }
    Status put_token(const TokenRecord& t) override {
      if (!data.tokens.emplace(t.hash, t).second) return make_error(ErrorCode::kInternal, "token exists");
      return Status::Ok();
    }
    Result<std::int64_t> revoke_tokens(const std::string& user, const std::string& at) override {
      std::int64_t n = 0;
      for (auto& [h, t] : data.tokens)
        if (t.user == user && t.revoked_at.empty()) {
          t.revoked_at = at;
          ++n;
        }
      return n;
    }
    Result<bool> revoke_token(const std::string& hash, const std::string& at) override {
      auto it = data.tokens.find(hash);
      if (it == data.tokens.end() || !it->second.revoked_at.empty()) return false;
      it->second.revoked_at = at;
      return true;
    }
    Result<std::int64_t> revoke_tokens_of_inactive(const std::string& at) override {
      std::int64_t n = 0;
      for (auto& [h, t] : data.tokens) {
        const bool active = std::any_of(data.users.begin(), data.users.end(),
                                        [&](const UserRecord& u) { return u.key == t.user && u.active; });
        if (!active && t.revoked_at.empty()) {
          t.revoked_at = at;
          ++n;
        }
      }
      return n;
    }
    Status add_timer(const TimerRecord& t) override {
      data.timers.emplace(t.due_at, t.dossier, t.name);
      return Status::Ok();
    }
    Status remove_timer(const TimerRecord& t) override {
      data.timers.erase({t.due_at, t.dossier, t.name});
      return Status::Ok();
    }
    Result<std::vector<TimerRecord>> due_timers(const std::string& until, int limit) override {
      return due_of(data, until, limit);
    }
    Data data;
  };

  Data data_;
};

}  // namespace hoso::testing
