#include "engine/core.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace hoso {

namespace {

constexpr const char* kEventTypeNames[] = {"DossierCreated",     "DossierSubmitted", "DossierAccepted",
                                           "DossierAppraised",   "DossierForwarded", "DossierReturned",
                                           "DossierResubmitted", "DossierRejected",  "DossierDecided",
                                           "DossierWithdrawn",   "VoteCast",         "VoteClosed",
                                           "TimerFired",         "NotificationDelivered",
                                           "NotificationFailed", "NotificationDeadLettered"};
constexpr int kEventTypeCount = 16;
constexpr const char* kBallotNames[] = {"none", "yes", "no", "abstain"};

Refusal refuse(ErrorCode code, std::string reason, std::string subject, std::string message) {
  Error err{code, std::move(message), reason, subject};
  return Refusal{std::move(err), std::move(reason), std::move(subject)};
}

int ceil_percent(int percent, int of) { return (percent * of + 99) / 100; }

bool contains(const std::vector<UserId>& v, UserId u) { return std::find(v.begin(), v.end(), u) != v.end(); }

// The role in `mask` that `user` holds, if any (first in role order).
std::optional<Role> acting_role(const User& user, std::uint32_t mask) {
  for (Role r : user.roles)
    if (mask & (1u << static_cast<int>(r))) return r;
  return std::nullopt;
}

std::string roles_text(std::uint32_t mask) {
  std::string out;
  for (int i = 0; i < kRoleCount; ++i)
    if (mask & (1u << i)) {
      if (!out.empty()) out += ", ";
      out += role_name(static_cast<Role>(i));
    }
  return out;
}

// Who acts and who a command is decided for: the acting user, or the user they stand in for. Refuses unless
// `acting` is active and, with `for_user`, a delegate of active `for_user` whose period covers the command's
// day (Vietnam time).
struct Principal {
  const User* acting = nullptr;
  const User* user = nullptr;  // whose roles and org the checks use
  std::string who;             // for messages: "'deputy'" or "'deputy' (thay mặt 'holder')"
};
std::variant<Principal, Refusal> principal_of(const Directory& dir, UserId acting_id, UserId for_user,
                                              Timestamp now) {
  const User& acting = dir.user(acting_id);
  if (!acting.active)
    return refuse(ErrorCode::kNotPermitted, "not_permitted", acting.key,
                  fmt::format("Tài khoản '{}' đã ngừng hoạt động", acting.key));
  if (!for_user.valid()) return Principal{&acting, &acting, fmt::format("'{}'", acting.key)};
  const User& holder = dir.user(for_user);
  if (holder.id == acting.id)
    return refuse(ErrorCode::kInvalidInput, "invalid_input", "on_behalf_of",
                  fmt::format("'{}' không thể thay mặt chính mình", acting.key));
  if (!holder.active)
    return refuse(ErrorCode::kNotPermitted, "not_permitted", holder.key,
                  fmt::format("Tài khoản '{}' đã ngừng hoạt động; không ai thay mặt được", holder.key));
  const Date today = vietnam_date(now);
  // Of this deputy's periods that miss today: the next one to come, else the last one gone.
  const Delegation* next = nullptr;
  const Delegation* last = nullptr;
  for (const Delegation& d : holder.delegates) {
    if (d.deputy != acting.id) continue;
    if (d.covers(today))
      return Principal{&acting, &holder, fmt::format("'{}' (thay mặt '{}')", acting.key, holder.key)};
    if (d.from > today && (!next || d.from < next->from)) next = &d;
    if (d.until < today && (!last || d.until > last->until)) last = &d;
  }
  if (!next && !last)
    return refuse(
        ErrorCode::kNotPermitted, "not_a_delegate", holder.key,
        fmt::format("'{}' không được ủy quyền thay mặt {} ({})", acting.key, holder.name, holder.key));
  const Delegation& d = next ? *next : *last;
  return refuse(ErrorCode::kNotPermitted, next ? "delegation_not_started" : "delegation_expired", holder.key,
                fmt::format("Ủy quyền cho '{}' thay mặt {} ({}) có hiệu lực từ {} đến {}; ngày {} {}",
                            acting.key, holder.name, holder.key, format_date_vietnamese(d.from),
                            format_date_vietnamese(d.until), format_date_vietnamese(today),
                            next ? "chưa tới thời hạn ủy quyền" : "đã hết thời hạn ủy quyền"));
}

std::optional<Refusal> check_note(const std::string& note) {
  if (note.size() > kMaxNoteBytes)
    return refuse(ErrorCode::kInvalidInput, "invalid_input", "note",
                  fmt::format("Ghi chú dài {} byte, vượt quá giới hạn {} byte", note.size(), kMaxNoteBytes));
  if (!is_valid_utf8(note))
    return refuse(ErrorCode::kInvalidInput, "invalid_input", "note",
                  "Ghi chú không phải văn bản UTF-8 hợp lệ");
  return std::nullopt;
}

// True when `v` is a date its field (declared `not_after: today`) may not hold on `today`: a day not yet come.
bool dated_after(const FieldSpec& spec, const Value& v, Date today) {
  return spec.not_after_today && v.kind == Value::Kind::kDate && v.num > today.days;
}

// A date field declared `not_after: today` (a decision's signing date) may not name a day after the Vietnam
// date the command is made on: a date not yet come cannot have been signed.
std::optional<Refusal> check_dates(const Definition& def, const std::vector<FieldChange>& changes, Timestamp now) {
  const Date today = vietnam_date(now);
  for (const auto& c : changes) {
    const auto& f = def.field(c.field);
    if (dated_after(f.spec, c.value, today))
      return refuse(ErrorCode::kInvalidInput, "date_in_future", f.key,
                    fmt::format("'{}' ({}) ghi ngày {}, sau ngày hôm nay ({}): không ghi một ngày chưa tới",
                                f.label, f.key, format_date_vietnamese(Date{static_cast<std::int32_t>(c.value.num)}),
                                format_date_vietnamese(today)));
  }
  return std::nullopt;
}

bool has_document(const std::vector<DocumentRef>& a, const std::vector<DocumentRef>& b, DocKindId kind) {
  auto is = [kind](const DocumentRef& d) { return d.kind == kind; };
  return std::any_of(a.begin(), a.end(), is) || std::any_of(b.begin(), b.end(), is);
}

// Evaluates clauses over `fields`; the first failing one becomes a refusal naming it. A clause whose
// outcome depends on a field with no value yet fails too, naming that field.
std::optional<Refusal> check_clauses(const Definition& def, const std::vector<Clause>& clauses,
                                     const std::vector<Value>& fields, Date today) {
  const expr::Env env{&fields, today};
  auto missing = [&](const Clause& c, FieldId f) {
    return refuse(ErrorCode::kRefused, "guard_failed", c.id,
                  fmt::format("Không đạt tiêu chí '{}': {} (chưa có thông tin '{}')", c.id, c.message,
                              def.field(f).label));
  };
  for (const auto& c : clauses) {
    FieldId field;
    if (c.applies_if) {
      const auto pre = c.applies_if->eval3(env, &field);
      if (pre == expr::Expr::Truth::kUnknown) return missing(c, field);
      if (pre == expr::Expr::Truth::kFalse) continue;
    }
    const auto t = c.expr.eval3(env, &field);
    if (t == expr::Expr::Truth::kUnknown) return missing(c, field);
    if (t == expr::Expr::Truth::kFalse)
      return refuse(ErrorCode::kRefused, "guard_failed", c.id,
                    fmt::format("Không đạt tiêu chí '{}': {}", c.id, c.message));
  }
  return std::nullopt;
}

}  // namespace

