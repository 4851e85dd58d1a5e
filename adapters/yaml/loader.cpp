#include "adapters/yaml/loader.hpp"

#include "adapters/yaml/reader.hpp"
#include "engine/dossier.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>

namespace hoso::yaml {

namespace {

constexpr std::uintmax_t kMaxFileBytes = 16u * 1024u * 1024u;

using namespace detail;

// ---- directory ---------------------------------------------------------------------------------

void read_orgs(Reader& r, const YAML::Node& root, std::vector<OrgSource>& out) {
  const MapView top = r.fixed(root, "the orgs file", {"orgs"}, {"orgs"});
  const Entry* list = top.find("orgs");
  if (!list) return;
  if (!list->value.IsSequence()) {
    r.error(r.at(*list), "'orgs' must be a list of orgs");
    return;
  }
  if (list->value.size() == 0)
    r.error(r.at(*list), "'orgs' is empty: the tree needs at least its central root");
  for (const auto& item : list->value) {
    if (!item.IsMap()) {
      r.error(r.at(item, r.at(*list)), "each org must be a map with keys 'id', 'name', 'kind' and 'parent'");
      continue;
    }
    const std::string ctx = Reader::named(item, "org", "id");
    const std::size_t before = r.count();
    const MapView m = r.fixed(item, ctx, {"id", "name", "kind", "parent"}, {"id", "name", "kind"});
    OrgSource o;
    o.loc = m.loc;
    r.str(m, "id", o.key);
    r.str(m, "name", o.name);
    r.str(m, "kind", o.kind);
    if (const Entry* p = m.find("parent")) r.str(*p, o.parent);
    if (r.count() == before) out.push_back(std::move(o));
  }
}

void read_delegates(Reader& r, const Entry& list, const std::string& user_ctx,
                    std::vector<DelegationSource>& out) {
  if (!list.value.IsSequence()) {
    r.error(r.at(list),
            fmt::format("{}: 'delegates' must be a list of {{user, from, until, reason}}", user_ctx));
    return;
  }
  for (const auto& item : list.value) {
    if (!item.IsMap()) {
      r.error(r.at(item, r.at(list)),
              fmt::format("{}: each delegate must be a map with keys 'user', 'from', 'until' and 'reason'",
                          user_ctx));
      continue;
    }
    const std::string ctx = fmt::format("{}, {}", user_ctx, Reader::named(item, "delegate", "user"));
    const MapView m = r.fixed(item, ctx, {"user", "from", "until", "reason"}, {"user", "from", "until"});
    DelegationSource d;
    d.loc = m.loc;
    r.str(m, "user", d.user);
    r.str(m, "from", d.from);
    r.str(m, "until", d.until);
    if (const Entry* x = m.find("reason")) r.str(*x, d.reason);
    out.push_back(std::move(d));
  }
}

void read_users(Reader& r, const YAML::Node& root, std::vector<UserSource>& out) {
  const MapView top = r.fixed(root, "the users file", {"users"}, {"users"});
  const Entry* list = top.find("users");
  if (!list) return;
  if (!list->value.IsSequence()) {
    r.error(r.at(*list), "'users' must be a list of users");
    return;
  }
  for (const auto& item : list->value) {
    if (!item.IsMap()) {
      r.error(r.at(item, r.at(*list)),
              "each user must be a map with keys 'id', 'name', 'email', 'org' and 'roles'");
      continue;
    }
    const std::string ctx = Reader::named(item, "user", "id");
    const std::size_t before = r.count();
    const MapView m = r.fixed(item, ctx, {"id", "name", "email", "org", "roles", "active", "delegates"},
                              {"id", "name", "email", "org", "roles"});
    UserSource u;
    u.loc = m.loc;
    r.str(m, "id", u.key);
    r.str(m, "name", u.name);
    r.str(m, "email", u.email);
    r.str(m, "org", u.org);
    r.str_list(m, "roles", u.roles);
    if (const Entry* x = m.find("active")) r.boolean(*x, u.active);
    if (const Entry* x = m.find("delegates")) read_delegates(r, *x, ctx, u.delegates);
    if (r.count() == before) out.push_back(std::move(u));
  }
}

// A date written YYYY-MM-DD that exists in the calendar.
std::optional<Date> parse_iso_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  return parse_date(s);
}

bool valid_key(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// local@domain: local of [A-Za-z0-9._%+-] without leading, trailing or doubled dots; domain of at
// least two dot-separated labels of [A-Za-z0-9-], no label starting or ending with '-'.
bool valid_email(std::string_view s) {
  const std::size_t at = s.find('@');
  if (at == kNpos || at == 0 || s.find('@', at + 1) != kNpos) return false;
  const std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  for (char c : local)
    if (!alnum(c) && c != '.' && c != '_' && c != '%' && c != '+' && c != '-') return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != kNpos) return false;
  if (domain.empty()) return false;
  int labels = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = domain.find('.', start);
    const std::string_view label = domain.substr(start, dot == kNpos ? kNpos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!alnum(c) && c != '-') return false;
    ++labels;
    if (dot == kNpos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

std::string all_roles() {
  std::string out;
  for (int i = 0; i < kRoleCount; ++i) {
    if (i) out += ", ";
    out += role_name(static_cast<Role>(i));
  }
  return out;
}

// The kind an org's parent must have (FORMAT.md: agencies are direct children of their level
// node); nullopt when unconstrained (the root; units, which hang under communes, provinces or
// departments).
std::optional<OrgKind> required_parent_kind(OrgKind k) {
  switch (k) {
    case OrgKind::kMinistry:
    case OrgKind::kCentralEmulation:
    case OrgKind::kGovernmentOffice:
    case OrgKind::kPresidentOffice:
    case OrgKind::kProvince:
      return OrgKind::kCentral;
    case OrgKind::kProvincePolice:
    case OrgKind::kHomeAffairs:
    case OrgKind::kProvincePeoplesCommittee:
    case OrgKind::kDepartment:
    case OrgKind::kCommune:
      return OrgKind::kProvince;
    case OrgKind::kCommunePolice:
    case OrgKind::kCommuneCulture:
    case OrgKind::kCommunePeoplesCommittee:
      return OrgKind::kCommune;
    case OrgKind::kCentral:
    case OrgKind::kUnit:
      return std::nullopt;
  }
  return std::nullopt;
}

SourceLoc or_else(const SourceLoc& a, const SourceLoc& b) { return a.line > 0 ? a : b; }

// ---- catalogue -----------------------------------------------------------------------------------

void read_catalogue(Reader& r, const YAML::Node& root, CatalogueSpec& out) {
  const MapView top =
      r.fixed(root, "the award catalogue", {"documents", "awards", "deadlines"}, {"documents", "awards"});
  if (const Entry* docs = top.find("documents")) {
    if (!docs->value.IsSequence()) {
      r.error(r.at(*docs), "'documents' must be a list of document kinds");
    } else {
      for (const auto& item : docs->value) {
        if (!item.IsMap()) {
          r.error(r.at(item, r.at(*docs)), "each document kind must be a map with keys 'id' and 'name'");
          continue;
        }
        const MapView m =
            r.fixed(item, Reader::named(item, "document kind", "id"), {"id", "name"}, {"id", "name"});
        DocKindSpec d;
        r.str(m, "id", d.key);
        r.str(m, "name", d.name);
        out.documents.push_back(std::move(d));
      }
    }
  }
  if (const Entry* awards = top.find("awards")) {
    if (!awards->value.IsSequence()) {
      r.error(r.at(*awards), "'awards' must be a list of awards");
    } else {
      for (const auto& item : awards->value) {
        if (!item.IsMap()) {
          r.error(r.at(item, r.at(*awards)), "each award must be a map");
          continue;
        }
        const MapView m = r.fixed(item, Reader::named(item, "award", "id"),
                                  {"id", "name", "authority", "round", "required_documents", "legal_basis",
                                   "effective_from", "effective_to"},
                                  {"id", "name", "authority"});
        AwardSpec a;
        a.loc = m.loc;
        r.str(m, "id", a.key);
        r.str(m, "name", a.name);
        r.str(m, "authority", a.authority);
        r.str(m, "round", a.round);
        r.str(m, "legal_basis", a.legal_basis);
        r.str(m, "effective_from", a.effective_from);
        r.str(m, "effective_to", a.effective_to);
        r.str_list(m, "required_documents", a.required_docs);
        out.awards.push_back(std::move(a));
      }
    }
  }
  if (const Entry* deadlines = top.find("deadlines")) {
    if (!deadlines->value.IsSequence()) {
      r.error(r.at(*deadlines), "'deadlines' must be a list of processing time limits");
      return;
    }
    for (const auto& item : deadlines->value) {
      if (!item.IsMap()) {
        r.error(r.at(item, r.at(*deadlines)), "each deadline must be a map");
        continue;
      }
      const MapView m = r.fixed(item, Reader::named(item, "deadline", "id"),
                                {"id", "levels", "awards", "working_days", "remind_before", "on_resume",
                                 "escalate_to", "legal_basis", "effective_from", "effective_to"},
                                {"id", "levels", "working_days", "legal_basis"});
      DeadlineSpec d;
      d.loc = m.loc;
      d.remind_before = Located<std::int64_t>{0, m.loc};
      r.str(m, "id", d.id);
      r.str_list(m, "levels", d.levels);
      if (const Entry* a = m.find("awards"); a && !(a->value.IsScalar() && a->value.Scalar() == "all"))
        r.str_list(m, "awards", d.awards);
      if (const Entry* x = m.find("working_days")) r.integer(*x, d.working_days);
      if (const Entry* x = m.find("remind_before")) r.integer(*x, d.remind_before);
      r.str(m, "on_resume", d.on_resume);
      if (const Entry* x = m.find("escalate_to")) {
        if (!x->value.IsMap()) {
          r.error(r.at(*x), "'escalate_to' must be a map {of, within}");
        } else {
          const MapView e = r.fixed(x->value, "escalate_to", {"of", "within"}, {"of", "within"});
          r.str(e, "of", d.escalate_of);
          r.str(e, "within", d.escalate_within);
        }
      }
      r.str(m, "legal_basis", d.legal_basis);
      r.str(m, "effective_from", d.effective_from);
      r.str(m, "effective_to", d.effective_to);
      out.deadlines.push_back(std::move(d));
    }
  }
}

// ---- workflow ------------------------------------------------------------------------------------

void read_clause(Reader& r, const YAML::Node& item, const SourceLoc& fallback, std::string_view what,
                 std::vector<ClauseSpec>& out) {
  if (!item.IsMap()) {
    r.error(r.at(item, fallback),
            fmt::format("each {} must be a map with keys 'id', 'expr', 'message' and optionally 'applies_if'",
                        what));
    return;
  }
  const MapView m = r.fixed(item, Reader::named(item, what, "id"), {"id", "expr", "message", "applies_if"},
                            {"id", "expr", "message"});
  ClauseSpec c;
  c.loc = m.loc;
  r.str(m, "id", c.id);
  if (const Entry* e = m.find("expr"); e && r.str(*e, c.expr)) c.expr.loc = r.text_start(*e);
  if (const Entry* e = m.find("applies_if"); e && r.str(*e, c.applies_if))
    c.applies_if.loc = r.text_start(*e);
  r.str(m, "message", c.message);
  out.push_back(std::move(c));
}

void read_clauses(Reader& r, const Entry& e, std::string_view what, std::vector<ClauseSpec>& out) {
  if (!e.value.IsSequence()) {
    r.error(r.at(e), fmt::format("'{}' must be a list of clauses {{id, expr, message}}", e.name));
    return;
  }
  for (const auto& item : e.value) read_clause(r, item, r.at(e), what, out);
}

void read_fields(Reader& r, const Entry& e, std::vector<FieldDeclSpec>& out) {
  if (!e.value.IsMap()) {
    r.error(r.at(e), "'fields' must be a map of field name to declaration");
    return;
  }
  for (const auto& f : r.entries(e.value, "'fields'").entries) {
    const std::string ctx = fmt::format("field '{}'", f.name);
    FieldDeclSpec d;
    d.key = Str{f.name, r.at(f.key)};
    d.loc = d.key.loc;
    if (!f.value.IsMap()) {
      r.error(r.at(f), fmt::format("{} must be a map, e.g. {{type: text, label: \"...\"}}", ctx));
      continue;
    }
    const MapView m =
        r.fixed(f.value, ctx, {"type", "label", "required", "values", "min", "max", "max_length", "not_after"},
                {"type"});
    r.str(m, "type", d.type);
    r.str(m, "label", d.label);
    r.str_list(m, "values", d.values);
    if (const Entry* x = m.find("required")) r.boolean(*x, d.required);
    Located<std::int64_t> v;
    if (const Entry* x = m.find("min"); x && r.integer(*x, v)) d.min = v;
    if (const Entry* x = m.find("max"); x && r.integer(*x, v)) d.max = v;
    if (const Entry* x = m.find("max_length"); x && r.integer(*x, v)) d.max_length = v;
    if (m.find("not_after")) {
      Str after;
      r.str(m, "not_after", after);
      d.not_after = std::move(after);
    }
    out.push_back(std::move(d));
  }
}

void read_holder(Reader& r, const Entry& e, StateSpec& s) {
  HolderSpec h;
  h.loc = r.at(e);
  if (e.value.IsScalar()) {
    if (e.value.Scalar() != "origin") {
      r.error(r.at(e),
              fmt::format("'holder' must be 'origin' or a map {{of, within}}, not '{}'", e.value.Scalar()));
      return;
    }
    h.of = Str{"origin", h.loc};
    h.within = Str{"", h.loc};
    s.holder = std::move(h);
    return;
  }
  if (!e.value.IsMap()) {
    r.error(r.at(e), "'holder' must be 'origin' or a map {of, within}");
    return;
  }
  const MapView m =
      r.fixed(e.value, fmt::format("holder of state '{}'", s.key.value), {"of", "within"}, {"of"});
  r.str(m, "of", h.of);
  h.within = Str{"", h.loc};
  r.str(m, "within", h.within);
  s.holder = std::move(h);
}

void read_effect(Reader& r, const YAML::Node& item, const SourceLoc& fallback, std::vector<EffectSpec>& out);

void read_vote(Reader& r, const Entry& e, StateSpec& s) {
  if (!e.value.IsMap()) {
    r.error(r.at(e), "'vote' must be a map");
    return;
  }
  const MapView m = r.fixed(e.value, fmt::format("vote of state '{}'", s.key.value),
                            {"role", "threshold_percent", "denominator", "quorum_percent", "pass", "fail",
                             "close_role", "pass_effects", "fail_effects"},
                            {"role", "threshold_percent", "pass", "fail"});
  VoteSpec v;
  v.loc = m.loc;
  v.denominator = Str{"members", v.loc};
  v.quorum_percent = Located<std::int64_t>{0, v.loc};
  v.close_role = Str{"clerk", v.loc};
  r.str(m, "role", v.role);
  if (const Entry* x = m.find("threshold_percent")) r.integer(*x, v.threshold_percent);
  r.str(m, "denominator", v.denominator);
  if (const Entry* x = m.find("quorum_percent")) r.integer(*x, v.quorum_percent);
  r.str(m, "pass", v.pass);
  r.str(m, "fail", v.fail);
  r.str(m, "close_role", v.close_role);
  for (auto [key, list] :
       {std::pair{"pass_effects", &v.pass_effects}, std::pair{"fail_effects", &v.fail_effects}}) {
    const Entry* x = m.find(key);
    if (!x) continue;
    if (!x->value.IsSequence())
      r.error(r.at(*x), fmt::format("'{}' must be a list of effects", key));
    else
      for (const auto& item : x->value) read_effect(r, item, r.at(*x), *list);
  }
  s.vote = std::move(v);
}

void read_states(Reader& r, const Entry& e, std::vector<StateSpec>& out) {
  if (!e.value.IsMap()) {
    r.error(r.at(e), "'states' must be a map of state name to declaration");
    return;
  }
  for (const auto& st : r.entries(e.value, "'states'").entries) {
    const std::string ctx = fmt::format("state '{}'", st.name);
    StateSpec s;
    s.key = Str{st.name, r.at(st.key)};
    s.loc = s.key.loc;
    if (!st.value.IsMap()) {
      r.error(r.at(st), fmt::format("{} must be a map, e.g. {{title: \"...\", holder: origin}}", ctx));
      continue;
    }
    const MapView m =
        r.fixed(st.value, ctx, {"title", "initial", "terminal", "holder", "outcome", "vote", "overdue"}, {"title"});
    r.str(m, "title", s.title);
    r.str(m, "outcome", s.outcome);
    if (const Entry* x = m.find("initial")) r.boolean(*x, s.initial);
    if (const Entry* x = m.find("terminal")) r.boolean(*x, s.terminal);
    if (const Entry* x = m.find("overdue")) r.boolean(*x, s.overdue);
    if (const Entry* x = m.find("holder")) read_holder(r, *x, s);
    if (const Entry* x = m.find("vote")) read_vote(r, *x, s);
    out.push_back(std::move(s));
  }
}

void read_effect(Reader& r, const YAML::Node& item, const SourceLoc& fallback, std::vector<EffectSpec>& out) {
  if (!item.IsMap()) {
    r.error(r.at(item, fallback),
            "each effect must be a map with one of 'notify', 'start_timer', 'cancel_timer', 'pause_timer'");
    return;
  }
  const MapView m =
      r.fixed(item, "effect",
              {"notify", "template", "start_timer", "after", "on", "hour", "cancel_timer", "pause_timer"}, {});
  EffectSpec x;
  x.loc = m.loc;
  const Entry* kind = nullptr;
  for (const char* k : {"notify", "start_timer", "cancel_timer", "pause_timer"}) {
    const Entry* e = m.find(k);
    if (!e) continue;
    if (kind) {
      r.error(r.at(e->key), fmt::format("an effect has exactly one of 'notify', 'start_timer', "
                                        "'cancel_timer', 'pause_timer': found both '{}' and '{}'",
                                        kind->name, e->name));
      return;
    }
    kind = e;
  }
  if (!kind) {
    r.error(m.loc, "an effect needs one of 'notify', 'start_timer', 'cancel_timer', 'pause_timer'");
    return;
  }
  x.kind = Str{kind->name, r.at(kind->key)};
  const Entry* tmpl = m.find("template");
  const Entry* after = m.find("after");
  if (kind->name == "notify") {
    r.str(*kind, x.to);
    if (!tmpl)
      r.error(m.loc, "missing key 'template' in notify effect");
    else
      r.str(*tmpl, x.template_);
  } else {
    r.str(*kind, x.timer);
    if (tmpl)
      r.error(r.at(tmpl->key),
              fmt::format("'template' is only allowed in a notify effect, not in {}", kind->name));
  }
  const Entry* on = m.find("on");
  const Entry* hour = m.find("hour");
  if (kind->name == "start_timer") {
    if (after && on)
      r.error(r.at(on->key), "a start_timer effect has 'after' or 'on', not both");
    else if (!after && !on)
      r.error(m.loc, "missing key 'after' (a duration) or 'on' (a date field) in start_timer effect");
    else if (after)
      r.str(*after, x.after);
    else
      r.str(*on, x.on);
    if (hour && !on)
      r.error(r.at(hour->key), "'hour' goes with 'on' (the hour of that day, Vietnam time)");
    else if (hour)
      r.integer(*hour, x.hour);
  } else {
    for (const Entry* e : {after, on, hour})
      if (e)
        r.error(r.at(e->key),
                fmt::format("'{}' is only allowed in a start_timer effect, not in {}", e->name, kind->name));
  }
  out.push_back(std::move(x));
}

void read_transition(Reader& r, const YAML::Node& item, const SourceLoc& fallback,
                     std::vector<TransitionSpec>& out) {
  if (!item.IsMap()) {
    r.error(r.at(item, fallback), "each transition must be a map");
    return;
  }
  const std::string ctx = Reader::named(item, "transition", "action");
  const MapView m = r.fixed(item, ctx,
                            {"action", "kind", "title", "from", "to", "when", "roles", "at",
                             "award_documents", "requires_documents", "requires_fields", "accepts_fields",
                             "eligibility", "guards", "set", "note_required", "effects", "timer"},
                            {"action", "kind", "from", "to"});
  TransitionSpec t;
  t.loc = m.loc;
  t.at = Str{"holder", t.loc};
  r.str(m, "action", t.action);
  r.str(m, "kind", t.kind);
  r.str(m, "timer", t.timer);
  r.str(m, "title", t.title);
  r.str(m, "to", t.to);
  r.str(m, "at", t.at);
  if (const Entry* e = m.find("from")) r.str_or_list(*e, t.from);
  if (const Entry* e = m.find("when")) {
    if (!e->value.IsMap()) {
      r.error(r.at(*e), "'when' must be a map with optional lists 'entry', 'authority', 'awards', 'origin'");
    } else {
      const MapView w =
          r.fixed(e->value, fmt::format("'when' of {}", ctx), {"entry", "authority", "awards", "origin"}, {});
      r.str_list(w, "entry", t.when.entry);
      r.str_list(w, "authority", t.when.authority);
      r.str_list(w, "awards", t.when.awards);
      r.str_list(w, "origin", t.when.origin);
    }
  }
  r.str_list(m, "roles", t.roles);
  if (const Entry* e = m.find("award_documents")) r.boolean(*e, t.award_documents);
  if (const Entry* e = m.find("eligibility")) r.boolean(*e, t.eligibility);
  r.str_list(m, "requires_documents", t.requires_docs);
  r.str_list(m, "requires_fields", t.requires_fields);
  if (const Entry* e = m.find("accepts_fields")) {
    if (e->value.IsScalar()) {
      if (e->value.Scalar() == "all")
        t.accepts_all = true;
      else
        r.error(r.at(*e), "'accepts_fields' must be 'all' or a list of strings");
    } else if (e->value.IsSequence()) {
      r.str_list(*e, t.accepts_fields);
    } else {
      r.error(r.at(*e), "'accepts_fields' must be 'all' or a list of strings");
    }
  }
  if (const Entry* e = m.find("note_required")) {
    bool b = false;
    if (r.boolean(*e, b)) t.note_required = b;
  }
  if (const Entry* e = m.find("guards")) read_clauses(r, *e, "guard", t.guards);
  if (const Entry* e = m.find("set")) {
    if (!e->value.IsMap()) {
      r.error(r.at(*e), "'set' must be a map of field name to literal value");
    } else {
      for (const auto& kv : r.entries(e->value, "'set'").entries) {
        if (!kv.value.IsScalar()) {
          r.error(r.at(kv),
                  fmt::format(
                      "the value of '{}' in 'set' must be a literal (a string, number, date or true/false)",
                      kv.name));
          continue;
        }
        t.set.emplace_back(Str{kv.name, r.at(kv.key)}, Str{kv.value.Scalar(), r.at(kv)});
      }
    }
  }
  if (const Entry* e = m.find("effects")) {
    if (!e->value.IsSequence())
      r.error(r.at(*e), "'effects' must be a list of effects");
    else
      for (const auto& x : e->value) read_effect(r, x, r.at(*e), t.effects);
  }
  out.push_back(std::move(t));
}

void read_workflow(Reader& r, const YAML::Node& root, WorkflowSpec& out) {
  const MapView top =
      r.fixed(root, "the workflow",
              {"workflow", "title", "awards", "origins", "create_roles", "fields", "states", "transitions",
               "eligibility", "on_create"},
              {"workflow", "title", "awards", "origins", "create_roles", "states", "transitions"});
  r.str(top, "workflow", out.name);
  r.str(top, "title", out.title);
  r.str_list(top, "awards", out.awards);
  r.str_list(top, "origins", out.origin_kinds);
  r.str_list(top, "create_roles", out.create_roles);
  if (const Entry* e = top.find("fields")) read_fields(r, *e, out.fields);
  if (const Entry* e = top.find("states")) read_states(r, *e, out.states);
  if (const Entry* e = top.find("transitions")) {
    if (!e->value.IsSequence())
      r.error(r.at(*e), "'transitions' must be a list of transitions");
    else
      for (const auto& item : e->value) read_transition(r, item, r.at(*e), out.transitions);
  }
  if (const Entry* e = top.find("on_create")) {
    if (!e->value.IsSequence())
      r.error(r.at(*e), "'on_create' must be a list of effects");
    else
      for (const auto& item : e->value) read_effect(r, item, r.at(*e), out.on_create);
  }
  if (const Entry* e = top.find("eligibility")) {
    if (!e->value.IsMap()) {
      r.error(r.at(*e), "'eligibility' must be a map of award to a list of clauses");
    } else {
      for (const auto& a : r.entries(e->value, "'eligibility'").entries) {
        std::vector<ClauseSpec> clauses;
        read_clauses(r, a, "eligibility clause", clauses);
        out.eligibility.emplace_back(Str{a.name, r.at(a.key)}, std::move(clauses));
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<std::string> read_text_file(const std::string& path) {
  try {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status))
      return make_error(ErrorCode::kNotFound, fmt::format("{}: no such file", path));
    if (!std::filesystem::is_regular_file(status))
      return make_error(ErrorCode::kInvalidInput, fmt::format("{}: not a regular file", path));
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > kMaxFileBytes)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("{}: file too large ({} bytes, at most {})", path, size, kMaxFileBytes));
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ErrorCode::kInternal, fmt::format("{}: cannot open for reading", path));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return make_error(ErrorCode::kInternal, fmt::format("{}: read error", path));
    if (text.size() > kMaxFileBytes)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("{}: file too large (at most {} bytes)", path, kMaxFileBytes));
    const std::size_t bad = first_invalid_utf8(text);
    if (bad != kNpos) {
      const SourceLoc loc = loc_of_offset(text, bad, path);
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("{}:{}:{}: {}", loc.file, loc.line, loc.col, utf8_message(text, bad)));
    }
    return text;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, fmt::format("{}: {}", path, e.what()));
  }
}

