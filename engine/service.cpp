#include "engine/service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iterator>
#include <limits>
#include <set>
#include <tuple>
#include <unordered_map>

#include "engine/codec.hpp"
#include "engine/hash_chain.hpp"
#include "engine/json_out.hpp"
#include "engine/timers.hpp"
#include "engine/verify.hpp"

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

// Notice `key` as the dossier's chain recorded it: the event at key.gseq must be event `logged.seq` of the
// chain its projection heads (by place in the log, not merely by content: a copy of a genuine event written
// elsewhere in the log is not it), every event of the chain up to it must verify, and it must list notice
// key.n. So a row written into the log behind the engine's back, outside every chain or with its hash not
// matching, is never taken for a notice to deliver; nor is one the chain records as delivered.
Result<Event::Notice> chained_notice(NoticeKey key, const EventRecord& logged, const std::vector<LoggedEvent>& chain) {
  auto bad = [&] {
    return make_error(ErrorCode::kVerifyFailed,
                      fmt::format("thông báo {}.{} không khớp với sự kiện {} của hồ sơ {} (đã bị thêm hoặc sửa "
                                  "ngoài hệ thống)",
                                  key.gseq, key.n, logged.seq, logged.dossier));
  };
  if (logged.seq < 1 || logged.seq > static_cast<std::int64_t>(chain.size())) return bad();
  const LoggedEvent& in_chain = chain[static_cast<std::size_t>(logged.seq - 1)];
  if (in_chain.gseq != key.gseq || !(in_chain.record == logged)) return bad();
  ChainChecker checker;
  for (std::int64_t i = 0; i < logged.seq; ++i)
    if (!checker.check(chain[static_cast<std::size_t>(i)].record).empty()) return bad();
  auto notices = listed_notices(logged.payload);
  if (!notices || key.n < 0 || key.n >= static_cast<std::int64_t>(notices->size())) return bad();
  return (*notices)[static_cast<std::size_t>(key.n)];
}

// What the chain records of notice `key`, by channel: its NotificationDelivered, Failed and DeadLettered
// events.
std::map<std::string, ChannelProgress> notice_progress(NoticeKey key, const std::vector<LoggedEvent>& chain) {
  std::map<std::string, ChannelProgress> out;
  for (const LoggedEvent& e : chain) {
    auto type = parse_event_type(e.record.type);
    if (!type || !is_notification_event(*type)) continue;
    auto o = notice_outcome(e.record.payload);
    if (!o || o->key != key) continue;
    ChannelProgress& p = out[o->channel];
    if (*type == EventType::kNotificationDelivered) {
      p.settled = true;
      continue;
    }
    ++p.failures;
    p.last_error = o->error;
    p.retry_at = parse_utc(o->retry_at);
    if (*type == EventType::kNotificationDeadLettered) p.settled = p.dead_lettered = true;
  }
  return out;
}

// What makes a dossier overdue, as its projection records it: `marked` (its state is an overdue one, or a
// running clock's limit passed and was recorded by the timer's firing), else from `from` on (the end of the
// earliest last day of its running clocks, when no runner has fired the timer yet).
struct OverdueBasis {
  bool marked = false;
  std::optional<Timestamp> from;
};

OverdueBasis overdue_basis(bool overdue_state, const std::vector<LegalClock>& clocks) {
  OverdueBasis b{overdue_state, std::nullopt};
  for (const LegalClock& c : clocks) {
    if (!c.running) continue;
    b.marked = b.marked || c.overdue;
    const Timestamp end = end_of_day_utc(c.due);
    if (!b.from || end < *b.from) b.from = end;
  }
  return b;
}

bool overdue_at(const OverdueBasis& b, Timestamp now) { return b.marked || (b.from && *b.from <= now); }

// The processing limit of the level holding the dossier has passed: recorded by its firing, or (when no
// runner has fired it yet) by the clock.
bool is_overdue(const Definition& def, const DossierState& s, Timestamp now) {
  return overdue_at(overdue_basis(def.state(s.state).overdue, s.clocks), now);
}

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

// Where a dossier stands as its stored row says (origin and holder, org keys): what may_read looks at;
// nullopt when the origin is no org of the directory.
std::optional<DossierState> stored_place(const Directory& dir, const std::string& origin,
                                         const std::string& holder) {
  const auto origin_org = origin.empty() ? std::optional<OrgId>() : dir.find_org(origin);
  if (!origin_org) return std::nullopt;
  DossierState where;
  where.origin = *origin_org;
  if (auto holder_org = holder.empty() ? std::optional<OrgId>() : dir.find_org(holder))
    where.holder = *holder_org;
  return where;
}

}  // namespace

Result<UserId> CommandService::find_user(const std::string& key) const {
  auto u = dir_.find_user(key);
  if (!u)
    return with_reason(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", key), "unknown_user",
                       key);
  return *u;
}

Result<UserId> CommandService::find_principal(const std::string& key) const {
  if (key.empty()) return UserId{};
  auto u = dir_.find_user(key);
  // A request refused, not a resource missing: the caller named someone to act for who does not exist.
  if (!u)
    return with_reason(
        ErrorCode::kInvalidInput,
        fmt::format("Người được thay mặt (on_behalf_of) '{}' không có trong danh sách người dùng", key),
        "unknown_user", "on_behalf_of");
  return *u;
}