const char* event_type_name(EventType t) { return kEventTypeNames[static_cast<int>(t)]; }
std::optional<EventType> parse_event_type(std::string_view s) {
  for (int i = 0; i < kEventTypeCount; ++i)
    if (s == kEventTypeNames[i]) return static_cast<EventType>(i);
  return std::nullopt;
}
const char* ballot_name(Ballot b) { return kBallotNames[static_cast<int>(b)]; }
std::optional<Ballot> parse_ballot(std::string_view s) {
  if (s == "yes" || s == "dong_y") return Ballot::kYes;
  if (s == "no" || s == "khong_dong_y") return Ballot::kNo;
  if (s == "abstain") return Ballot::kAbstain;
  return std::nullopt;
}

EventType event_type_for(TransitionKind k) {
  switch (k) {
    case TransitionKind::kSubmit:
      return EventType::kDossierSubmitted;
    case TransitionKind::kAccept:
      return EventType::kDossierAccepted;
    case TransitionKind::kAppraise:
      return EventType::kDossierAppraised;
    case TransitionKind::kForward:
      return EventType::kDossierForwarded;
    case TransitionKind::kReturn:
      return EventType::kDossierReturned;
    case TransitionKind::kResubmit:
      return EventType::kDossierResubmitted;
    case TransitionKind::kReject:
      return EventType::kDossierRejected;
    case TransitionKind::kDecide:
      return EventType::kDossierDecided;
    case TransitionKind::kWithdraw:
      return EventType::kDossierWithdrawn;
    case TransitionKind::kVote:
      return EventType::kVoteCast;
    case TransitionKind::kCloseVote:
      return EventType::kVoteClosed;
    case TransitionKind::kTimeout:
      return EventType::kTimerFired;
  }
  return EventType::kDossierSubmitted;
}