OrgSpec to_spec(const OrgSource& o) {
  return OrgSpec{o.key.value, o.name.value, o.kind.value, o.parent.value};
}

UserSpec to_spec(const UserSource& u) {
  UserSpec s{u.key.value, u.name.value, u.email.value, u.org.value, {}, u.active, {}};
  for (const auto& r : u.roles) s.roles.push_back(r.value);
  for (const auto& d : u.delegates)
    s.delegates.push_back(DelegationSpec{d.user.value, d.from.value, d.until.value, d.reason.value});
  return s;
}

std::vector<Diagnostic> parse_orgs(std::string_view text, const std::string& file, std::vector<OrgSpec>& out,
                                   std::vector<OrgSource>* located) {
  out.clear();
  if (located) located->clear();
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map with the key 'orgs'");
    if (!root) return;
    std::vector<OrgSource> src;
    read_orgs(r, *root, src);
    for (const auto& o : src) out.push_back(to_spec(o));
    if (located) *located = std::move(src);
  });
}

std::vector<Diagnostic> parse_users(std::string_view text, const std::string& file,
                                    std::vector<UserSpec>& out, std::vector<UserSource>* located) {
  out.clear();
  if (located) located->clear();
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map with the key 'users'");
    if (!root) return;
    std::vector<UserSource> src;
    read_users(r, *root, src);
    for (const auto& u : src) out.push_back(to_spec(u));
    if (located) *located = std::move(src);
  });
}

