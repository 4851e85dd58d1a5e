#include "engine/service.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <unordered_map>

#include "engine/codec.hpp"
#include "engine/hash_chain.hpp"

namespace hoso {

namespace {

Error with_reason(ErrorCode code, std::string message, std::string reason, std::string subject = {}) {
  return Error{code, std::move(message), std::move(reason), std::move(subject)};
}

// Types the raw fields and documents against the definition.
Status type_input(const Definition& def, const RawInput& in, std::vector<FieldChange>& fields,
                  std::vector<DocumentRef>& docs) {
  for (const auto& [key, text] : in.fields) {
    auto f = def.find_field(key);
    if (!f)
      return Status(with_reason(ErrorCode::kInvalidInput,
                                fmt::format("Quy trình '{}' không có trường thông tin '{}'", def.name(), key),
                                "unknown_field", key));
    auto v = parse_value(def.field(*f).spec, text);
    if (!v)
      return Status(with_reason(ErrorCode::kInvalidInput,
                                fmt::format("Trường '{}' ({}): {}", key,
                                            field_type_name(def.field(*f).spec.type), v.error().message),
                                "invalid_field", key));
    for (auto& existing : fields)
      if (existing.field == *f)
        return Status(with_reason(ErrorCode::kInvalidInput, fmt::format("Trường '{}' được nhập hai lần", key),
                                  "duplicate_field", key));
    fields.push_back(FieldChange{*f, std::move(v.value())});
  }
  for (const auto& d : in.documents) {
    auto k = def.find_document(d.kind);
    if (!k)
      return Status(with_reason(ErrorCode::kInvalidInput, fmt::format("Không có loại tài liệu '{}'", d.kind),
                                "unknown_document_kind", d.kind));
    if (!is_valid_utf8(d.filename) || d.filename.size() > 1024)
      return Status(
          with_reason(ErrorCode::kInvalidInput, "Tên tệp tài liệu không hợp lệ", "invalid_input", d.kind));
    docs.push_back(DocumentRef{*k, d.filename, d.sha256, d.size});
  }
  return Status::Ok();
}

Error refusal_error(const Refusal& r) { return r.error; }

// Runs `fn` (which returns Result<T>) inside one consistent read snapshot of `store`.
template <typename T, typename F>
Result<T> in_snapshot(Store& store, F&& fn) {
  std::optional<Result<T>> out;
  Status st = store.snapshot([&]() -> Status {
    out.emplace(fn());
    return out->ok() ? Status::Ok() : Status(out->error());
  });
  if (out) return std::move(*out);
  return st.error();
}

}  // namespace

Result<UserId> CommandService::find_user(const std::string& key) const {
  auto u = dir_.find_user(key);
  if (!u)
    return with_reason(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", key), "unknown_user",
                       key);
  return *u;
}

Result<Outcome> CommandService::commit(WriteTx& tx, const Definition& def, DossierState& state,
                                       std::int64_t expected_version, std::string last_hash,
                                       const Decision& decision) {
  Outcome out;
  std::vector<OutboxRecord> outbox;
  DossierRecord projection;
  for (const auto& e : decision.events) {
    const OrgId holder_before = state.holder;
    if (auto st = apply_event(def, state, e); !st) return st.error();
    // The event records the digest of the projection it produces, so the projection is bound to the chain.
    projection = encode_dossier(def, dir_, state, "");
    EventRecord r = encode_event(def, dir_, state.id, e, projection_digest(projection));
    r.prev_hash = last_hash;
    r.hash = event_hash(r);
    last_hash = r.hash;
    for (const auto& f : e.effects) {
      if (f.kind != Effect::Kind::kNotify) continue;
      OrgId target = f.to == "holder" ? state.holder : f.to == "origin" ? state.origin : holder_before;
      if (!target.valid()) continue;
      outbox.push_back(OutboxRecord{state.id, e.seq, dir_.org(target).key, f.template_, r.at});
    }
    out.events.push_back(std::move(r));
  }
  projection.last_hash = last_hash;
  if (auto st = tx.append(expected_version, projection, out.events, outbox); !st) return st.error();
  out.id = state.id;
  out.version = state.version;
  out.state = def.state(state.state).key;
  return out;
}

// Refuses a projection that does not match the dossier's latest event (edited behind the log's back).
static Status verify_head(const DossierRecord& record, const std::optional<EventRecord>& last) {
  auto broken = [&](const char* why) {
    return Status(Error{ErrorCode::kVerifyFailed,
                        fmt::format("Hồ sơ {} không khớp với lịch sử của nó ({}); dữ liệu có thể đã bị sửa — "
                                    "chạy 'hoso replay {}' và 'hoso audit verify'",
                                    record.id, why, record.id),
                        "tampered", std::to_string(record.id)});
  };
  if (!last) return broken("không có sự kiện");
  if (last->seq != record.version) return broken("phiên bản khác số sự kiện");
  if (last->hash != record.last_hash || !event_hash_matches(*last)) return broken("mã băm của sự kiện cuối");
  if (recorded_state_digest(*last) != projection_digest(record)) return broken("trạng thái hiện tại");
  return Status::Ok();
}

Result<Outcome> CommandService::create(const std::string& workflow, const std::string& award,
                                       const std::string& user, const RawInput& input) {
  auto uid = find_user(user);
  if (!uid) return uid.error();
  auto def = defs_.current(workflow);
  if (!def) return def.error();
  const Definition& d = **def;
  auto aid = d.find_award(award);
  if (!aid)
    return with_reason(ErrorCode::kInvalidInput, fmt::format("Không có hình thức khen thưởng '{}'", award),
                       "unknown_award", award);
  CreateCommand cmd;
  cmd.award = *aid;
  cmd.note = input.note;
  if (auto st = type_input(d, input, cmd.fields, cmd.documents); !st) return st.error();
  Result<Outcome> result = Error{};
  auto st = store_.write([&](WriteTx& tx) -> Status {
    const Timestamp now = clock_.now();
    Decided decided = decide_create(d, dir_, cmd, *uid, now);
    if (auto* r = std::get_if<Refusal>(&decided)) return refusal_error(*r);
    auto id = tx.allocate_dossier_id();
    if (!id) return id.error();
    DossierState state;
    state.id = *id;
    state.definition_hash = d.hash();
    result = commit(tx, d, state, 0, "", std::get<Decision>(decided));
    return result ? Status::Ok() : Status(result.error());
  });
  if (!st) return st.error();
  return result;
}

Result<Outcome> CommandService::act(DossierId id, const std::string& action, const std::string& user,
                                    const RawInput& input) {
  auto uid = find_user(user);
  if (!uid) return uid.error();
  Result<Outcome> result = Error{};
  auto st = store_.write([&](WriteTx& tx) -> Status {
    auto rec = tx.load(id);
    if (!rec) return rec.error();
    if (!rec->has_value())
      return with_reason(ErrorCode::kNotFound, fmt::format("Không tìm thấy hồ sơ {}", id), "unknown_dossier");
    const DossierRecord& record = **rec;
    auto last = tx.last_event(id);
    if (!last) return last.error();
    if (auto head = verify_head(record, *last); !head) return head;
    auto def = defs_.by_hash(record.definition_hash);
    if (!def) return def.error();
    const Definition& d = **def;
    auto state = decode_dossier(d, dir_, record);
    if (!state) return state.error();
    if (!may_read(dir_, *state, *uid))
      return with_reason(ErrorCode::kNotPermitted,
                         fmt::format("'{}' không có quyền truy cập hồ sơ {}", user, id), "not_permitted");
    ActCommand cmd;
    auto act_id = d.find_action(action);
    if (!act_id)
      return with_reason(ErrorCode::kInvalidInput,
                         fmt::format("Thao tác '{}' không có trong quy trình '{}'", action, d.name()),
                         "unknown_action", action);
    cmd.action = *act_id;
    cmd.note = input.note;
    cmd.expected_version = input.expected_version;
    if (!input.ballot.empty()) {
      auto b = parse_ballot(input.ballot);
      if (!b)
        return with_reason(ErrorCode::kInvalidInput,
                           fmt::format("Phiếu '{}' không hợp lệ (yes, no, abstain)", input.ballot),
                           "invalid_input", "ballot");
      cmd.ballot = *b;
    }
    if (auto typed = type_input(d, input, cmd.fields, cmd.documents); !typed) return typed.error();
    const Timestamp now = clock_.now();
    Decided decided = decide_act(d, dir_, *state, cmd, *uid, now);
    if (auto* r = std::get_if<Refusal>(&decided)) return refusal_error(*r);
    result = commit(tx, d, *state, record.version, record.last_hash, std::get<Decision>(decided));
    return result ? Status::Ok() : Status(result.error());
  });
  if (!st) return st.error();
  return result;
}

Result<DossierView> CommandService::show(DossierId id, const std::optional<std::string>& user) {
  return in_snapshot<DossierView>(store_, [&]() -> Result<DossierView> {
    auto rec = store_.load(id);
    if (!rec) return rec.error();
    if (!rec->has_value())
      return with_reason(ErrorCode::kNotFound, fmt::format("Không tìm thấy hồ sơ {}", id), "unknown_dossier");
    auto last = store_.last_event(id);
    if (!last) return last.error();
    if (auto st = verify_head(**rec, *last); !st) return st.error();
    auto def = defs_.by_hash((*rec)->definition_hash);
    if (!def) return def.error();
    auto state = decode_dossier(**def, dir_, **rec);
    if (!state) return state.error();
    if (user) {
      auto uid = find_user(*user);
      if (!uid) return uid.error();
      if (!may_read(dir_, *state, *uid))
        return with_reason(ErrorCode::kNotPermitted,
                           fmt::format("'{}' không có quyền xem hồ sơ {}", *user, id), "not_permitted");
    }
    return DossierView{*def, std::move(state.value()), std::move(**rec), false};
  });
}

Result<std::vector<DossierView>> CommandService::inbox(const std::string& user) {
  return in_snapshot<std::vector<DossierView>>(store_, [&]() -> Result<std::vector<DossierView>> {
    auto uid = find_user(user);
    if (!uid) return uid.error();
    if (!dir_.user(*uid).active)
      return with_reason(ErrorCode::kNotPermitted, fmt::format("Tài khoản '{}' đã ngừng hoạt động", user),
                         "not_permitted");
    auto recs = store_.open_held_by(dir_.org(dir_.user(*uid).org).key);
    if (!recs) return recs.error();
    std::vector<DossierView> out;
    for (auto& r : *recs) {
      auto last = store_.last_event(r.id);
      if (!last) return last.error();
      if (auto st = verify_head(r, *last); !st) return st.error();
      auto def = defs_.by_hash(r.definition_hash);
      if (!def) return def.error();
      auto state = decode_dossier(**def, dir_, r);
      if (!state) return state.error();
      if (available_actions(**def, dir_, *state, *uid).empty()) continue;
      out.push_back(DossierView{*def, std::move(state.value()), std::move(r), false});
    }
    return out;
  });
}

Result<std::vector<EventRecord>> CommandService::history(DossierId id,
                                                         const std::optional<std::string>& user) {
  return in_snapshot<std::vector<EventRecord>>(store_, [&]() -> Result<std::vector<EventRecord>> {
    auto view = show(id, user);
    if (!view) return view.error();
    return store_.events(id);
  });
}

namespace {

void set_failure(VerifyReport& report, DossierId id, std::int64_t seq, const std::string& why) {
  report.ok = false;
  report.failed_dossier = id;
  report.failed_seq = seq;
  report.failure =
      seq ? fmt::format("hồ sơ {}, sự kiện {}: {}", id, seq, why) : fmt::format("hồ sơ {}: {}", id, why);
}

// Checks each dossier's chain as its events stream by in append order: sequence numbers, prev_hash links
// and every event's own hash. Shared by audit_verify and replay.
class ChainChecker {
 public:
  struct Link {
    std::string last_hash;
    std::int64_t seq = 0;
    std::string last_digest;  // kept when asked: the projection digest the latest event recorded
  };
  explicit ChainChecker(bool keep_digests = false) : keep_digests_(keep_digests) {}