Entry entry_of(const Directory& dir, OrgId origin) {
  // A commune proposing itself (through its UBND xã) goes straight to the province, like a department.
  if (dir.org(origin).kind == OrgKind::kCommunePeoplesCommittee) return Entry::kProvince;
  return dir.level_of(origin, Level::kCommune).valid() ? Entry::kCommune : Entry::kProvince;
}

OrgId resolve_holder(const Directory& dir, const State& state, OrgId origin) {
  if (state.terminal) return OrgId{};
  if (state.holder.origin) return origin;
  return dir.child_of_kind(dir.level_of(origin, state.holder.within), state.holder.kind);
}

bool may_read(const Directory& dir, const DossierState& state, UserId user) {
  if (!dir.user(user).active) return false;
  const OrgId org = dir.user(user).org;
  if (state.holder.valid() && state.holder == org) return true;
  const OrgId root = dir.jurisdiction_of(org);
  return dir.is_within(state.origin, root) || (state.holder.valid() && dir.is_within(state.holder, root));
}

namespace {

// The checks and the DossierCreated event shared by a clerk's creation and the system's opening: `actor`
// is the clerk (with the role they create as) or Actor{} for the system.
Decided decide_creation(const Definition& def, const Directory& dir, const CreateCommand& cmd, const Org& origin,
                        Actor actor, Timestamp now) {
  if (!def.serves(cmd.award))
    return refuse(ErrorCode::kInvalidInput, "invalid_input", "award",
                  fmt::format("Quy trình '{}' không áp dụng cho hình thức khen thưởng này", def.name()));
  const Award& award = def.award(cmd.award);
  const auto& kinds = def.origin_kinds();
  if (std::find(kinds.begin(), kinds.end(), origin.kind) == kinds.end())
    return refuse(ErrorCode::kNotPermitted, "not_permitted", origin.key,
                  fmt::format("Đơn vị '{}' ({}) không được đề nghị theo quy trình '{}'", origin.name,
                              org_kind_name(origin.kind), def.name()));
  if (!award.in_force(vietnam_date(now)))
    return refuse(ErrorCode::kRefused, "award_not_in_force", award.key,
                  fmt::format("Hình thức '{}' không còn hoặc chưa có hiệu lực vào ngày {}", award.name,
                              format_date(vietnam_date(now))));
  if (!def.routable(award.id, entry_of(dir, origin.id), origin.kind))
    return refuse(
        ErrorCode::kRefused, "no_route", award.key,
        fmt::format("'{}' không đề nghị được '{}': quy trình '{}' không có đường trình tới cấp quyết định "
                    "cho đơn vị ở vị trí này",
                    origin.name, award.name, def.name()));
  if (auto r = check_note(cmd.note)) return *r;
  if (auto r = check_dates(def, cmd.fields, now)) return *r;
  std::vector<bool> given(def.fields().size(), false);
  for (const auto& c : cmd.fields) given[c.field.value] = true;
  for (const auto& f : def.fields())
    if (f.required && !given[f.id.value])
      return refuse(ErrorCode::kRefused, "field_missing", f.key,
                    fmt::format("Thiếu thông tin bắt buộc '{}' ({})", f.label, f.key));
  const State& initial = def.state(def.initial());
  const OrgId holder = resolve_holder(dir, initial, origin.id);
  if (!holder.valid())
    return refuse(ErrorCode::kRefused, "no_holder", initial.key,
                  fmt::format("Không xác định được cơ quan giữ hồ sơ ở bước '{}'", initial.title));
  Event e;
  e.type = EventType::kDossierCreated;
  e.seq = 1;
  e.at = now;
  e.actor = actor;
  e.to = initial.id;
  e.holder = holder;
  e.note = cmd.note;
  e.changes = cmd.fields;
  e.documents = cmd.documents;
  e.award = cmd.award;
  e.origin = origin.id;
  e.effects = def.on_create();
  return Decision{{std::move(e)}};
}

}  // namespace

