#include "engine/reports.hpp"

#include "engine/calendar.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace hoso {

namespace {

bool listed(const std::vector<std::string>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

const char* report_reading_name(ReportReading r) {
  switch (r) {
    case ReportReading::kStrict:
      return "strict";
    case ReportReading::kLenient:
      return "lenient";
  }
  return "strict";
}

std::optional<ReportReading> parse_report_reading(std::string_view name) {
  if (name == "strict") return ReportReading::kStrict;
  if (name == "lenient") return ReportReading::kLenient;
  return std::nullopt;
}

const ReportRule* find_report_rule(const ReportPlan& plan, std::string_view id) {
  for (const auto& r : plan.rules)
    if (r.id == id) return &r;
  return nullptr;
}

bool rule_opens_in(const ReportRule& rule, int year) {
  if (rule.once) return year_of(*rule.once) == year;
  if (rule.every_years > 1) return year >= rule.first_year && (year - rule.first_year) % rule.every_years == 0;
  return true;
}

std::vector<std::string> rule_reporters(const ReportRule& rule, const Directory& dir) {
  std::vector<std::string> out;
  const auto root = dir.find_org(rule.jurisdiction);
  if (!root) return out;
  for (const Org& o : dir.orgs()) {
    if (!dir.is_within(o.id, *root) || listed(rule.receivers, o.key)) continue;
    const bool by_kind = std::find(rule.reporter_kinds.begin(), rule.reporter_kinds.end(), o.kind) !=
                         rule.reporter_kinds.end();
    if (by_kind || listed(rule.reporter_orgs, o.key)) out.push_back(o.key);
  }
  return out;
}

std::vector<Obligation> obligations_for_year(const ReportPlan& plan, const Directory& dir, int year) {
  std::vector<Obligation> out;
  for (const auto& rule : plan.rules) {
    if (!rule_opens_in(rule, year)) continue;
    Obligation o;
    o.rule = rule.id;
    o.title = rule.title;
    o.report = rule.report;
    o.jurisdiction = rule.jurisdiction;
    o.attention = rule.attention;
    o.legal_basis = rule.legal_basis;
    o.receivers = rule.receivers;
    if (rule.once) {
      o.deadline = *rule.once;
      o.period = rule.period.empty() ? std::to_string(year) : rule.period;
    } else {
      o.deadline = Date{days_from_civil(year, static_cast<unsigned>(rule.month), static_cast<unsigned>(rule.day))};
      o.period = rule.every_years > 1 ? fmt::format("{}–{}", year - rule.every_years + 1, year)
                                      : std::to_string(year);
    }
    o.due_day = plan.reading == ReportReading::kLenient ? Date{o.deadline.days + 1} : o.deadline;
    for (auto& reporter : rule_reporters(rule, dir)) {
      out.push_back(o);
      out.back().reporter = std::move(reporter);
    }
  }
  return out;
}

std::optional<Timestamp> opening_instant(const ReportPlan& plan, int year) {
  if (plan.open_month == 0) return std::nullopt;
  return start_of_day_utc(Date{days_from_civil(year, static_cast<unsigned>(plan.open_month),
                                               static_cast<unsigned>(plan.open_day))});
}

}  // namespace hoso