Result<Outcome> CommandService::commit(WriteTx& tx, const Definition& def, DossierState& state,
                                       std::int64_t expected_version, std::string last_hash,
                                       const Decision& decision, EncodedContent content) {
  Outcome out;
  DossierRecord projection;
  for (Event e : decision.events) {
    const OrgId holder_before = state.holder;
    if (auto st = schedule_timers(def, dir_, calendar_.get(), state, e); !st) return st.error();
    const std::vector<PendingTimer> timers_before = state.timers;
    if (auto st = apply_event(def, state, e); !st) return st.error();
    // The timer rows follow the projection's list, in the same transaction: a new timer gets its row. A
    // timer that fired (or was due) loses its row now; one cancelled or paused before its due time keeps
    // it until then, when fire_due drops it unfired because the dossier no longer lists it. Cancelling
    // thus writes no page: the row sits where its due time put it, usually far from the pages this
    // command touches.
    auto listed = [](const std::vector<PendingTimer>& in, const PendingTimer& t) {
      return std::find(in.begin(), in.end(), t) != in.end();
    };
    for (const auto& t : timers_before)
      if (!listed(state.timers, t) && t.due <= e.at)
        if (auto st = tx.remove_timer(TimerRecord{format_utc(t.due), state.id, t.name}); !st) return st.error();
    for (const auto& t : state.timers)
      if (!listed(timers_before, t))
        if (auto st = tx.add_timer(TimerRecord{format_utc(t.due), state.id, t.name}); !st) return st.error();
    // Who is told, resolved now and recorded in the event itself: the log is the outbox, so a notice is
    // bound to the chain like everything else the event records.
    for (const auto& f : e.effects) {
      if (f.kind != Effect::Kind::kNotify) continue;
      if (f.to.starts_with("org:")) {  // a target the time layer resolved (the level above)
        e.notices.push_back(Event::Notice{f.to.substr(4), f.template_});
        continue;
      }
      if (f.to_field.valid()) {  // org keys the dossier holds in a text field, separated by commas
        const Value& v = state.fields[f.to_field.value];
        for (std::size_t from = 0; v.kind == Value::Kind::kText && from <= v.text.size();) {
          std::size_t comma = v.text.find(',', from);
          if (comma == std::string::npos) comma = v.text.size();
          std::string key = v.text.substr(from, comma - from);
          std::erase(key, ' ');
          if (auto org = dir_.find_org(key)) e.notices.push_back(Event::Notice{dir_.org(*org).key, f.template_});
          from = comma + 1;
        }
        continue;
      }
      OrgId target = f.to == "holder" ? state.holder : f.to == "origin" ? state.origin : holder_before;
      if (target.valid()) e.notices.push_back(Event::Notice{dir_.org(target).key, f.template_});
    }
    // The event records the digest of the projection it produces, so the projection is bound to the chain.
    // Only a creation's first event, and an event carrying field changes or documents, change the fields and
    // documents (apply_event): any other takes their encoding from the projection before it.
    const bool same_content =
        content.known() && e.type != EventType::kDossierCreated && e.changes.empty() && e.documents.empty();
    projection = encode_dossier(def, dir_, state, "", same_content ? &content : nullptr);
    if (!same_content) content = EncodedContent{projection.fields, projection.documents};
    EventRecord r = encode_event(def, dir_, state.id, e, projection_digest(projection));
    r.prev_hash = last_hash;
    r.hash = event_hash(r);
    last_hash = r.hash;
    out.events.push_back(std::move(r));
  }
  projection.last_hash = last_hash;
  if (auto st = tx.append(expected_version, projection, out.events); !st) return st.error();
  out.id = state.id;
  out.version = state.version;
  out.state = def.state(state.state).key;
  // Taken, not copied: the caller is done with `state` (one that goes on from it reads pending_'s).
  pending_ = Written{std::move(projection.last_hash),
                     std::move(state),
                     {},  // its age: set once remembered
                     std::move(content)};
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
  auto cmd = create_command(d, award, input);
  if (!cmd) return cmd.error();
  auto behalf = find_principal(input.on_behalf_of);
  if (!behalf) return behalf.error();
  cmd->on_behalf_of = *behalf;
  Result<Outcome> result = Error{};
  auto st = store_.write([&](WriteTx& tx) -> Status {
    auto now = command_time(tx);
    if (!now) return now.error();
    result = commit_created(tx, d, decide_create(d, dir_, *cmd, *uid, *now));
    return result ? Status::Ok() : Status(result.error());
  });
  if (!st) {
    pending_.reset();
    return st.error();
  }
  remember();
  return result;
}

Result<std::vector<std::optional<Outcome>>> CommandService::open_all(
    const std::string& workflow, const std::vector<OpenRequest>& requests,
    const std::function<bool(const DossierView&, const OpenRequest&)>& already_open) {
  auto def = defs_.current(workflow);
  if (!def) return def.error();
  const Definition& d = **def;
  std::vector<std::pair<CreateCommand, OrgId>> commands;
  for (const auto& r : requests) {
    auto org = dir_.find_org(r.origin);
    if (!org)
      return with_reason(ErrorCode::kNotFound, fmt::format("Không có cơ quan, đơn vị '{}'", r.origin),
                         "unknown_org", r.origin);
    auto cmd = create_command(d, r.award, r.input);
    if (!cmd) return cmd.error();
    commands.emplace_back(std::move(*cmd), *org);
  }
  std::vector<std::optional<Outcome>> out;
  auto st = store_.write([&](WriteTx& tx) -> Status {
    out.clear();
    auto now = command_time(tx);
    if (!now) return now.error();
    // What is open already, read under the write lock (the store reads on the writing connection).
    std::vector<DossierView> existing;
    auto scanned = store_.scan_dossiers([&](const DossierRecord& r) -> Status {
      if (r.workflow != workflow) return Status::Ok();
      auto view = view_of(r, false);
      if (!view) return view.error();
      existing.push_back(std::move(*view));
      return Status::Ok();
    });
    if (!scanned) return scanned;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const auto& [cmd, origin] = commands[i];
      if (std::any_of(existing.begin(), existing.end(),
                      [&](const DossierView& v) { return already_open(v, requests[i]); })) {
        out.emplace_back(std::nullopt);
        continue;
      }
      auto opened = commit_created(tx, d, decide_open(d, dir_, cmd, origin, *now));
      if (!opened) {
        Error e = opened.error();
        e.message = fmt::format("{}: {}", dir_.org(origin).name, e.message);
        return e;
      }
      out.push_back(std::move(*opened));
    }
    return Status::Ok();
  });
  if (!st) {
    pending_.reset();
    return st.error();
  }
  remember();
  return out;
}

Result<CreateCommand> CommandService::create_command(const Definition& d, const std::string& award,
                                                     const RawInput& input) {
  auto aid = d.find_award(award);
  if (!aid)
    return with_reason(ErrorCode::kInvalidInput, fmt::format("Không có hình thức khen thưởng '{}'", award),
                       "unknown_award", award);
  CreateCommand cmd;
  cmd.award = *aid;
  cmd.note = input.note;
  if (auto st = type_input(d, input, cmd.fields, cmd.documents); !st) return st.error();
  return cmd;
}

Result<Outcome> CommandService::commit_created(WriteTx& tx, const Definition& d, const Decided& decided) {
  if (auto* r = std::get_if<Refusal>(&decided)) return refusal_error(*r);
  auto id = tx.allocate_dossier_id();
  if (!id) return id.error();
  DossierState state;
  state.id = *id;
  state.definition_hash = d.hash();
  return commit(tx, d, state, 0, "", std::get<Decision>(decided));
}