std::optional<Refusal> check_delegation(const Directory& dir, UserId acting, UserId for_user, Timestamp now) {
  auto principal = principal_of(dir, acting, for_user, now);
  if (auto* r = std::get_if<Refusal>(&principal)) return *r;
  return std::nullopt;
}

Decided decide_create(const Definition& def, const Directory& dir, const CreateCommand& cmd, UserId user_id,
                      Timestamp now) {
  auto principal = principal_of(dir, user_id, cmd.on_behalf_of, now);
  if (auto* r = std::get_if<Refusal>(&principal)) return *r;
  const auto& [acting, for_user, who] = std::get<Principal>(principal);
  const User& user = *for_user;
  if (def.create_roles_mask() == 0)
    return refuse(ErrorCode::kNotPermitted, "not_permitted", def.name(),
                  fmt::format("Hồ sơ theo quy trình '{}' chỉ do hệ thống mở, người dùng không lập được", def.name()));
  auto role = acting_role(user, def.create_roles_mask());
  if (!role)
    return refuse(ErrorCode::kNotPermitted, "not_permitted", user.key,
                  fmt::format("Người dùng {} không có vai trò được lập hồ sơ ({})", who,
                              roles_text(def.create_roles_mask())));
  Decided decided =
      decide_creation(def, dir, cmd, dir.org(user.org), Actor{acting->id, *role, user.org}, now);
  if (auto* d = std::get_if<Decision>(&decided))
    for (Event& e : d->events) e.on_behalf_of = cmd.on_behalf_of;
  return decided;
}

Decided decide_open(const Definition& def, const Directory& dir, const CreateCommand& cmd, OrgId origin,
                    Timestamp now) {
  return decide_creation(def, dir, cmd, dir.org(origin), Actor{}, now);
}

