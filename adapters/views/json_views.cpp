#include "adapters/views/json_views.hpp"

#include "engine/calendar.hpp"
#include "engine/core.hpp"
#include "engine/json_out.hpp"

namespace hoso::views {

json::value parse_json_or_string(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  return ec ? json::value(s) : v;
}

json::object event_json(const EventRecord& e) {
  json::value payload = parse_json_or_string(e.payload);
  json::object o{
      {"seq", e.seq},
      {"type", e.type},
      {"at", e.at},
      {"actor", json::object{{"user", e.actor_user}, {"role", e.actor_role}, {"org", e.actor_org}}},
      {"action", e.action},
      {"from", e.from_state},
      {"to", e.to_state},
      {"holder", e.holder},
      {"note", e.note},
      {"payload", payload},
      {"schema_version", e.schema_version},
      {"prev_hash", e.prev_hash},
      {"hash", e.hash}};
  // Whom the actor stood in for, at the top as well as in the hashed payload (absent when nobody).
  if (const auto* p = payload.if_object())
    if (const auto* b = p->if_contains("on_behalf_of"); b && b->is_string()) o["on_behalf_of"] = *b;
  return o;
}

void write_event_json(JsonOut& out, const EventRecord& e) {
  const std::string behalf = on_behalf_of(e);
  out.begin_object()
      .member("seq", e.seq)
      .member("type", e.type)
      .member("at", e.at)
      .key("actor")
      .begin_object()
      .member("user", e.actor_user)
      .member("role", e.actor_role)
      .member("org", e.actor_org)
      .end_object()
      .member("action", e.action)
      .member("from", e.from_state)
      .member("to", e.to_state)
      .member("holder", e.holder)
      .member("note", e.note)
      .key("payload");
  if (e.payload.size() >= 2 && e.payload.front() == '{' && e.payload.back() == '}')
    out.raw(e.payload);  // the codec's own compact JSON
  else
    out.raw(json::serialize(parse_json_or_string(e.payload)));
  out.member("schema_version", e.schema_version).member("prev_hash", e.prev_hash).member("hash", e.hash);
  if (!behalf.empty()) out.member("on_behalf_of", behalf);
  out.end_object();
}

std::string on_behalf_of(const EventRecord& e) {
  // Most events name nobody: their payloads are not parsed.
  if (find_in_json(e.payload, "\"on_behalf_of\"") == std::string::npos) return "";
  return on_behalf_of_in(e.payload);
}

std::string on_behalf_of_in(const std::string& json_text) {
  boost::system::error_code ec;
  json::value v = json::parse(json_text, ec);
  const auto* b = !ec && v.is_object() ? v.as_object().if_contains("on_behalf_of") : nullptr;
  return b && b->is_string() ? std::string(b->as_string()) : std::string();
}

// A stored UTC time shown in Vietnam time (as stored when it does not parse).
std::string vietnam_time(const std::string& utc) {
  auto t = parse_utc(utc);
  return t ? format_vietnam(*t) : utc;
}

std::string org_name(const Directory& dir, const std::string& key) {
  auto id = dir.find_org(key);
  return id ? dir.org(*id).name : key;
}

json::object dossier_json(const App& rt, const DossierView& v, const std::optional<UserId>& user,
                          bool by_delegate) {
  const Definition& def = *v.definition;
  const State& st = def.state(v.state.state);
  const Award& award = def.award(v.state.award);
  json::object o{{"id", v.record.id},
                 {"workflow", v.record.workflow},
                 {"definition_hash", v.record.definition_hash},
                 {"award", award.key},
                 {"award_name", award.name},
                 {"state", st.key},
                 {"state_title", st.title},
                 {"holder", v.record.holder},
                 {"holder_name", v.record.holder.empty() ? "" : org_name(rt.directory, v.record.holder)},
                 {"origin", v.record.origin},
                 {"origin_name", org_name(rt.directory, v.record.origin)},
                 {"status", v.record.closed ? "closed" : "open"},
                 {"outcome", st.outcome},
                 {"version", v.record.version},
                 {"overdue", v.overdue},
                 {"fields", parse_json_or_string(v.record.fields)},
                 {"documents", parse_json_or_string(v.record.documents)},
                 {"created_by", v.record.created_by},
                 {"created_at", v.record.created_at},
                 {"updated_at", v.record.updated_at},
                 {"submitted_at", v.record.submitted_at},
                 {"last_hash", v.record.last_hash}};
  if (st.vote) o["vote"] = parse_json_or_string(v.record.vote);
  // The legal clocks: the running one (the holder's processing limit) and any paused by a return.
  json::array clocks;
  for (const auto& k : v.state.clocks) {
    json::object ko{{"level", org_kind_name(k.level)},
                    {"rule", k.rule},
                    {"working_days", k.working_days},
                    {"status", k.running ? (k.overdue ? "overdue" : "running") : "paused"}};
    if (k.running) {
      ko["due"] = format_date(k.due);
      ko["due_end_utc"] = format_utc(end_of_day_utc(k.due));
    } else {
      ko["remaining_working_days"] = k.remaining;
    }
    for (const auto& r : def.deadlines())
      if (r.id == k.rule) ko["legal_basis"] = r.legal_basis;
    clocks.push_back(std::move(ko));
  }
  o["deadlines"] = std::move(clocks);
  if (user) {
    json::array actions;
    for (ActionId a : available_actions(def, rt.directory, v.state, *user, by_delegate))
      actions.push_back(json::string(def.action_name(a)));
    o["actions"] = std::move(actions);
  }
  return o;
}

json::object report_status_json(int year, const std::optional<std::string>& jurisdiction,
                                const std::vector<ReportStatusRow>& rows) {
  int counts[4] = {0, 0, 0, 0};
  json::array list;
  for (const auto& r : rows) {
    ++counts[static_cast<int>(r.standing)];
    list.push_back(json::object{{"id", r.id},
                                {"rule", r.rule},
                                {"report", r.report},
                                {"report_name", r.report_name},
                                {"jurisdiction", r.jurisdiction},
                                {"reporter", r.reporter},
                                {"reporter_name", r.reporter_name},
                                {"period", r.period},
                                {"deadline", format_date(r.deadline)},
                                {"late_from", format_utc(start_of_day_utc(r.due_day))},
                                {"receivers", r.receiver_names},
                                {"status", report_standing_name(r.standing)},
                                {"submitted_at", r.submitted_at ? json::value(format_utc(*r.submitted_at))
                                                                : json::value(nullptr)}});
  }
  json::object summary;
  for (auto s : {ReportStanding::kSubmitted, ReportStanding::kSubmittedLate, ReportStanding::kDue, ReportStanding::kLate})
    summary[report_standing_name(s)] = counts[static_cast<int>(s)];
  return json::object{{"year", year},
                      {"jurisdiction", jurisdiction ? json::value(*jurisdiction) : json::value(nullptr)},
                      {"counts", std::move(summary)},
                      {"obligations", std::move(list)}};
}

}  // namespace hoso::views
