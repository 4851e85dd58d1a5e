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
      return with_reason(ErrorCode::kNotPermitted, fmt::format("'{}' không có quyền xem hồ sơ {}", *user, id),
                         "not_permitted");
  }
  return DossierView{*def, std::move(state.value()), std::move(**rec), false};
}

Result<std::vector<DossierView>> CommandService::inbox(const std::string& user) {
  auto uid = find_user(user);
  if (!uid) return uid.error();
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
}

Result<std::vector<EventRecord>> CommandService::history(DossierId id,
                                                         const std::optional<std::string>& user) {
  auto view = show(id, user);
  if (!view) return view.error();
  return store_.events(id);
}

namespace {

// Replays dossiers event by event, checking the chain; shared by replay() and replay_all().
class Replayer {
 public:
  Replayer(DefinitionRegistry& defs, const Directory& dir, VerifyReport& report)
      : defs_(defs), dir_(dir), report_(report) {}

  struct Track {
    std::shared_ptr<const Definition> def;
    DossierState state;
    std::string last_hash;
    std::string last_payload;  // the latest event's payload (it records the projection digest)
  };

  // Folds one record into its dossier's track. Returns false once the report has failed.
  bool feed(const EventRecord& r, const std::function<Result<std::string>(DossierId)>& hash_of) {
    ++report_.events;
    auto [it, fresh] = tracks_.try_emplace(r.dossier);
    Track& t = it->second;
    if (fresh) {
      auto h = hash_of(r.dossier);
      if (!h) return fail(r, h.error().message);
      auto def = defs_.by_hash(*h);
      if (!def) return fail(r, def.error().message);
      t.def = *def;
      t.state.id = r.dossier;
      t.state.definition_hash = *h;
    }
    if (r.prev_hash != t.last_hash)
      return fail(r, "prev_hash không khớp mã băm của sự kiện trước (chuỗi bị đứt)");
    if (!event_hash_matches(r)) return fail(r, "mã băm không khớp nội dung sự kiện (nội dung đã bị sửa)");
    if (auto st = decode_event_into(*t.def, dir_, r, event_, /*fold_only=*/true); !st)
      return fail(r, st.error().message);
    if (event_.type == EventType::kDossierCreated && event_.definition_hash != t.state.definition_hash)
      return fail(r, "quy trình gắn với hồ sơ khác quy trình lúc lập hồ sơ");
    t.last_payload = r.payload;  // its state digest is read once, at the end
    if (auto st = apply_event(*t.def, t.state, event_); !st) return fail(r, st.error().message);
    t.last_hash = r.hash;
    return true;
  }

  // Compares every track with its stored projection.
  bool finish(const std::vector<DossierRecord>& projections) {
    for (const auto& p : projections) {
      ++report_.dossiers;
      auto it = tracks_.find(p.id);
      if (it == tracks_.end()) return fail_dossier(p.id, 0, "trạng thái hồ sơ không có sự kiện nào");
      const Track& t = it->second;
      DossierRecord rebuilt = encode_dossier(*t.def, dir_, t.state, t.last_hash);
      if (!(rebuilt == p)) return fail_dossier(p.id, t.state.version, describe(rebuilt, p));
      if (projection_digest(rebuilt) != recorded_state_digest(t.last_payload))
        return fail_dossier(p.id, t.state.version,
                            "trạng thái dựng lại khác trạng thái mà sự kiện cuối đã ghi");
    }
    if (tracks_.size() != projections.size())
      return fail_dossier(0, 0, "có sự kiện của một hồ sơ không có trạng thái");
    return true;
  }

 private:
  static std::string describe(const DossierRecord& a, const DossierRecord& b) {
    auto diff = [](const char* name, const auto& x, const auto& y) -> std::string {
      return x == y ? "" : fmt::format("{}: dựng lại '{}' nhưng đang lưu '{}'; ", name, x, y);
    };
    return "trạng thái đang lưu khác trạng thái dựng lại: " + diff("state", a.state, b.state) +
           diff("holder", a.holder, b.holder) + diff("version", a.version, b.version) +
           diff("closed", a.closed, b.closed) + diff("fields", a.fields, b.fields) +
           diff("documents", a.documents, b.documents) + diff("vote", a.vote, b.vote) +
           diff("last_hash", a.last_hash, b.last_hash) + diff("award", a.award, b.award) +
           diff("origin", a.origin, b.origin) + diff("updated_at", a.updated_at, b.updated_at);
  }
  bool fail(const EventRecord& r, const std::string& why) { return fail_dossier(r.dossier, r.seq, why); }
  bool fail_dossier(DossierId id, std::int64_t seq, const std::string& why) {
    report_.ok = false;
    report_.failed_dossier = id;
    report_.failed_seq = seq;
    report_.failure =
        seq ? fmt::format("hồ sơ {}, sự kiện {}: {}", id, seq, why) : fmt::format("hồ sơ {}: {}", id, why);
    return false;
  }