namespace {

// Resolves the target holder and the electorate of a vote state; refuses when the tree lacks them.
std::optional<Refusal> enter_state(const Definition& def, const Directory& dir, const DossierState& s,
                                   StateId to, Event& e) {
  const State& target = def.state(to);
  e.to = to;
  e.holder = resolve_holder(dir, target, s.origin);
  if (!target.terminal && !e.holder.valid())
    return refuse(ErrorCode::kRefused, "no_holder", target.key,
                  fmt::format("Không xác định được cơ quan giữ hồ sơ ở bước '{}'", target.title));
  if (target.vote && to != s.state) {
    e.electorate = dir.users_with_role(e.holder, target.vote->role);
    if (e.electorate.empty())
      return refuse(ErrorCode::kRefused, "no_electorate", target.key,
                    fmt::format("Hội đồng tại '{}' chưa có thành viên", dir.org(e.holder).name));
  }
  return std::nullopt;
}

Decided decide_vote(const Definition& def, const Directory& dir, const DossierState& s, const Transition& t,
                    const ActCommand& cmd, const User& user, Actor actor, Timestamp now) {
  const VoteRule& rule = *def.state(s.state).vote;
  const VoteTally& v = s.vote;
  const int members = static_cast<int>(v.electorate.size());
  int yes = v.yes, cast = static_cast<int>(v.voted.size());
  Event e;
  e.seq = s.version + 1;
  e.at = now;
  e.actor = actor;
  e.on_behalf_of = cmd.on_behalf_of;
  e.action = t.action;
  e.from = s.state;
  e.note = cmd.note;
  bool all_in = false;
  if (t.kind == TransitionKind::kVote) {
    if (!contains(v.electorate, user.id))
      return refuse(ErrorCode::kNotPermitted, "not_permitted", user.key,
                    fmt::format("'{}' không phải thành viên Hội đồng được bỏ phiếu cho hồ sơ này", user.key));
    if (contains(v.voted, user.id))
      return refuse(ErrorCode::kRefused, "already_voted", user.key,
                    fmt::format("'{}' đã bỏ phiếu cho hồ sơ này", user.key));
    if (cmd.ballot == Ballot::kNone)
      return refuse(ErrorCode::kInvalidInput, "invalid_input", "ballot",
                    "Cần chọn phiếu: --ballot yes|no|abstain");
    e.type = EventType::kVoteCast;
    e.ballot = cmd.ballot;
    yes += cmd.ballot == Ballot::kYes;
    ++cast;
    all_in = cast == members;
  } else {
    e.type = EventType::kVoteClosed;
  }
  const int quorum = ceil_percent(rule.quorum_percent, members);
  std::optional<StateId> outcome;
  if (!rule.denominator_present) {
    const int needed = ceil_percent(rule.threshold_percent, members);
    if (yes >= needed && cast >= quorum)
      outcome = rule.pass;
    else if (yes + (members - cast) < needed)
      outcome = rule.fail;
  }
  if (!outcome && (all_in || t.kind == TransitionKind::kCloseVote)) {
    if (cast < quorum)
      return refuse(ErrorCode::kRefused, "quorum_not_met", def.state(s.state).key,
                    fmt::format("Chưa đủ số thành viên tối thiểu: {} phiếu / cần {}", cast, quorum));
    const int denominator = rule.denominator_present ? cast : members;
    outcome =
        yes >= ceil_percent(rule.threshold_percent, denominator) && denominator > 0 ? rule.pass : rule.fail;
  }
  if (auto r = enter_state(def, dir, s, outcome.value_or(s.state), e)) return *r;
  if (outcome) e.effects = *outcome == rule.pass ? rule.pass_effects : rule.fail_effects;
  return Decision{{std::move(e)}};
}

}  // namespace