Result<Outcome> CommandService::act(DossierId id, const std::string& action, const std::string& user,
                                    const RawInput& input) {
  auto uid = find_user(user);
  if (!uid) return uid.error();
  auto behalf = find_principal(input.on_behalf_of);
  if (!behalf) return behalf.error();
  Result<Outcome> result = Error{};
  // Whether the stored row puts the dossier out of the user's reach (as show judges it, and the delegator's
  // reach only under a delegation that holds today): then it is refused as any other such dossier, whatever
  // became of it, so that one edited behind the log's back is not named to them as such.
  auto out_of_reach = [&](WriteTx& tx) {
    auto rec = tx.load(id);
    if (!rec || !rec->has_value()) return false;
    const auto where = stored_place(dir_, (*rec)->origin, (*rec)->holder);
    if (!where || may_read(dir_, *where, *uid)) return false;
    auto now = command_time(tx);
    return !(behalf->valid() && now && !check_delegation(dir_, *uid, *behalf, *now) &&
             may_read(dir_, *where, *behalf));
  };
  auto st = store_.write([&](WriteTx& tx) -> Status {
    auto cur = current(tx, id);
    if (!cur && out_of_reach(tx))
      return with_reason(ErrorCode::kNotPermitted,
                         fmt::format("'{}' không có quyền truy cập hồ sơ {}", user, id), "not_permitted");
    if (!cur) return cur.error();
    if (!cur->has_value())
      return with_reason(ErrorCode::kNotFound, fmt::format("Không tìm thấy hồ sơ {}", id), "unknown_dossier");
    Current& record = **cur;
    DossierState* state = &record.state;
    auto def = defs_.by_hash(state->definition_hash);
    if (!def) return def.error();
    const Definition& d = **def;
    auto clock_now = command_time(tx);
    if (!clock_now) return clock_now.error();
    const Timestamp now = *clock_now;
    // A delegate reads as the user they stand in for, once the delegation holds today.
    if (behalf->valid())
      if (auto r = check_delegation(dir_, *uid, *behalf, now)) return refusal_error(*r);
    if (!may_read(dir_, *state, behalf->valid() ? *behalf : *uid))
      return with_reason(ErrorCode::kNotPermitted,
                         fmt::format("'{}' không có quyền truy cập hồ sơ {}", user, id), "not_permitted");
    ActCommand cmd;
    cmd.on_behalf_of = *behalf;
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
    // Events that only record a notice going out (delivered, failed, dead-lettered) are not edits: the
    // version a clerk read before them is still current.
    if (cmd.expected_version && *cmd.expected_version >= 1 && *cmd.expected_version < record.version) {
      auto events = store_.events(id);
      if (!events) return events.error();
      const bool only_notices = std::all_of(events->begin(), events->end(), [&](const EventRecord& e) {
        if (e.seq <= *cmd.expected_version) return true;
        auto type = parse_event_type(e.type);
        return type && is_notification_event(*type);
      });
      if (only_notices) cmd.expected_version = record.version;
    }
    // Timers that came due before this command fire first, in this transaction: a level acting after its
    // limit has the overdue recorded (and notified) before its action, whether or not a runner was up.
    std::int64_t version = record.version;
    std::string last_hash = record.last_hash;
    for (;;) {
      auto due = std::min_element(state->timers.begin(), state->timers.end(),
                                  [](const PendingTimer& a, const PendingTimer& b) { return a.due < b.due; });
      if (due == state->timers.end() || now < due->due) break;
      auto fired = fire_timer(d, dir_, *state, due->name, now);
      if (!fired) return fired.error();
      Decision timer;
      timer.events.push_back(std::move(fired.value()));
      auto out = commit(tx, d, *state, version, last_hash, timer, std::move(record.content));
      if (!out) return out.error();
      *state = pending_->state;  // commit took it; the action goes on from it
      record.content = pending_->content;
      version = out->version;
      last_hash = out->events.back().hash;
    }
    // The version the clerk saw is the one before those firings (they are time passing, not an edit).
    if (cmd.expected_version && *cmd.expected_version == record.version) cmd.expected_version = version;
    Decided decided = decide_act(d, dir_, *state, cmd, *uid, now);
    if (auto* r = std::get_if<Refusal>(&decided)) return refusal_error(*r);
    result =
        commit(tx, d, *state, version, last_hash, std::get<Decision>(decided), std::move(record.content));
    return result ? Status::Ok() : Status(result.error());
  });
  if (!st) {
    pending_.reset();
    return st.error();
  }
  remember();
  return result;
}

Result<std::optional<CommandService::Current>> CommandService::current(WriteTx& tx, DossierId id) {
  auto known = written_.find(id);
  if (known != written_.end()) {
    auto same = tx.still_written(id, known->second.state.version, known->second.last_hash);
    if (!same) return same.error();
    if (*same) return std::optional<Current>(take_written(known));
  }
  auto rec = tx.load(id);
  if (!rec) return rec.error();
  if (!rec->has_value()) return std::optional<Current>();
  const DossierRecord& record = **rec;
  auto last = tx.last_event(id);
  if (!last) return last.error();
  if (auto head = verify_head(record, *last); !head) return head.error();
  // The projection is the one the chain recorded: if that is the one remembered, so is its state.
  if (known != written_.end() && known->second.state.version == record.version &&
      known->second.last_hash == record.last_hash)
    return std::optional<Current>(take_written(known));
  auto def = defs_.by_hash(record.definition_hash);
  if (!def) return def.error();
  auto state = decode_dossier(**def, dir_, record);
  if (!state) return state.error();
  return std::optional<Current>(Current{record.version, record.last_hash, std::move(*state), {}});
}