std::vector<Diagnostic> check_directory(const std::vector<OrgSource>& orgs,
                                        const std::vector<UserSource>& users) {
  std::vector<Diagnostic> diags;
  auto err = [&](const SourceLoc& loc, std::string msg) { diags.push_back(Diagnostic{loc, std::move(msg)}); };
  try {
    if (orgs.empty()) {
      err(SourceLoc{}, "no orgs: the tree needs at least its central root");
      return diags;
    }
    const std::size_t n = orgs.size();
    std::unordered_map<std::string, std::size_t> index;
    std::vector<std::optional<OrgKind>> kinds(n);
    for (std::size_t i = 0; i < n; ++i) {
      const OrgSource& o = orgs[i];
      const SourceLoc id_loc = or_else(o.key.loc, o.loc);
      if (o.key.value.empty()) {
        err(id_loc, "org id is empty");
      } else if (!valid_key(o.key.value)) {
        err(id_loc,
            fmt::format("org id '{}' may contain only lowercase ASCII letters, digits, '-', '.' and '_'",
                        o.key.value));
      }
      if (!o.key.value.empty()) {
        auto [it, fresh] = index.emplace(o.key.value, i);
        if (!fresh)
          err(id_loc, fmt::format("duplicate org id '{}' (first defined at line {})", o.key.value,
                                  orgs[it->second].key.loc.line));
      }
      if (blank(o.name.value))
        err(or_else(o.name.loc, o.loc), fmt::format("org '{}' has an empty name", o.key.value));
      kinds[i] = parse_org_kind(o.kind.value);
      if (!kinds[i])
        err(or_else(o.kind.loc, o.loc), fmt::format("org '{}': unknown kind '{}' (expected one of: {})",
                                                    o.key.value, o.kind.value, all_kinds()));
    }
    // Parents and roots.
    std::vector<std::optional<std::size_t>> parent(n);
    std::optional<std::size_t> root;
    bool any_root = false;
    for (std::size_t i = 0; i < n; ++i) {
      const OrgSource& o = orgs[i];
      if (o.parent.value.empty()) {
        any_root = true;
        if (kinds[i] && *kinds[i] != OrgKind::kCentral) {
          err(or_else(o.key.loc, o.loc),
              fmt::format("org '{}' has no parent: only the root, of kind central, may have none",
                          o.key.value));
        } else if (kinds[i]) {
          if (root)
            err(or_else(o.key.loc, o.loc),
                fmt::format("org '{}' is a second root (the root is '{}'): the tree has exactly one root",
                            o.key.value, orgs[*root].key.value));
          else
            root = i;
        }
        continue;
      }
      auto it = index.find(o.parent.value);
      if (it == index.end()) {
        err(or_else(o.parent.loc, o.loc),
            fmt::format("org '{}': unknown parent '{}'", o.key.value, o.parent.value));
        continue;
      }
      parent[i] = it->second;
      if (kinds[i] && *kinds[i] == OrgKind::kCentral)
        err(or_else(o.parent.loc, o.loc),
            fmt::format("org '{}' of kind central is the root and cannot have a parent", o.key.value));
    }
    if (!any_root)
      err(orgs[0].loc, "the org tree has no root: exactly one org, of kind central, must have no 'parent'");
    // Cycles: walk each parent chain once (0 = unseen, 1 = on the current path, 2 = done).
    std::vector<int> state(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::size_t> path;
      std::optional<std::size_t> cur = i;
      while (cur && state[*cur] == 0) {
        state[*cur] = 1;
        path.push_back(*cur);
        cur = parent[*cur];
      }
      if (cur && state[*cur] == 1) {
        const auto start = std::find(path.begin(), path.end(), *cur);
        std::string chain;
        for (auto p = start; p != path.end(); ++p) chain += orgs[*p].key.value + " → ";
        chain += orgs[*cur].key.value;
        const OrgSource& o = orgs[*cur];
        err(or_else(o.parent.loc, o.loc),
            fmt::format("org '{}': the parent chain has a cycle ({})", o.key.value, chain));
      }
      for (std::size_t p : path) state[p] = 2;
    }
    // Placement: agencies are direct children of their level node.
    for (std::size_t i = 0; i < n; ++i) {
      if (!kinds[i] || !parent[i] || !kinds[*parent[i]]) continue;
      const auto want = required_parent_kind(*kinds[i]);
      if (want && *kinds[*parent[i]] != *want) {
        const OrgSource& o = orgs[i];
        err(or_else(o.parent.loc, o.loc),
            fmt::format(
                "org '{}' of kind {} must be a direct child of an org of kind {} (its parent '{}' is {})",
                o.key.value, org_kind_name(*kinds[i]), org_kind_name(*want), o.parent.value,
                org_kind_name(*kinds[*parent[i]])));
      }
    }
    // Users.
    std::unordered_map<std::string, std::size_t> user_index;
    for (std::size_t i = 0; i < users.size(); ++i) {
      const UserSource& u = users[i];
      const SourceLoc id_loc = or_else(u.key.loc, u.loc);
      if (u.key.value.empty()) {
        err(id_loc, "user id is empty");
      } else {
        if (!valid_key(u.key.value))
          err(id_loc,
              fmt::format("user id '{}' may contain only lowercase ASCII letters, digits, '-', '.' and '_'",
                          u.key.value));
        if (u.key.value == kSystemActor)
          err(id_loc, fmt::format("user id '{}' is reserved for the system (fired timers, deliveries, opened "
                                  "obligations)",
                                  u.key.value));
        auto [it, fresh] = user_index.emplace(u.key.value, i);
        if (!fresh)
          err(id_loc, fmt::format("duplicate user id '{}' (first defined at line {})", u.key.value,
                                  users[it->second].key.loc.line));
      }
      if (blank(u.name.value))
        err(or_else(u.name.loc, u.loc), fmt::format("user '{}' has an empty name", u.key.value));
      if (!valid_email(u.email.value))
        err(or_else(u.email.loc, u.loc),
            fmt::format("user '{}': invalid email '{}'", u.key.value, u.email.value));
      if (!index.count(u.org.value))
        err(or_else(u.org.loc, u.loc), fmt::format("user '{}': unknown org '{}'", u.key.value, u.org.value));
      if (u.roles.empty()) err(u.loc, fmt::format("user '{}' has no roles", u.key.value));
      std::vector<Role> seen;
      for (const auto& role : u.roles) {
        const auto parsed = parse_role(role.value);
        if (!parsed) {
          err(or_else(role.loc, u.loc), fmt::format("user '{}': unknown role '{}' (expected one of: {})",
                                                    u.key.value, role.value, all_roles()));
        } else if (std::find(seen.begin(), seen.end(), *parsed) != seen.end()) {
          err(or_else(role.loc, u.loc),
              fmt::format("user '{}': role '{}' is listed twice", u.key.value, role.value));
        } else {
          seen.push_back(*parsed);
        }
      }
    }
    // Whether org `org` lies in the area org `deputy` serves: a unit, a department or a level node serves
    // its own subtree, an agency its level node's (agencies are direct children of it, checked above).
    auto within_area = [&](std::size_t org, std::size_t deputy) {
      const std::size_t area =
          kinds[deputy] && !serves_own_subtree(*kinds[deputy]) && parent[deputy] ? *parent[deputy] : deputy;
      std::optional<std::size_t> at = org;
      for (std::size_t steps = 0; at && steps <= n; ++steps, at = parent[*at])
        if (*at == area) return true;
      return false;
    };
    // Delegates, once every user id is known.
    for (const UserSource& u : users) {
      struct Period {
        std::string user;
        Date from, until;
        int line;
      };
      std::vector<Period> periods;
      for (std::size_t i = 0; i < u.delegates.size(); ++i) {
        const DelegationSource& g = u.delegates[i];
        auto at = [&](const Str& s) { return or_else(s.loc, g.loc); };
        auto field = [&](const char* name) {
          return fmt::format("user '{}': delegates[{}].{}", u.key.value, i, name);
        };
        bool known = true;
        if (!user_index.count(g.user.value)) {
          err(at(g.user), fmt::format("{}: unknown user '{}'", field("user"), g.user.value));
          known = false;
        } else if (g.user.value == u.key.value) {
          err(at(g.user), fmt::format("{}: a user cannot be their own delegate", field("user")));
          known = false;
        }
        const auto from = parse_iso_date(g.from.value), until = parse_iso_date(g.until.value);
        if (!from)
          err(at(g.from),
              fmt::format("{}: '{}' is not a date (expected YYYY-MM-DD)", field("from"), g.from.value));
        if (!until)
          err(at(g.until),
              fmt::format("{}: '{}' is not a date (expected YYYY-MM-DD)", field("until"), g.until.value));
        if (!from || !until) continue;
        if (*from > *until) {
          err(at(g.until), fmt::format("{}: {} is before from {} (the period must not end before it starts)",
                                       field("until"), g.until.value, g.from.value));
          continue;
        }
        if (!known) continue;
        // A delegate covers for a colleague: of the same org, or of an agency whose area holds the
        // delegator's org (the commune's clerk for a hamlet's) — never of some other area, which would act
        // (and read the inbox) where their own account may not.
        if (const auto from_org = index.find(u.org.value),
            to_org = index.find(users[user_index.at(g.user.value)].org.value);
            from_org != index.end() && to_org != index.end() &&
            !within_area(from_org->second, to_org->second)) {
          err(at(g.user),
              fmt::format("{}: '{}' (org '{}') may not act for a user of org '{}': a delegate belongs to the "
                          "same org, or to an agency whose area holds it",
                          field("user"), g.user.value, users[user_index.at(g.user.value)].org.value,
                          u.org.value));
          continue;
        }
        for (const Period& p : periods)
          if (p.user == g.user.value && p.from <= *until && *from <= p.until) {
            err(at(g.user), fmt::format("{}: '{}' is already a delegate for an overlapping period (line {})",
                                        field("user"), g.user.value, p.line));
            known = false;
            break;
          }
        if (known) periods.push_back(Period{g.user.value, *from, *until, g.loc.line});
      }
    }
  } catch (const std::exception& e) {
    err(SourceLoc{}, fmt::format("internal error while checking the directory: {}", e.what()));
  }
  return diags;
}

std::vector<Diagnostic> load_directory(std::string_view orgs_text, const std::string& orgs_file,
                                       std::string_view users_text, const std::string& users_file,
                                       std::vector<OrgSpec>& orgs, std::vector<UserSpec>& users) {
  std::vector<OrgSource> org_src;
  std::vector<UserSource> user_src;
  auto diags = parse_orgs(orgs_text, orgs_file, orgs, &org_src);
  auto more = parse_users(users_text, users_file, users, &user_src);
  diags.insert(diags.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  if (diags.empty()) diags = check_directory(org_src, user_src);
  return diags;
}

std::vector<Diagnostic> parse_catalogue(std::string_view text, const std::string& file, CatalogueSpec& out) {
  out = CatalogueSpec{};
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map with the keys 'documents' and 'awards'");
    if (root) read_catalogue(r, *root, out);
  });
}

std::vector<Diagnostic> parse_workflow(std::string_view text, const std::string& file, WorkflowSpec& out) {
  out = WorkflowSpec{};
  out.file = file;
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map starting with the key 'workflow'");
    if (root) read_workflow(r, *root, out);
  });
}

}  // namespace hoso::yaml