Decided decide_act(const Definition& def, const Directory& dir, const DossierState& s, const ActCommand& cmd,
                   UserId user_id, Timestamp now) {
  const State& here = def.state(s.state);
  // Acting for another: every check below is the delegator's (their roles, their org).
  auto principal = principal_of(dir, user_id, cmd.on_behalf_of, now);
  if (auto* r = std::get_if<Refusal>(&principal)) return *r;
  const auto& [acting, for_user, who] = std::get<Principal>(principal);
  const User& user = *for_user;
  if (cmd.expected_version && *cmd.expected_version != s.version)
    return refuse(ErrorCode::kVersionConflict, "version_conflict", std::to_string(s.version),
                  fmt::format("Hồ sơ {} đã thay đổi: phiên bản hiện tại là {}, lệnh dựa trên phiên bản {}",
                              s.id, s.version, *cmd.expected_version));
  if (s.closed)
    return refuse(ErrorCode::kRefused, "dossier_closed", here.key,
                  fmt::format("Hồ sơ {} đã kết thúc ở bước '{}'; không thể thao tác thêm", s.id, here.title));
  if (now < s.updated_at)
    return refuse(ErrorCode::kRefused, "clock_behind", "",
                  "Thời điểm thao tác sớm hơn sự kiện trước đó của hồ sơ; không được ghi lùi thời gian");
  const Award& award = def.award(s.award);
  const Entry entry = entry_of(dir, s.origin);
  const Transition* t = nullptr;
  for (TransitionId id : def.candidates(s.state, cmd.action)) {
    const Transition& c = def.transition(id);
    if (c.when.matches(award, entry, dir.org(s.origin).kind)) {
      t = &c;
      break;
    }
  }
  const std::string& action = cmd.action.valid() ? def.action_name(cmd.action) : std::string();
  if (!t)
    return refuse(ErrorCode::kRefused, "no_such_action", action,
                  fmt::format("Thao tác '{}' không áp dụng cho hồ sơ ở bước '{}'", action, here.title));
  auto role = acting_role(user, t->roles_mask);
  const OrgId required_org = t->at == Relation::kHolder ? s.holder : s.origin;
  if (!role || user.org != required_org)
    return refuse(ErrorCode::kNotPermitted, "not_permitted", action,
                  fmt::format("{} không có quyền '{}' ở bước '{}': cần vai trò {} tại '{}'", who, action,
                              here.title, roles_text(t->roles_mask), dir.org(required_org).name));
  // A council member's ballot is their own (Luật Thi đua, khen thưởng: the council votes in person).
  if (t->kind == TransitionKind::kVote && cmd.on_behalf_of.valid())
    return refuse(
        ErrorCode::kNotPermitted, "vote_not_delegable", action,
        fmt::format("Phiếu bầu của thành viên Hội đồng không được bỏ thay: {} không bỏ phiếu được", who));
  if (auto r = check_note(cmd.note)) return *r;
  if (t->kind == TransitionKind::kVote || t->kind == TransitionKind::kCloseVote) {
    if (!cmd.fields.empty() || !cmd.documents.empty())
      return refuse(ErrorCode::kInvalidInput, "field_not_accepted", action,
                    fmt::format("Thao tác '{}' không nhận thông tin hay tài liệu kèm theo", action));
    if (t->kind == TransitionKind::kCloseVote && cmd.ballot != Ballot::kNone)
      return refuse(ErrorCode::kInvalidInput, "invalid_input", "ballot",
                    "Kết thúc bỏ phiếu không kèm phiếu bầu; không dùng --ballot");
    return decide_vote(def, dir, s, *t, cmd, user, Actor{acting->id, *role, user.org}, now);
  }
  if (cmd.ballot != Ballot::kNone)
    return refuse(ErrorCode::kInvalidInput, "invalid_input", "ballot",
                  fmt::format("Thao tác '{}' không phải bỏ phiếu; không dùng --ballot", action));
  if (t->note_required && cmd.note.empty())
    return refuse(ErrorCode::kRefused, "note_required", action,
                  fmt::format("Thao tác '{}' cần ghi rõ lý do (--note)", t->title));
  for (const auto& c : cmd.fields) {
    const bool accepted =
        t->accepts_all ||
        std::find(t->accepts_fields.begin(), t->accepts_fields.end(), c.field) != t->accepts_fields.end() ||
        std::find(t->requires_fields.begin(), t->requires_fields.end(), c.field) != t->requires_fields.end();
    if (!accepted)
      return refuse(ErrorCode::kInvalidInput, "field_not_accepted", def.field(c.field).key,
                    fmt::format("Thao tác '{}' không cho phép cập nhật thông tin '{}'", action,
                                def.field(c.field).key));
  }
  if (auto r = check_dates(def, cmd.fields, now)) return *r;
  // Fields as they will be after this action (copied only when the action changes them).
  const bool changes = !cmd.fields.empty() || !t->set.empty();
  std::vector<Value> updated;
  if (changes) {
    updated = s.fields;
    for (const auto& c : cmd.fields) updated[c.field.value] = c.value;
    for (const auto& [f, v] : t->set) updated[f.value] = v;
  }
  const std::vector<Value>& fields = changes ? updated : s.fields;
  for (FieldId f : t->requires_fields)
    if (!fields[f.value].present())
      return refuse(ErrorCode::kRefused, "field_missing", def.field(f).key,
                    fmt::format("Thao tác '{}' cần thông tin '{}' ({})", t->title, def.field(f).label,
                                def.field(f).key));
  auto missing_doc = [&](DocKindId k) -> std::optional<Refusal> {
    if (has_document(s.documents, cmd.documents, k)) return std::nullopt;
    return refuse(
        ErrorCode::kRefused, "document_missing", def.document(k).key,
        fmt::format("Hồ sơ thiếu tài liệu bắt buộc: {} ({})", def.document(k).name, def.document(k).key));
  };
  for (DocKindId k : t->requires_docs)
    if (auto r = missing_doc(k)) return *r;
  if (t->award_documents)
    for (DocKindId k : award.required_docs)
      if (auto r = missing_doc(k)) return *r;
  const Date today = vietnam_date(now);
  if (!t->guards.empty())
    if (auto r = check_clauses(def, t->guards, fields, today)) return *r;
  // Eligibility is judged as of the first submission (DOMAIN §5: the rules in force when submitted).
  if (t->eligibility)
    if (auto r = check_clauses(def, def.eligibility(s.award), fields,
                               s.submitted_at ? vietnam_date(*s.submitted_at) : today))
      return *r;

  Event e;
  e.type = event_type_for(t->kind);
  e.seq = s.version + 1;
  e.at = now;
  e.actor = Actor{acting->id, *role, user.org};
  e.on_behalf_of = cmd.on_behalf_of;
  e.action = t->action;
  e.from = s.state;
  e.note = cmd.note;
  e.changes = cmd.fields;
  for (const auto& [f, v] : t->set) e.changes.push_back(FieldChange{f, v});
  e.documents = cmd.documents;
  e.effects = t->effects;
  if (auto r = enter_state(def, dir, s, t->to, e)) return *r;
  return Decision{{std::move(e)}};
}