Result<FireReport> CommandService::fire_due(Timestamp until, bool virtual_clock) {
  const std::string limit = format_utc(until);
  FireReport report;
  // Rows dropped in one transaction, at most: a long run of cancelled timers is cleared in a few commits.
  constexpr std::size_t kMaxDropsPerCommit = 512;
  // Rows left due because their dossier cannot be read or trusted: passed over, so that one such dossier
  // never holds up every deadline after its own.
  std::set<std::tuple<std::string, DossierId, std::string>> passed;
  for (;;) {
    bool none = false, fired = false;
    std::vector<TimerRecord> dropped;
    std::vector<std::pair<TimerRecord, Error>> failed;
    auto st = store_.write([&](WriteTx& tx) -> Status {
      dropped.clear();
      failed.clear();
      for (;;) {
        if (dropped.size() == kMaxDropsPerCommit) return Status::Ok();
        auto due = tx.due_timers(limit, static_cast<int>(passed.size()) + 1);
        if (!due) return due.error();
        auto next = std::find_if(due->begin(), due->end(), [&](const TimerRecord& t) {
          return !passed.contains({t.due_at, t.dossier, t.name});
        });
        if (next == due->end()) {
          none = true;
          return Status::Ok();
        }
        const TimerRecord timer = *next;
        // A row the dossier's own (chained) state does not list with this due time was cancelled or
        // paused before it came due (its row is left until now, see commit), or was written behind the
        // engine's back: it is dropped, never fired, and never stops the others.
        auto drop = [&]() -> Status {
          dropped.push_back(timer);
          return tx.remove_timer(timer);
        };
        // Nothing is written for a timer before its dossier is read and checked: one that fails there is
        // passed over (reported), and the transaction goes on with the next.
        auto pass_over = [&](Error why) {
          passed.insert({timer.due_at, timer.dossier, timer.name});
          failed.emplace_back(timer, std::move(why));
        };
        auto cur = current(tx, timer.dossier);
        if (!cur) {
          pass_over(cur.error());
          continue;
        }
        if (!cur->has_value()) {
          if (auto s = drop(); !s) return s;
          continue;
        }
        Current& record = **cur;
        DossierState* state = &record.state;
        auto def = defs_.by_hash(state->definition_hash);
        if (!def) {
          pass_over(def.error());
          continue;
        }
        auto listed = std::find_if(state->timers.begin(), state->timers.end(), [&](const PendingTimer& t) {
          return t.name == timer.name && format_utc(t.due) == timer.due_at;
        });
        if (listed == state->timers.end()) {
          if (auto s = drop(); !s) return s;
          continue;
        }
        fired = true;
        return fire_listed(tx, record, **def, *state, *listed, virtual_clock);
      }
    });
    if (!st) {
      pending_.reset();
      return st.error();
    }
    report.dropped.insert(report.dropped.end(), dropped.begin(), dropped.end());
    std::move(failed.begin(), failed.end(), std::back_inserter(report.failed));
    if (fired) {
      remember();
      ++report.fired;
    } else if (none) {
      return report;
    }
  }
}

Result<std::vector<TimerRecord>> CommandService::pending_timers(std::size_t limit) {
  return in_snapshot<std::vector<TimerRecord>>(store_, [&]() -> Result<std::vector<TimerRecord>> {
    auto rows = store_.due_timers("9999-12-31T23:59:59.999Z", std::numeric_limits<int>::max());
    if (!rows) return rows.error();
    std::unordered_map<DossierId, std::vector<TimerRecord>> listed;  // by dossier, read once each
    std::vector<TimerRecord> out;
    for (auto& row : *rows) {
      if (out.size() == limit) break;
      auto it = listed.find(row.dossier);
      if (it == listed.end()) {
        auto rec = store_.load(row.dossier);
        if (!rec) return rec.error();
        std::vector<TimerRecord> own;
        if (rec->has_value()) {
          auto timers = listed_timer_rows(row.dossier, (*rec)->timing);
          if (!timers) return timers.error();
          own = std::move(*timers);
        }
        it = listed.emplace(row.dossier, std::move(own)).first;
      }
      if (std::find(it->second.begin(), it->second.end(), row) != it->second.end()) out.push_back(std::move(row));
    }
    return out;
  });
}

Status CommandService::fire_listed(WriteTx& tx, const Current& record, const Definition& def,
                                   DossierState& state, PendingTimer timer, bool virtual_clock) {
  auto last = tx.log_time();
  if (!last) return last.error();
  const Timestamp floor = last->value_or(Timestamp{});
  // Simulated: at its due time (never before the log's last event); real: now, refused if the clock is
  // behind the log.
  Timestamp at = std::max({timer.due, state.updated_at, floor});
  if (!virtual_clock) {
    auto now = command_time(tx);
    if (!now) return now.error();
    at = *now;
  }
  auto event = fire_timer(def, dir_, state, timer.name, at);
  if (!event)
    return make_error(ErrorCode::kVerifyFailed, fmt::format("hẹn giờ '{}' của hồ sơ {} không khớp trạng thái hồ sơ: {}",
                                                            timer.name, state.id, event.error().message));
  if (virtual_clock)
    if (auto c = tx.set_clock(ClockRecord{"virtual", format_utc(event->at)}); !c) return c;
  Decision decision;
  decision.events.push_back(std::move(event.value()));
  auto out = commit(tx, def, state, record.version, record.last_hash, decision, record.content);
  return out ? Status::Ok() : Status(out.error());
}

Result<std::vector<Notification>> CommandService::pending_notifications(
    int limit, const std::vector<NotificationTemplate>& templates, const std::function<bool(NoticeKey)>& skip,
    NoticeKey* cursor_out, std::vector<HeldNotice>* held) {
  return in_snapshot<std::vector<Notification>>(store_, [&]() -> Result<std::vector<Notification>> {
    auto cursor = store_.dispatch_cursor();
    if (!cursor) return cursor.error();
    if (cursor_out) *cursor_out = *cursor;
    std::vector<Notification> out;
    // The log after the cursor (from the cursor's own event, which may have notices after it).
    std::int64_t after = cursor->n >= 0 ? cursor->gseq - 1 : cursor->gseq;
    while (static_cast<int>(out.size()) < limit) {
      // The payloads only (most events list no notice); an event is read whole when a notice of it is due.
      auto batch = store_.payloads_after(after, 256);
      if (!batch) return batch.error();
      if (batch->empty()) break;
      for (const LoggedPayload& logged : *batch) {
        after = logged.gseq;
        auto listed = listed_notices(logged.payload);
        const std::size_t count = listed ? listed->size() : 1;  // a malformed list is refused below
        std::optional<EventRecord> event;
        for (std::size_t i = 0; i < count && static_cast<int>(out.size()) < limit; ++i) {
          const NoticeKey key{logged.gseq, static_cast<std::int64_t>(i)};
          if (key <= *cursor || (skip && skip(key))) continue;
          if (!event) {
            auto read = store_.event_at(logged.gseq);
            if (!read) return read.error();
            if (!read->has_value())
              return make_error(ErrorCode::kInternal,
                                fmt::format("không đọc được sự kiện {} của nhật ký", logged.gseq));
            event = std::move(**read);
          }
          auto n = render_notification(key, *event, templates);
          if (!n && held && n.error().code == ErrorCode::kVerifyFailed) {
            held->push_back(HeldNotice{key, event->dossier, n.error()});
            continue;
          }
          if (!n) {
            if (!out.empty()) return out;  // deliver the genuine ones before it; the next call reports it
            return n.error();
          }
          out.push_back(std::move(*n));
        }
        if (static_cast<int>(out.size()) == limit) return out;
      }
    }
    return out;
  });
}