  // Returns "" when the record continues its dossier's chain, else why it does not.
  std::string check(const EventRecord& r) {
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
  const std::unordered_map<DossierId, Link>& links() const { return links_; }

 private:
  std::unordered_map<DossierId, Link> links_;
  bool keep_digests_;
};

// Folds dossiers' events under the definitions they are pinned to (the chain is checked elsewhere), then
// compares each rebuilt dossier with its stored projection.
class Folder {
 public:
  using Definitions = std::unordered_map<std::string, std::shared_ptr<const Definition>>;
  // `pinned`: each dossier's definition hash; `defs`: every definition those name.
  Folder(const Definitions& defs, const std::unordered_map<DossierId, std::string>& pinned,
         const Directory& dir)
      : defs_(defs), pinned_(pinned), dir_(dir) {}

  // Folds one record; false, with the failure in `report`, when it does not fold.
  bool fold(const EventRecord& r, VerifyReport& report) {
    auto [it, fresh] = tracks_.try_emplace(r.dossier);
    Track& t = it->second;
    if (fresh) {
      auto p = pinned_.find(r.dossier);
      if (p == pinned_.end()) {
        set_failure(report, r.dossier, r.seq, "có sự kiện của một hồ sơ không có trạng thái");
        return false;
      }
      t.def = defs_.at(p->second).get();
      t.state.id = r.dossier;
      t.state.definition_hash = p->second;
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

  // Compares projections [begin, end) with the rebuilt dossiers; false, with the failure, at the first
  // mismatch.
  // Compares one stored projection with its rebuilt dossier; false, with the failure, when they differ.
  bool compare(const DossierRecord& p, VerifyReport& report) const {
    auto it = tracks_.find(p.id);
    if (it == tracks_.end()) {
      set_failure(report, p.id, 0, "trạng thái hồ sơ không có sự kiện nào");
      return false;
    }
    const Track& t = it->second;
    DossierRecord rebuilt = encode_dossier(*t.def, dir_, t.state, t.last_hash);
    if (!(rebuilt == p)) {
      set_failure(report, p.id, t.state.version, describe(rebuilt, p));
      return false;
    }
    if (projection_digest(rebuilt) != t.last_digest) {
      set_failure(report, p.id, t.state.version,
                  "trạng thái dựng lại khác trạng thái mà sự kiện cuối đã ghi");
      return false;
    }
    return true;
  }

  std::size_t size() const { return tracks_.size(); }

 private:
  struct Track {
    const Definition* def = nullptr;
    DossierState state;
    std::string last_hash, last_digest;
  };

  static std::string describe(const DossierRecord& a, const DossierRecord& b) {
    auto diff = [](const char* name, const auto& x, const auto& y) -> std::string {
      return x == y ? "" : fmt::format("{}: dựng lại '{}' nhưng đang lưu '{}'; ", name, x, y);
    };
    return "trạng thái đang lưu khác trạng thái dựng lại: " + diff("state", a.state, b.state) +
           diff("holder", a.holder, b.holder) + diff("version", a.version, b.version) +
           diff("closed", a.closed, b.closed) + diff("fields", a.fields, b.fields) +
           diff("documents", a.documents, b.documents) + diff("vote", a.vote, b.vote) +
           diff("last_hash", a.last_hash, b.last_hash) + diff("award", a.award, b.award) +
           diff("origin", a.origin, b.origin) + diff("updated_at", a.updated_at, b.updated_at) +
           diff("submitted_at", a.submitted_at, b.submitted_at);
  }

  const Definitions& defs_;
  const std::unordered_map<DossierId, std::string>& pinned_;
  const Directory& dir_;
  std::unordered_map<DossierId, Track> tracks_;
  Event event_;  // reused for every decoded event
};

// Notes the definition `p` is pinned to, loading it the first time it is seen.
Status pin(DefinitionRegistry& registry, const DossierRecord& p, Folder::Definitions& defs,
           std::unordered_map<DossierId, std::string>& pinned) {
  pinned.emplace(p.id, p.definition_hash);
  if (defs.count(p.definition_hash)) return Status::Ok();
  auto def = registry.by_hash(p.definition_hash);
  if (!def) {
    // A projection pinned to a definition the database does not hold has been tampered with.
    if (def.error().code == ErrorCode::kNotFound)
      return make_error(
          ErrorCode::kVerifyFailed,
          fmt::format("hồ sơ {} gắn với quy trình {} không có trong cơ sở dữ liệu", p.id, p.definition_hash));
    return def.error();
  }
  defs.emplace(p.definition_hash, *def);
  return Status::Ok();
}

}  // namespace

Result<ReferencedKeys> referenced_directory_keys(Store& store) {
  return in_snapshot<ReferencedKeys>(store, [&]() -> Result<ReferencedKeys> {
    ReferencedKeys keys;
    auto note = [](std::map<std::string, DossierId>& m, const std::string& key, DossierId id) {
      if (!key.empty()) m.emplace(key, id);
    };
    auto st = store.scan_events([&](const EventRecord& e) -> Status {
      note(keys.users, e.actor_user, e.dossier);
      note(keys.orgs, e.actor_org, e.dossier);
      note(keys.orgs, e.holder, e.dossier);
      if (e.payload.find("\"electorate\"") != std::string::npos ||
          e.payload.find("\"origin\"") != std::string::npos) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(e.payload, ec);
        if (ec || !v.is_object())
          return make_error(ErrorCode::kVerifyFailed,
                            fmt::format("dossier {} event {}: payload is not JSON", e.dossier, e.seq));
        if (const auto* o = v.as_object().if_contains("origin"); o && o->is_string())
          note(keys.orgs, std::string(o->as_string()), e.dossier);
        if (const auto* el = v.as_object().if_contains("electorate"); el && el->is_array())
          for (const auto& u : el->as_array())
            if (u.is_string()) note(keys.users, std::string(u.as_string()), e.dossier);
      }
      return Status::Ok();
    });
    if (!st) return st.error();
    auto dossiers = store.dossiers();
    if (!dossiers) return dossiers.error();
    for (const auto& d : *dossiers) {
      note(keys.orgs, d.origin, d.id);
      note(keys.orgs, d.holder, d.id);
      note(keys.orgs, d.previous_holder, d.id);
      note(keys.users, d.created_by, d.id);
    }
    return keys;
  });
}

Result<VerifyReport> CommandService::replay(DossierId id) {
  return in_snapshot<VerifyReport>(store_, [&]() -> Result<VerifyReport> {
    auto rec = store_.load(id);
    if (!rec) return rec.error();
    if (!rec->has_value())
      return with_reason(ErrorCode::kNotFound, fmt::format("Không tìm thấy hồ sơ {}", id), "unknown_dossier");
    auto events = store_.events(id);
    if (!events) return events.error();
    Folder::Definitions defs;
    std::unordered_map<DossierId, std::string> pinned;
    VerifyReport report;
    if (auto st = pin(defs_, **rec, defs, pinned); !st) {
      if (st.error().code != ErrorCode::kVerifyFailed) return st.error();
      set_failure(report, id, 0, st.error().message);
      return report;
    }
    ChainChecker chain;
    Folder folder(defs, pinned, dir_);
    for (const auto& e : *events) {
      ++report.events;
      if (auto why = chain.check(e); !why.empty()) {
        set_failure(report, e.dossier, e.seq, why);
        return report;
      }
      if (!folder.fold(e, report)) return report;
    }
    report.dossiers = 1;
    folder.compare(**rec, report);
    return report;
  });
}

// Streams the log once in append order, checking the chain and every hash and folding each event, then
// compares every rebuilt dossier with its stored projection.
Result<VerifyReport> CommandService::replay_all() {
  return in_snapshot<VerifyReport>(store_, [&]() -> Result<VerifyReport> {
    VerifyReport report;
    Folder::Definitions defs;
    std::unordered_map<DossierId, std::string> pinned;
    auto pinning = store_.scan_dossiers([&](const DossierRecord& p) { return pin(defs_, p, defs, pinned); });
    if (!pinning) {
      if (pinning.error().code != ErrorCode::kVerifyFailed) return pinning.error();
      set_failure(report, 0, 0, pinning.error().message);
      return report;
    }
    ChainChecker chain;
    Folder folder(defs, pinned, dir_);
    auto scanned = store_.scan_events([&](const EventRecord& r) -> Status {
      ++report.events;
      if (auto why = chain.check(r); !why.empty()) set_failure(report, r.dossier, r.seq, why);
      if (!report.ok || !folder.fold(r, report)) return make_error(ErrorCode::kVerifyFailed, report.failure);
      return Status::Ok();
    });
    if (!report.ok) return report;
    if (!scanned) return scanned.error();
    auto compared = store_.scan_dossiers([&](const DossierRecord& p) -> Status {
      ++report.dossiers;
      return folder.compare(p, report) ? Status::Ok()
                                       : Status(make_error(ErrorCode::kVerifyFailed, report.failure));
    });
    if (!report.ok) return report;
    if (!compared) return compared.error();
    if (folder.size() != static_cast<std::size_t>(report.dossiers))
      set_failure(report, 0, 0, "có sự kiện của một hồ sơ không có trạng thái");
    return report;
  });
}

Result<VerifyReport> CommandService::audit_verify() {
  return in_snapshot<VerifyReport>(store_, [&]() -> Result<VerifyReport> {
    VerifyReport report;
    ChainChecker chain(/*keep_digests=*/true);
    auto st = store_.scan_events([&](const EventRecord& r) -> Status {
      ++report.events;
      if (auto why = chain.check(r); !why.empty()) {
        set_failure(report, r.dossier, r.seq, why);
        return make_error(ErrorCode::kVerifyFailed, report.failure);
      }
      return Status::Ok();
    });
    if (!report.ok) return report;
    if (!st) return st.error();
    // Each projection must be the one its last event recorded (its digest is inside the hashed payload).
    const auto& links = chain.links();
    auto checked = store_.scan_dossiers([&](const DossierRecord& p) -> Status {
      ++report.dossiers;
      auto it = links.find(p.id);
      if (it == links.end())
        set_failure(report, p.id, 0, "hồ sơ không có sự kiện nào");
      else if (it->second.seq != p.version || it->second.last_hash != p.last_hash)
        set_failure(
            report, p.id, it->second.seq,
            fmt::format("trạng thái hồ sơ (phiên bản {}) không khớp sự kiện cuối trong nhật ký (số {})",
                        p.version, it->second.seq));
      else if (projection_digest(p) != it->second.last_digest)
        set_failure(report, p.id, it->second.seq,
                    "trạng thái hồ sơ đang lưu khác trạng thái mà sự kiện cuối đã ghi (đã bị sửa)");
      return report.ok ? Status::Ok() : Status(make_error(ErrorCode::kVerifyFailed, report.failure));
    });
    if (!report.ok) return report;
    if (!checked) return checked.error();
    if (links.size() != static_cast<std::size_t>(report.dossiers)) {
      std::unordered_map<DossierId, bool> seen;
      auto listed = store_.scan_dossiers([&](const DossierRecord& p) -> Status {
        seen.emplace(p.id, true);
        return Status::Ok();
      });
      if (!listed) return listed.error();
      for (const auto& [id, l] : links) {
        if (!seen.count(id)) {
          set_failure(report, id, l.seq, "có sự kiện của một hồ sơ không có trạng thái");
          break;
        }
      }
    }
    return report;
  });
}

}  // namespace hoso
