#include "adapters/yaml/reports_loader.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <tuple>
#include <utility>

#include "adapters/yaml/reader.hpp"

namespace hoso::yaml {

namespace {

using namespace detail;

constexpr int kMaxRemindBefore = 20;  // working days; a longer lead is a typo, not a plan

bool digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

bool is_month_day(const std::string& v) {
  return v.size() == 5 && v[2] == '-' && digits(v.substr(0, 2)) && digits(v.substr(3));
}

// "MM-DD" of a day every year has (2001 is not a leap year: 02-29 is refused, most years have no such day).
std::optional<std::pair<int, int>> month_day(const std::string& v) {
  if (!is_month_day(v)) return std::nullopt;
  const int month = std::stoi(v.substr(0, 2)), day = std::stoi(v.substr(3));
  if (month < 1 || month > 12 || day < 1 || !parse_date(fmt::format("2001-{:02}-{:02}", month, day))) return std::nullopt;
  return std::pair(month, day);
}

// Reads `before`: "MM-DD" (a day every year has) into month/day, or "YYYY-MM-DD" into once.
void read_before(Reader& r, const Entry& e, ReportRule& rule) {
  Str s;
  if (!r.str(e, s)) return;
  const std::string& v = s.value;
  if (is_month_day(v)) {
    if (auto md = month_day(v)) {
      std::tie(rule.month, rule.day) = *md;
      return;
    }
    r.error(s.loc, fmt::format("'before' is not a day of every year: '{}' (expected MM-DD, not 02-29)", v));
    return;
  }
  if (v.size() == 10 && v[4] == '-' && v[7] == '-') {
    if (auto d = parse_date(v)) {
      rule.once = *d;
      return;
    }
  }
  r.error(s.loc, fmt::format("'before' must be MM-DD (every year) or a date YYYY-MM-DD (once), not '{}'", v));
}

// Reads `reporters: {kinds: [...], orgs: [...]}`; `root` is the jurisdiction, when known.
void read_reporters(Reader& r, const Entry& e, const Directory& dir, std::optional<OrgId> root,
                    const std::string& ctx, ReportRule& rule) {
  if (!e.value.IsMap()) {
    r.error(r.at(e), fmt::format("'reporters' of {} must be a map {{kinds: [...], orgs: [...]}}", ctx));
    return;
  }
  const MapView m = r.fixed(e.value, fmt::format("the reporters of {}", ctx), {"kinds", "orgs"}, {});
  std::vector<Str> kinds, orgs;
  if (const Entry* k = m.find("kinds"); k && r.str_list(*k, kinds)) {
    for (const auto& name : kinds) {
      if (auto kind = parse_org_kind(name.value))
        rule.reporter_kinds.push_back(*kind);
      else
        r.error(name.loc, fmt::format("{}: unknown org kind '{}' (expected one of: {})", ctx, name.value,
                                      all_kinds()));
    }
  }
  if (const Entry* o = m.find("orgs"); o && r.str_list(*o, orgs)) {
    for (const auto& key : orgs) {
      const auto id = dir.find_org(key.value);
      if (!id)
        r.error(key.loc, fmt::format("{}: unknown org '{}'", ctx, key.value));
      else if (root && !dir.is_within(*id, *root))
        r.error(key.loc, fmt::format("{}: reporter '{}' is outside the jurisdiction '{}'", ctx, key.value,
                                     rule.jurisdiction));
      rule.reporter_orgs.push_back(key.value);
    }
  }
}

void read_rule(Reader& r, const YAML::Node& item, const Directory& dir, const std::vector<std::string>& report_kinds,
               std::vector<ReportRule>& rules, std::vector<int>& id_lines) {
  const std::string ctx = Reader::named(item, "obligation", "id");
  const MapView m = r.fixed(item, ctx,
                            {"id", "title", "jurisdiction", "report", "reporters", "to", "attention", "before",
                             "period", "every_years", "first_year", "legal_basis"},
                            {"id", "title", "jurisdiction", "report", "to", "before"});
  const std::size_t errors_before = r.count();
  ReportRule rule;
  Str s;
  if (r.str(m, "id", s)) {
    rule.id = s.value;
    if (rule.id.empty()) r.error(s.loc, "an obligation's 'id' is empty");
    for (std::size_t i = 0; i < rules.size(); ++i)
      if (!rule.id.empty() && rules[i].id == rule.id)
        r.error(s.loc, fmt::format("duplicate obligation id '{}' (first at line {})", rule.id, id_lines[i]));
    id_lines.push_back(s.loc.line);
  } else {
    id_lines.push_back(m.loc.line);
  }
  if (r.str(m, "title", s)) {
    rule.title = s.value;
    if (rule.title.empty()) r.error(s.loc, fmt::format("{} has an empty 'title'", ctx));
  }
  std::optional<OrgId> root;
  if (r.str(m, "jurisdiction", s)) {
    rule.jurisdiction = s.value;
    root = dir.find_org(s.value);
    if (!root)
      r.error(s.loc, fmt::format("{}: unknown jurisdiction '{}'", ctx, s.value));
    else if (const OrgKind k = dir.org(*root).kind;
             k != OrgKind::kCentral && k != OrgKind::kProvince && k != OrgKind::kCommune)
      r.error(s.loc, fmt::format("{}: jurisdiction '{}' is a {}, not a level node (central, province, commune)",
                                 ctx, s.value, org_kind_name(k)));
  }
  if (r.str(m, "report", s)) {
    rule.report = s.value;
    if (std::find(report_kinds.begin(), report_kinds.end(), s.value) == report_kinds.end())
      r.error(s.loc, fmt::format("{}: unknown report kind '{}' (expected one of: {})", ctx, s.value,
                                 fmt::join(report_kinds, ", ")));
  }
  if (const Entry* e = m.find("reporters")) read_reporters(r, *e, dir, root, ctx, rule);
  std::vector<Str> to;
  if (const Entry* e = m.find("to"); e && r.str_or_list(*e, to)) {
    if (to.empty()) r.error(r.at(*e), fmt::format("{}: 'to' names no receiver", ctx));
    for (const auto& key : to) {
      if (!dir.find_org(key.value)) r.error(key.loc, fmt::format("{}: unknown receiver '{}'", ctx, key.value));
      rule.receivers.push_back(key.value);
    }
  }
  if (const Entry* e = m.find("attention"); e && r.str(*e, s)) rule.attention = s.value;
  if (const Entry* e = m.find("legal_basis"); e && r.str(*e, s)) rule.legal_basis = s.value;
  if (const Entry* e = m.find("before")) read_before(r, *e, rule);
  const Entry* period = m.find("period");
  if (period && r.str(*period, s)) rule.period = s.value;
  Located<std::int64_t> n;
  const Entry* every = m.find("every_years");
  const Entry* first = m.find("first_year");
  if (every && r.integer(*every, n)) {
    if (n.value < 1 || n.value > 100)
      r.error(n.loc, fmt::format("{}: 'every_years' must be at least 1, not {}", ctx, n.value));
    else
      rule.every_years = static_cast<int>(n.value);
  }
  if (first && r.integer(*first, n)) {
    if (n.value < 1900 || n.value > 9999)
      r.error(n.loc, fmt::format("{}: 'first_year' must be a year, not {}", ctx, n.value));
    else
      rule.first_year = static_cast<int>(n.value);
  }
  if (rule.every_years > 1 && !first)
    r.error(r.at(every->key), fmt::format("{}: 'every_years' > 1 needs 'first_year'", ctx));
  if (first && rule.every_years == 1 && r.count() == errors_before)
    r.error(r.at(first->key), fmt::format("{}: 'first_year' is only for a rule with 'every_years' > 1", ctx));
  if (rule.once && every)
    r.error(r.at(every->key), fmt::format("{}: 'every_years' is only for a yearly rule (MM-DD)", ctx));
  if (period && rule.month != 0)
    r.error(r.at(period->key), fmt::format("{}: 'period' is only for a one-off rule (before: YYYY-MM-DD); a "
                                           "yearly rule's period is its year",
                                           ctx));
  // No reporters at all: none listed, or none left once the tree is applied (receivers report to nobody).
  const SourceLoc reporters_at = m.find("reporters") ? r.at(m.find("reporters")->key) : m.loc;
  if (rule.reporter_kinds.empty() && rule.reporter_orgs.empty()) {
    if (r.count() == errors_before)
      r.error(reporters_at, fmt::format("{} has no reporters: give 'reporters: {{kinds: [...], orgs: [...]}}'", ctx));
  } else if (r.count() == errors_before && root && rule_reporters(rule, dir).empty()) {
    r.error(reporters_at, fmt::format("{} has no reporters: no org of the tree matches inside '{}'", ctx,
                                      rule.jurisdiction));
  }
  rules.push_back(std::move(rule));
}

void read_plan(Reader& r, const YAML::Node& root, const Directory& dir, const std::vector<std::string>& report_kinds,
               ReportPlan& out) {
  const MapView top =
      r.fixed(root, "the reports file", {"reading", "remind_before", "open_from", "obligations"}, {"obligations"});
  Str s;
  if (const Entry* e = top.find("reading"); e && r.str(*e, s)) {
    if (auto reading = parse_report_reading(s.value))
      out.reading = *reading;
    else
      r.error(s.loc, fmt::format("'reading' must be 'strict' or 'lenient', not '{}'", s.value));
  }
  Located<std::int64_t> n;
  if (const Entry* e = top.find("remind_before"); e && r.integer(*e, n)) {
    if (n.value < 0 || n.value > kMaxRemindBefore)
      r.error(n.loc, fmt::format("'remind_before' must be 0..{} working days, not {}", kMaxRemindBefore, n.value));
    else
      out.remind_before = static_cast<int>(n.value);
  }
  if (const Entry* e = top.find("open_from"); e && r.str(*e, s)) {
    if (auto md = month_day(s.value))
      std::tie(out.open_month, out.open_day) = *md;
    else
      r.error(s.loc, fmt::format("'open_from' must be a day of every year MM-DD (not 02-29), not '{}'", s.value));
  }
  const Entry* list = top.find("obligations");
  if (!list) return;
  if (list->value.IsNull()) return;  // `obligations:` with nothing: no obligations
  if (!list->value.IsSequence()) {
    r.error(r.at(*list), "'obligations' must be a list of obligations");
    return;
  }
  std::vector<int> id_lines;
  for (const auto& item : list->value) {
    if (!item.IsMap()) {
      r.error(r.at(item, r.at(*list)), "each obligation must be a map with keys 'id', 'title', 'jurisdiction', "
                                       "'report', 'reporters', 'to' and 'before'");
      continue;
    }
    read_rule(r, item, dir, report_kinds, out.rules, id_lines);
  }
}

}  // namespace

std::vector<Diagnostic> parse_reports(std::string_view text, const std::string& file, const Directory& dir,
                                      const std::vector<std::string>& report_kinds, ReportPlan& out) {
  out = ReportPlan{};
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map with the keys 'reading', 'remind_before' and 'obligations'");
    if (!root) return;
    read_plan(r, *root, dir, report_kinds, out);
  });
}

}  // namespace hoso::yaml