Result<std::optional<NoticeKey>> CommandService::next_notice(NoticeKey after) {
  std::int64_t from = after.n >= 0 ? after.gseq - 1 : after.gseq;
  // The next notice is usually the next event or a few on (the first one read is `after`'s own, which may
  // list more): read two first, then larger pages. Each event read costs about as much as checking it.
  for (int page = 2;; page = page < 32 ? 32 : 256) {
    auto batch = store_.payloads_after(from, page);
    if (!batch) return batch.error();
    if (batch->empty()) return std::optional<NoticeKey>();
    for (const LoggedPayload& logged : *batch) {
      from = logged.gseq;
      std::int64_t count = 0;
      Status listed = visit_listed_notices(logged.payload, [&](std::string_view, std::string_view) { ++count; });
      if (!listed) return listed.error();
      for (std::int64_t i = 0; i < count; ++i)
        if (after < NoticeKey{logged.gseq, i}) return std::optional<NoticeKey>(NoticeKey{logged.gseq, i});
    }
  }
}

Result<Notification> CommandService::render_notification(NoticeKey key, const EventRecord& logged,
                                                          const std::vector<NotificationTemplate>& templates) {
  auto rec = store_.load(logged.dossier);
  if (!rec) return rec.error();
  if (!rec->has_value()) return make_error(ErrorCode::kVerifyFailed, "thông báo của hồ sơ không tồn tại");
  auto def = defs_.by_hash((*rec)->definition_hash);
  if (!def) return def.error();
  auto events = store_.chain(logged.dossier);
  if (!events) return events.error();
  // A notice goes out only if its delivery can then be recorded in the dossier: one whose projection fails
  // its head check (edited behind the log's back) refuses every write, and the notice would be sent again
  // at every round, for ever.
  if (auto head = verify_head(**rec, events->empty() ? std::optional<EventRecord>()
                                                     : std::optional<EventRecord>(events->back().record));
      !head)
    return head.error();
  auto notice = chained_notice(key, logged, *events);
  if (!notice) return notice.error();
  auto tmpl = std::find_if(templates.begin(), templates.end(),
                           [&](const NotificationTemplate& t) { return t.key == notice->template_key; });
  if (tmpl == templates.end())
    return make_error(ErrorCode::kInvalidDefinition,
                      fmt::format("không có mẫu thông báo '{}' (config/templates.yaml)", notice->template_key));
  // The texts speak of the dossier as it was when the event happened: fold the history up to it.
  DossierState state;
  state.id = logged.dossier;
  state.definition_hash = (*rec)->definition_hash;
  Event e;
  for (std::int64_t i = 0; i < logged.seq; ++i) {
    if (auto st = decode_event_into(**def, dir_, (*events)[static_cast<std::size_t>(i)].record, e, true); !st)
      return st.error();
    if (auto st = apply_event(**def, state, e); !st) return st.error();
  }
  auto org = dir_.find_org(notice->to);
  if (!org) return make_error(ErrorCode::kVerifyFailed, fmt::format("không có cơ quan '{}'", notice->to));
  std::string due;
  for (const auto& c : state.clocks)
    if (c.running) due = format_date(c.due);
  auto at = parse_utc(logged.at);
  std::map<std::string, std::string> values = {{"ho_so", std::to_string(logged.dossier)},
                                               {"hinh_thuc", (*def)->award(state.award).name},
                                               {"buoc", (*def)->state(state.state).title},
                                               {"co_quan", dir_.org(*org).name},
                                               {"don_vi", dir_.org(state.origin).name},
                                               {"han", due},
                                               {"thoi_diem", at ? format_vietnam(*at) : logged.at},
                                               {"ghi_chu", logged.note}};
  for (const auto& f : (*def)->fields()) {
    const Value& v = state.fields[f.id.value];
    values[std::string(kFieldPlaceholderPrefix) + f.key] =
        v.kind == Value::Kind::kDate ? format_date_vietnamese(Date{static_cast<std::int32_t>(v.num)})
                                     : format_value(f.spec, v);
  }
  Notification n{key.gseq,
                 key.n,
                 logged.dossier,
                 logged.seq,
                 notice->to,
                 dir_.org(*org).name,
                 notice->template_key,
                 render_template(tmpl->subject, values),
                 render_template(tmpl->body, values),
                 logged.at,
                 {},
                 notice_progress(key, *events)};
  // The people the notice is for: those of the target org holding a role that may act on the dossier in
  // the state the event left it in (who must act next); when no one there may (the origin told of a
  // decision), the org's clerks, who receive its correspondence.
  std::uint32_t next_roles = 0;
  if (state.holder == *org)
    for (const auto& t : (*def)->transitions())
      if (t.kind != TransitionKind::kTimeout && std::find(t.from.begin(), t.from.end(), state.state) != t.from.end())
        next_roles |= t.roles_mask;
  auto emails_of = [&](std::uint32_t mask) {
    for (const auto& u : dir_.users())
      if (u.active && u.org == *org && !u.email.empty() &&
          std::any_of(u.roles.begin(), u.roles.end(), [&](Role r) { return mask & (1u << static_cast<int>(r)); }))
        n.emails.push_back(u.email);
  };
  emails_of(next_roles);
  if (n.emails.empty()) emails_of(1u << static_cast<int>(Role::kClerk));
  return n;
}