  DefinitionRegistry& defs_;
  const Directory& dir_;
  VerifyReport& report_;
  std::unordered_map<DossierId, Track> tracks_;
  Event event_;  // reused for every decoded event
};

}  // namespace

Result<ReferencedKeys> referenced_directory_keys(Store& store) {
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
}

Result<VerifyReport> CommandService::replay(DossierId id) {
  auto rec = store_.load(id);
  if (!rec) return rec.error();
  if (!rec->has_value())
    return with_reason(ErrorCode::kNotFound, fmt::format("Không tìm thấy hồ sơ {}", id), "unknown_dossier");
  auto events = store_.events(id);
  if (!events) return events.error();
  VerifyReport report;
  Replayer replayer(defs_, dir_, report);
  const std::string hash = (*rec)->definition_hash;
  for (const auto& e : *events)
    if (!replayer.feed(e, [&](DossierId) -> Result<std::string> { return hash; })) return report;
  replayer.finish({**rec});
  return report;
}

Result<VerifyReport> CommandService::replay_all() {
  auto projections = store_.dossiers();
  if (!projections) return projections.error();
  std::unordered_map<DossierId, std::string> hashes;
  for (const auto& p : *projections) hashes.emplace(p.id, p.definition_hash);
  VerifyReport report;
  Replayer replayer(defs_, dir_, report);
  auto hash_of = [&](DossierId id) -> Result<std::string> {
    auto it = hashes.find(id);
    if (it == hashes.end())
      return make_error(ErrorCode::kVerifyFailed, "events of a dossier with no projection");
    return it->second;
  };
  auto st = store_.scan_events([&](const EventRecord& r) -> Status {
    if (!replayer.feed(r, hash_of)) return make_error(ErrorCode::kVerifyFailed, report.failure);
    return Status::Ok();
  });
  if (!st && report.ok) return st.error();
  if (report.ok) replayer.finish(*projections);
  return report;
}

Result<VerifyReport> CommandService::audit_verify() {
  VerifyReport report;
  struct Link {
    std::string last_hash;
    std::int64_t seq = 0;
  };
  std::unordered_map<DossierId, Link> links;
  auto fail = [&](DossierId id, std::int64_t seq, std::string why) {
    report.ok = false;
    report.failed_dossier = id;
    report.failed_seq = seq;
    report.failure = fmt::format("hồ sơ {}, sự kiện {}: {}", id, seq, why);
    return make_error(ErrorCode::kVerifyFailed, report.failure);
  };
  auto st = store_.scan_events([&](const EventRecord& r) -> Status {
    ++report.events;
    Link& l = links[r.dossier];
    if (r.seq != l.seq + 1)
      return fail(r.dossier, r.seq, fmt::format("số thứ tự {} đứng sau {}", r.seq, l.seq));
    if (r.prev_hash != l.last_hash)
      return fail(r.dossier, r.seq, "prev_hash không khớp mã băm của sự kiện trước (chuỗi bị đứt)");
    if (!event_hash_matches(r))
      return fail(r.dossier, r.seq, "mã băm không khớp nội dung sự kiện (nội dung đã bị sửa)");
    l.last_hash = r.hash;
    l.seq = r.seq;
    return Status::Ok();
  });
  if (!report.ok) return report;
  if (!st) return st.error();
  auto projections = store_.dossier_heads();
  if (!projections) return projections.error();
  for (const auto& p : *projections) {
    ++report.dossiers;
    auto it = links.find(p.id);
    if (it == links.end()) {
      fail(p.id, 0, "hồ sơ không có sự kiện nào");
      return report;
    }
    if (it->second.seq != p.version || it->second.last_hash != p.last_hash) {
      fail(p.id, it->second.seq,
           fmt::format("trạng thái hồ sơ (phiên bản {}) không khớp sự kiện cuối trong nhật ký (số {})",
                       p.version, it->second.seq));
      return report;
    }
  }
  if (links.size() != projections->size()) {
    for (const auto& [id, l] : links) {
      bool found = false;
      for (const auto& p : *projections) found = found || p.id == id;
      if (!found) {
        fail(id, l.seq, "có sự kiện của một hồ sơ không có trạng thái");
        break;
      }
    }
  }
  return report;
}

}  // namespace hoso