Status apply_event(const Definition& def, DossierState& s, const Event& e) {
  auto fail = [&](std::string why) {
    return Status(
        make_error(ErrorCode::kVerifyFailed, fmt::format("dossier {} event {}: {}", s.id, e.seq, why)));
  };
  if (e.seq != s.version + 1) return fail(fmt::format("sequence {} follows version {}", e.seq, s.version));
  if (!e.to.valid() || e.to.value >= def.states().size()) return fail("unknown target state");
  for (const auto& c : e.changes) {
    if (!c.field.valid() || c.field.value >= def.fields().size()) return fail("unknown field");
    if (dated_after(def.field(c.field).spec, c.value, vietnam_date(e.at)))
      return fail(fmt::format("field '{}' dated after the event", def.field(c.field).key));
  }
  if (s.version == 0 && e.type != EventType::kDossierCreated)
    return fail("the first event is not DossierCreated");
  if (e.on_behalf_of.valid()) {
    if (!e.actor.user.valid()) return fail("the system acts on no one's behalf");
    if (e.on_behalf_of == e.actor.user) return fail("a user acting on their own behalf");
    if (e.type == EventType::kVoteCast) return fail("a ballot cast on another's behalf");
  }
  if (is_notification_event(e.type)) {
    // Evidence of what became of a notice; allowed after the dossier closed (the decision is announced then).
    if (s.version == 0) return fail("the first event is not DossierCreated");
    if (e.from != s.state || e.to != s.state || e.holder != s.holder)
      return fail("a notification event does not move the dossier");
    if (!e.delivery) return fail("a notification event names no notification");
    if (!e.delivery->left_out.empty() && e.type != EventType::kNotificationDelivered)
      return fail("recipients left out recorded for a notice that was not delivered");
    if (e.at < s.updated_at) return fail("event is older than the previous event");
    s.version = e.seq;
    s.updated_at = e.at;
    return Status::Ok();
  }
  if (e.type == EventType::kTimerFired) {
    // Recorded by the system: the dossier stays where it is; only its timers and clocks change.
    if (s.version == 0) return fail("the first event is not DossierCreated");
    if (s.closed) return fail("event after the dossier closed");
    if (e.from != s.state) return fail("a fired timer leaves another state than the dossier's");
    if (e.to != s.state || e.action.valid()) {
      // It moves the dossier: only along a timeout transition of that timer, from this state.
      const bool declared = std::any_of(def.transitions().begin(), def.transitions().end(), [&](const Transition& t) {
        return t.kind == TransitionKind::kTimeout && t.action == e.action && t.to == e.to && t.timer == e.timer &&
               std::find(t.from.begin(), t.from.end(), s.state) != t.from.end();
      });
      if (!declared) return fail(fmt::format("no timeout transition of timer '{}' to that state", e.timer));
    } else if (e.holder != s.holder) {
      return fail("a fired timer does not change the holder");
    }
    if (e.at < s.updated_at) return fail("event is older than the previous event");
    auto pending = std::find_if(s.timers.begin(), s.timers.end(),
                                [&](const PendingTimer& t) { return t.name == e.timer; });
    if (e.timer.empty() || pending == s.timers.end())
      return fail(fmt::format("timer '{}' was not pending", e.timer));
    if (e.at < pending->due) return fail(fmt::format("timer '{}' fired before it was due", e.timer));
    if (e.timers) s.timers = *e.timers;
    if (e.clocks) s.clocks = *e.clocks;
    if (e.holder != s.holder) s.previous_holder = s.holder;
    s.state = e.to;
    s.holder = e.holder;
    s.closed = def.state(e.to).terminal;
    s.version = e.seq;
    s.updated_at = e.at;
    return Status::Ok();
  }
  if (e.type == EventType::kDossierCreated) {
    if (s.version != 0) return fail("DossierCreated after the first event");
    if (e.to != def.initial()) return fail("a dossier must start in the initial state");
    if (!def.serves(e.award)) return fail("award not served by the definition");
    s.award = e.award;
    s.origin = e.origin;
    s.created_by = e.actor.user;
    s.created_at = e.at;
    s.fields.assign(def.fields().size(), Value{});
  } else {
    if (s.closed) return fail("event after the dossier closed");
    if (e.from != s.state)
      return fail(fmt::format("event leaves '{}' but the dossier is in '{}'",
                              e.from.valid() ? def.state(e.from).key : "?", def.state(s.state).key));
    bool known = false;
    for (TransitionId id : def.candidates(s.state, e.action)) {
      const Transition& t = def.transition(id);
      if (event_type_for(t.kind) != e.type) continue;
      if (t.kind == TransitionKind::kVote || t.kind == TransitionKind::kCloseVote) {
        const VoteRule& rule = *def.state(s.state).vote;
        known = e.to == s.state || e.to == rule.pass || e.to == rule.fail;
      } else {
        known = t.to == e.to;
      }
      if (known) break;
    }
    if (!known)
      return fail(fmt::format(
          "no transition '{}' from '{}' to '{}' in the definition",
          e.action.valid() && e.action.value < def.actions().size() ? def.action_name(e.action) : "?",
          def.state(s.state).key, def.state(e.to).key));
    if (e.at < s.updated_at) return fail("event is older than the previous event");
  }
  for (const auto& c : e.changes) s.fields[c.field.value] = c.value;
  s.documents.insert(s.documents.end(), e.documents.begin(), e.documents.end());
  if (e.type == EventType::kDossierSubmitted && !s.submitted_at) s.submitted_at = e.at;
  if (e.type == EventType::kVoteCast) {
    s.vote.voted.push_back(e.actor.user);
    s.vote.yes += e.ballot == Ballot::kYes;
    s.vote.no += e.ballot == Ballot::kNo;
    s.vote.abstain += e.ballot == Ballot::kAbstain;
  }
  if (e.to != s.state && def.state(e.to).vote) s.vote = VoteTally{e.electorate, {}, 0, 0, 0};
  if (e.holder != s.holder) s.previous_holder = s.holder;
  if (e.timers) s.timers = *e.timers;
  if (e.clocks) s.clocks = *e.clocks;
  s.state = e.to;
  s.holder = e.holder;
  s.closed = def.state(e.to).terminal;
  s.version = e.seq;
  s.updated_at = e.at;
  return Status::Ok();
}

std::vector<ActionId> available_actions(const Definition& def, const Directory& dir, const DossierState& s,
                                        UserId user_id, bool by_delegate) {
  std::vector<ActionId> out;
  if (s.closed) return out;
  const User& user = dir.user(user_id);
  if (!user.active) return out;
  const Award& award = def.award(s.award);
  const Entry entry = entry_of(dir, s.origin);
  for (std::size_t a = 0; a < def.actions().size(); ++a) {
    const ActionId action{static_cast<std::uint16_t>(a)};
    for (TransitionId id : def.candidates(s.state, action)) {
      const Transition& t = def.transition(id);
      if (!t.when.matches(award, entry, dir.org(s.origin).kind)) continue;
      if (!acting_role(user, t.roles_mask)) break;
      if (user.org != (t.at == Relation::kHolder ? s.holder : s.origin)) break;
      if (t.kind == TransitionKind::kVote &&
          (by_delegate || !contains(s.vote.electorate, user.id) || contains(s.vote.voted, user.id)))
        break;
      out.push_back(action);
      break;
    }
  }
  return out;
}

}  // namespace hoso