Result<NoticeKey> CommandService::advance_dispatch_cursor(const std::set<NoticeKey>& settled) {
  NoticeKey at;
  auto st = store_.write([&](WriteTx& tx) -> Status {
    auto cursor = store_.dispatch_cursor();
    if (!cursor) return cursor.error();
    at = *cursor;
    for (;;) {
      auto next = next_notice(at);
      if (!next) return next.error();
      if (!next->has_value() || !settled.contains(**next)) return Status::Ok();
      const NoticeKey key = **next;
      // The history must say so too, as the audit reads it: a notice of its dossier's chain, settled by a
      // channel. (Which channels count is the dispatcher's: one taken out of the configuration leaves its
      // failed attempts unsettled in the history, and the notice is still settled on every channel in use.)
      auto logged = tx.event_at(key.gseq);
      if (!logged) return logged.error();
      if (!logged->has_value())
        return make_error(ErrorCode::kVerifyFailed, fmt::format("không có sự kiện {}", key.gseq));
      auto events = store_.chain((*logged)->dossier);
      if (!events) return events.error();
      if (auto notice = chained_notice(key, **logged, *events); !notice) return notice.error();
      const auto progress = notice_progress(key, *events);
      if (std::none_of(progress.begin(), progress.end(), [](const auto& p) { return p.second.settled; }))
        return make_error(ErrorCode::kVerifyFailed,
                          fmt::format("thông báo {}.{} chưa được gửi xong theo lịch sử hồ sơ {}: không dời vị trí gửi "
                                      "qua nó",
                                      key.gseq, key.n, (*logged)->dossier));
      if (auto m = tx.mark_delivered(key.gseq, key.n); !m) return m;
      at = key;
    }
  });
  if (!st) return st.error();
  return at;
}

Status CommandService::record_delivered(const Notification& n, const std::string& channel) {
  DeliveryAttempt a;
  a.channel = channel;
  return record_attempt(n, a);
}

Status CommandService::record_attempt(const Notification& n, const DeliveryAttempt& a) {
  const bool settling = a.outcome != DeliveryOutcome::kFailed;
  if (a.channel.empty() || a.attempt < 1 || (a.settles && !settling) ||
      (a.outcome == DeliveryOutcome::kFailed) != a.retry_at.has_value())
    return make_error(ErrorCode::kInternal,
                      fmt::format("lần gửi thông báo {} không hợp lệ (kênh '{}', lần {})", n.id(), a.channel,
                                  a.attempt));
  auto st = store_.write([&](WriteTx& tx) -> Status {
    auto cur = current(tx, n.dossier);
    if (!cur) return cur.error();
    if (!cur->has_value()) return make_error(ErrorCode::kVerifyFailed, "thông báo của hồ sơ không tồn tại");
    Current& record = **cur;
    DossierState* state = &record.state;
    auto def = defs_.by_hash(state->definition_hash);
    if (!def) return def.error();
    auto events = store_.chain(n.dossier);
    if (!events) return events.error();
    // Only a notice after the cursor is still being sent: every one up to it has gone out.
    const NoticeKey key{n.gseq, n.n};
    auto cursor = store_.dispatch_cursor();
    if (!cursor) return cursor.error();
    if (key <= *cursor)
      return make_error(ErrorCode::kVersionConflict,
                        fmt::format("thông báo {}.{} đã được gửi xong (đã gửi đến {}.{})", n.gseq, n.n, cursor->gseq,
                                    cursor->n));
    // The notice's event, as the dossier's chain has it (the chain is the log's rows linked from the head).
    const auto logged = std::find_if(events->begin(), events->end(),
                                     [&](const LoggedEvent& e) { return e.gseq == n.gseq; });
    auto notice = logged != events->end()
                      ? chained_notice(key, logged->record, *events)
                      : Result<Event::Notice>(make_error(
                            ErrorCode::kVerifyFailed,
                            fmt::format("không có sự kiện {} trong lịch sử hồ sơ {}", n.gseq, n.dossier)));
    if (!notice) return notice.error();
    if (logged->record.dossier != n.dossier || logged->record.seq != n.event_seq || notice->to != n.to_org ||
        notice->template_key != n.template_key)
      return make_error(ErrorCode::kVerifyFailed,
                        fmt::format("thông báo {}.{} không khớp với sự kiện {} của hồ sơ {}", n.gseq, n.n,
                                    n.event_seq, n.dossier));
    // Settled on this channel already (a dispatch cursor moved back by hand): never twice.
    const auto progress = notice_progress(key, *events);
    const auto known = progress.find(a.channel);
    if (known != progress.end() && known->second.settled)
      return make_error(ErrorCode::kVerifyFailed,
                        fmt::format("thông báo {}.{} đã được gửi qua kênh '{}' (lịch sử hồ sơ {} ghi nhận): vị trí "
                                    "gửi đã bị sửa ngoài hệ thống",
                                    key.gseq, key.n, a.channel, n.dossier));
    const std::int64_t failures = known == progress.end() ? 0 : known->second.failures;
    if (a.attempt != failures + 1)
      return make_error(ErrorCode::kVersionConflict,
                        fmt::format("lần gửi {} của thông báo {} qua kênh '{}' không phải lần kế tiếp (đã ghi {} lần "
                                    "lỗi)",
                                    a.attempt, n.id(), a.channel, failures));
    // Settled: the cursor moves to it when it is the next notice; one settled ahead of a notice still waiting
    // for a retry stays recorded in the history until advance_dispatch_cursor passes it.
    if (a.settles) {
      auto next = next_notice(*cursor);
      if (!next) return next.error();
      if (*next == key)
        if (auto m = tx.mark_delivered(n.gseq, n.n); !m) return m;
    }
    Event e;
    e.type = a.outcome == DeliveryOutcome::kDelivered ? EventType::kNotificationDelivered
             : a.outcome == DeliveryOutcome::kFailed  ? EventType::kNotificationFailed
                                                      : EventType::kNotificationDeadLettered;
    e.seq = state->version + 1;
    auto now = command_time(tx);
    if (!now) return now.error();
    e.at = std::max(*now, state->updated_at);
    e.from = e.to = state->state;
    e.holder = state->holder;
    e.delivery = Event::Delivery{n.id(),
                                 a.channel,
                                 n.to_org,
                                 n.template_key,
                                 a.attempt,
                                 a.outcome == DeliveryOutcome::kDelivered ? std::string() : a.error,
                                 a.retry_at ? format_utc(*a.retry_at) : std::string(),
                                 a.left_out};
    Decision d;
    d.events.push_back(std::move(e));
    auto out = commit(tx, **def, *state, record.version, record.last_hash, d, std::move(record.content));
    return out ? Status::Ok() : Status(out.error());
  });
  if (!st) {
    pending_.reset();
    return st;
  }
  remember();
  return Status::Ok();
}

Result<Timestamp> CommandService::command_time(WriteTx& tx) {
  const Timestamp now = clock_.now();
  auto last = tx.log_time();
  if (!last) return last.error();
  if (last->has_value() && now < **last)
    return with_reason(ErrorCode::kRefused,
                       fmt::format("Đồng hồ ({}) sớm hơn sự kiện cuối cùng trong nhật ký ({}); không được ghi lùi "
                                   "thời gian",
                                   format_utc(now), format_utc(**last)),
                       "clock_behind");
  return now;
}

Status CommandService::group(const std::function<Status()>& work) {
  Status st = store_.group(work);
  if (!st) {
    // What the commands of the group wrote is gone: nothing remembered of them may stand for the store.
    forget_written();
    listed_through_ = -1;  // (were a listing read inside the group, it may have seen them)
  }
  return st;
}

CommandService::Current CommandService::take_written(std::unordered_map<DossierId, Written>::iterator known) {
  Current c{known->second.state.version, std::move(known->second.last_hash), std::move(known->second.state),
            std::move(known->second.content)};
  written_order_.erase(known->second.age);
  written_.erase(known);
  return c;
}

void CommandService::remember() {
  if (!pending_) return;
  const DossierId id = pending_->state.id;
  if (auto known = written_.find(id); known != written_.end()) {
    written_order_.splice(written_order_.begin(), written_order_, known->second.age);
    pending_->age = written_order_.begin();
    known->second = std::move(*pending_);
  } else {
    if (written_.size() >= remembered_) {
      written_.erase(written_order_.back());
      written_order_.pop_back();
    }
    written_order_.push_front(id);
    pending_->age = written_order_.begin();
    written_.emplace(id, std::move(*pending_));
  }
  pending_.reset();
}

Result<DossierView> CommandService::view_of(DossierRecord record, bool check_head) {
  if (check_head) {
    auto last = store_.last_event(record.id);
    if (!last) return last.error();
    if (auto st = verify_head(record, *last); !st) return st.error();
  }
  auto def = defs_.by_hash(record.definition_hash);
  if (!def) return def.error();
  auto state = decode_dossier(**def, dir_, record);
  if (!state) return state.error();
  const bool overdue = is_overdue(**def, *state, clock_.now());
  return DossierView{*def, std::move(state.value()), std::move(record), overdue};
}

Result<DossierView> CommandService::show(DossierId id, const std::optional<std::string>& user) {
  return in_snapshot<DossierView>(store_, [&]() -> Result<DossierView> {
    auto rec = store_.load(id);
    if (!rec) return rec.error();
    if (!rec->has_value())
      return with_reason(ErrorCode::kNotFound, fmt::format("Không tìm thấy hồ sơ {}", id), "unknown_dossier");
    auto refused = [&] {
      return with_reason(ErrorCode::kNotPermitted, fmt::format("'{}' không có quyền xem hồ sơ {}", *user, id),
                         "not_permitted");
    };
    std::optional<UserId> reader;
    if (user) {
      auto uid = find_user(*user);
      if (!uid) return uid.error();
      reader = *uid;
      // Judged from the stored row first (as a listing does), so that a dossier the user may not read is
      // refused whatever its state: one edited behind the log's back is not named to them as such.
      const auto where = stored_place(dir_, (*rec)->origin, (*rec)->holder);
      if (where && !may_read(dir_, *where, *reader)) return refused();
    }
    auto view = view_of(std::move(**rec), true);
    if (!view) return view.error();
    if (reader && !may_read(dir_, view->state, *reader)) return refused();  // and from the checked state
    return view;
  });
}

Result<std::vector<DossierView>> CommandService::inbox(const std::string& user,
                                                       const std::string& on_behalf_of) {
  return in_snapshot<std::vector<DossierView>>(store_, [&]() -> Result<std::vector<DossierView>> {
    auto uid = find_user(user);
    if (!uid) return uid.error();
    if (!dir_.user(*uid).active)
      return with_reason(ErrorCode::kNotPermitted, fmt::format("Tài khoản '{}' đã ngừng hoạt động", user),
                         "not_permitted");
    auto behalf = find_principal(on_behalf_of);
    if (!behalf) return behalf.error();
    const bool by_delegate = behalf->valid();
    if (by_delegate) {
      if (auto r = check_delegation(dir_, *uid, *behalf, clock_.now())) return refusal_error(*r);
      uid = *behalf;  // the delegator's inbox, without the ballots only they may cast
    }
    auto recs = store_.open_held_by(dir_.org(dir_.user(*uid).org).key);
    if (!recs) return recs.error();
    std::vector<DossierView> out;
    for (auto& r : *recs) {
      auto view = view_of(std::move(r), true);
      if (!view) return view.error();
      if (available_actions(*view->definition, dir_, view->state, *uid, by_delegate).empty()) continue;
      out.push_back(std::move(*view));
    }
    return out;
  });
}

Result<std::vector<DossierView>> CommandService::dossiers_of(const std::string& workflow,
                                                             std::optional<UserId> reader) {
  return in_snapshot<std::vector<DossierView>>(store_, [&]() -> Result<std::vector<DossierView>> {
    std::vector<DossierView> out;
    auto st = store_.scan_dossiers([&](const DossierRecord& r) -> Status {
      if (r.workflow != workflow) return Status::Ok();
      // One the reader may not read is passed over from its stored row, before it is checked: one edited
      // behind the log's back elsewhere neither fails their answer nor is named to them.
      if (reader)
        if (const auto where = stored_place(dir_, r.origin, r.holder);
            where && !may_read(dir_, *where, *reader))
          return Status::Ok();
      auto view = view_of(r, true);
      if (!view) return view.error();
      out.push_back(std::move(*view));
      return Status::Ok();
    });
    if (!st) return st.error();
    return out;
  });
}

namespace {

// Whether a dossier with these projection values passes the query's filters other than `overdue`, and the
// user may read it (as may_read judges it from its origin and holder).
Result<bool> listed_match(const Directory& dir, const DossierQuery& q, UserId user, DossierId id,
                          const std::string& workflow, const std::string& state, const std::string& holder,
                          const std::string& award, const std::string& origin, const std::string& fields) {
  if (!q.workflows.empty() &&
      std::find(q.workflows.begin(), q.workflows.end(), workflow) == q.workflows.end())
    return false;
  if ((q.state && state != *q.state) || (q.holder && holder != *q.holder) || (q.award && award != *q.award))
    return false;
  if (q.text && fields.find(*q.text) == std::string::npos && std::to_string(id) != *q.text) return false;
  const auto where = stored_place(dir, origin, holder);
  if (!where)
    return make_error(ErrorCode::kVerifyFailed, fmt::format("hồ sơ {}: không có cơ quan '{}'", id, origin));
  if (!may_read(dir, *where, user)) return false;
  if (q.within && !dir.is_within(where->origin, *q.within) &&
      !(where->holder.valid() && dir.is_within(where->holder, *q.within)))
    return false;
  return true;
}

}  // namespace

CommandService::Listed CommandService::listed_of(const DossierRecord& r) {
  Listed l{r.workflow, r.state, r.holder, r.award, r.origin, r.fields, false, std::nullopt, std::nullopt};
  auto def = defs_.by_hash(r.definition_hash);
  if (!def) {
    l.overdue_unknown = def.error();
    return l;
  }
  const auto state = (*def)->find_state(r.state);
  auto clocks = timing_clocks(r.timing);
  if (!state || !clocks) {
    l.overdue_unknown =
        make_error(ErrorCode::kVerifyFailed,
                   fmt::format("dossier {}: malformed projection: {}", r.id,
                               !state ? fmt::format("no state '{}'", r.state) : clocks.error().message));
    return l;
  }
  const OverdueBasis b = overdue_basis((*def)->state(*state).overdue, *clocks);
  l.overdue_marked = b.marked;
  l.overdue_from = b.from;
  return l;
}

Status CommandService::refresh_listing() {
  auto listed = [this](const DossierRecord& r) { return listed_of(r); };
  if (listed_through_ < 0) {
    auto last = store_.last_gseq();
    if (!last) return last.error();
    std::map<DossierId, Listed> all;
    auto st = store_.scan_dossiers([&](const DossierRecord& r) -> Status {
      all.insert_or_assign(r.id, listed(r));
      return Status::Ok();
    });
    if (!st) return st;
    listed_ = std::move(all);
    listed_through_ = *last;
    return Status::Ok();
  }
  // A log shorter than what was read (a database file put back from a copy): read it all again.
  auto last = store_.last_gseq();
  if (!last) return last.error();
  if (*last < listed_through_) {
    listed_through_ = -1;
    return refresh_listing();
  }
  auto changed = store_.dossiers_changed_after(listed_through_);
  if (!changed) return changed.error();
  for (const DossierId id : changed->ids) {
    auto rec = store_.load(id);
    if (!rec) return rec.error();
    if (rec->has_value())
      listed_.insert_or_assign(id, listed(**rec));
    else
      listed_.erase(id);
  }
  listed_through_ = changed->through;
  return Status::Ok();
}

Result<DossierPage> CommandService::find_dossiers(const DossierQuery& q, UserId user) {
  return in_snapshot<DossierPage>(store_, [&]() -> Result<DossierPage> {
    if (Status fresh = refresh_listing(); !fresh) {
      listed_through_ = -1;  // read again in full next time
      return fresh.error();
    }
    DossierPage page;
    const auto first = (q.page - 1) * q.per_page;
    const Timestamp now = clock_.now();
    for (const auto& [id, r] : listed_) {
      auto match =
          listed_match(dir_, q, user, id, r.workflow, r.state, r.holder, r.award, r.origin, r.fields);
      if (!match) return match.error();
      if (!*match) continue;
      if (q.overdue) {
        if (r.overdue_unknown) return *r.overdue_unknown;
        if (overdue_at(OverdueBasis{r.overdue_marked, r.overdue_from}, now) != *q.overdue) continue;
      }
      if (page.total >= first && page.total < first + q.per_page) {
        auto rec = store_.load(id);
        if (!rec) return rec.error();
        if (!rec->has_value())
          return make_error(ErrorCode::kInternal, fmt::format("không đọc được hồ sơ {}", id));
        auto view = view_of(std::move(**rec), true);
        if (!view) return view.error();
        page.items.push_back(std::move(*view));
      }
      ++page.total;
    }
    return page;
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


Result<ReferencedKeys> referenced_directory_keys(Store& store) {
  return in_snapshot<ReferencedKeys>(store, [&]() -> Result<ReferencedKeys> {
    ReferencedKeys keys;
    // The system (fired timers, deliveries, dossiers it opened) is not a user of the directory.
    auto note = [](std::map<std::string, DossierId>& m, const std::string& key, DossierId id) {
      if (!key.empty() && key != kSystemActor) m.emplace(key, id);
    };
    auto st = store.scan_events([&](const EventRecord& e) -> Status {
      note(keys.users, e.actor_user, e.dossier);
      note(keys.orgs, e.actor_org, e.dossier);
      if (find_in_json(e.payload, "\"on_behalf_of\"") != std::string::npos) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(e.payload, ec);
        const auto* o = !ec && v.is_object() ? v.as_object().if_contains("on_behalf_of") : nullptr;
        if (o && o->is_string()) note(keys.users, std::string(o->as_string()), e.dossier);
      }
      note(keys.orgs, e.holder, e.dossier);
      if (find_in_json(e.payload, "\"electorate\"") != std::string::npos ||
          find_in_json(e.payload, "\"origin\"") != std::string::npos) {
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
    VerifyReport report;
    // The dossier is folded under the definition its projection is pinned to; the first event must
    // name the same one.
    const std::string& hash = (*rec)->definition_hash;
    auto def = defs_.by_hash(hash);
    if (!def) {
      if (def.error().code != ErrorCode::kNotFound) return def.error();
      // A projection pinned to a definition the database does not hold has been tampered with.
      set_failure(report, id, 0,
                  fmt::format("hồ sơ {} gắn với quy trình {} không có trong cơ sở dữ liệu", id, hash));
      return report;
    }
    const Pin pin{*def, hash};
    ChainChecker chain;
    Folder folder(dir_);
    for (const auto& e : *events) {
      ++report.events;
      if (auto why = chain.check(e); !why.empty()) {
        set_failure(report, e.dossier, e.seq, why);
        return report;
      }
      if (!folder.fold(e, &pin, report)) return report;
    }
    report.dossiers = 1;
    folder.compare(**rec, report);
    return report;
  });
}

// Streams the log once in append order, checking the chain and every hash and folding each event, then
// compares every rebuilt dossier with its stored projection, in up to four parts (set_parallelism).
Result<VerifyReport> CommandService::replay_all() {
  const unsigned workers = std::clamp(parts_, 1u, 4u);
  return in_snapshot<VerifyReport>(
      store_, [&]() -> Result<VerifyReport> { return replay_log(store_, defs_, dir_, workers); });
}

Result<VerifyReport> CommandService::audit_verify() {
  const unsigned workers = std::clamp(parts_, 1u, 4u);
  return in_snapshot<VerifyReport>(store_, [&]() -> Result<VerifyReport> { return audit_store(store_, workers); });
}

}  // namespace hoso
