#include "engine/report_service.hpp"

#include <fmt/format.h>


#include "engine/timers.hpp"

namespace hoso {

namespace {

constexpr std::int64_t kReminderHourMillis = 8 * 3'600'000;  // reminders go out at 08:00, Vietnam time

std::string text_field(const DossierView& v, std::string_view key) {
  auto id = v.definition->find_field(key);
  if (!id) return {};
  const Value& x = v.state.fields[id->value];
  return x.kind == Value::Kind::kText ? x.text : format_value(v.definition->field(*id).spec, x);
}

std::optional<Date> date_field(const DossierView& v, std::string_view key) {
  auto id = v.definition->find_field(key);
  if (!id) return std::nullopt;
  const Value& x = v.state.fields[id->value];
  if (x.kind != Value::Kind::kDate) return std::nullopt;
  return Date{static_cast<std::int32_t>(x.num)};
}

std::string joined(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

const char* report_standing_name(ReportStanding s) {
  switch (s) {
    case ReportStanding::kSubmitted:
      return "submitted";
    case ReportStanding::kSubmittedLate:
      return "submitted_late";
    case ReportStanding::kDue:
      return "due";
    case ReportStanding::kLate:
      return "late";
  }
  return "due";
}

Result<ReportOpening> open_reports(CommandService& service, const ReportPlan& plan, const Directory& dir,
                                   const BusinessCalendar* calendar, int year, Timestamp now) {
  ReportOpening result;
  std::vector<OpenRequest> requests;
  for (const Obligation& o : obligations_for_year(plan, dir, year)) {
    std::vector<std::string> names;
    for (const auto& key : o.receivers)
      if (auto org = dir.find_org(key)) names.push_back(dir.org(*org).name);
    if (!o.attention.empty() && !names.empty()) names.front() += fmt::format(" ({})", o.attention);
    OpenRequest r;
    r.award = o.report;
    r.origin = o.reporter;
    r.input.fields = {{"obligation", o.rule},
                      {"jurisdiction", o.jurisdiction},
                      {"year", std::to_string(year)},
                      {"period", o.period},
                      {"deadline", format_date(o.deadline)},
                      {"due_day", format_date(o.due_day)},
                      {"receivers", joined(o.receivers, ",")},
                      {"receiver_names", joined(names, ", ")}};
    // No reminder when its day is past, or outside what the calendar covers (the limit still holds).
    if (plan.remind_before > 0 && calendar != nullptr && calendar->covers(o.due_day)) {
      auto day = working_days_before(*calendar, o.due_day, plan.remind_before);
      if (day && now.millis < start_of_day_utc(*day).millis + kReminderHourMillis)
        r.input.fields.emplace_back("remind_day", format_date(*day));
    }
    requests.push_back(std::move(r));
  }
  if (requests.empty()) return result;
  // The same rule, reporter and period: open already (checked inside the opening transaction).
  auto given = [](const OpenRequest& r, std::string_view key) {
    for (const auto& [k, value] : r.input.fields)
      if (k == key) return value;
    return std::string();
  };
  auto same = [&](const DossierView& v, const OpenRequest& r) {
    return dir.org(v.state.origin).key == r.origin && text_field(v, "obligation") == given(r, "obligation") &&
           text_field(v, "period") == given(r, "period");
  };
  auto opened = service.open_all(kReportWorkflow, requests, same);
  if (!opened) return opened.error();
  for (const auto& o : *opened) {
    if (o)
      result.opened.push_back(o->id);
    else
      ++result.already;
  }
  return result;
}

Result<std::vector<ReportStatusRow>> report_status(CommandService& service, const Directory& dir, int year,
                                                   const std::optional<std::string>& jurisdiction, Timestamp now,
                                                   const std::optional<std::string>& user) {
  std::optional<UserId> reader;
  if (user) {
    reader = dir.find_user(*user);
    if (!reader) return make_error(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", *user));
    if (!dir.user(*reader).active)
      return make_error(ErrorCode::kNotPermitted, fmt::format("Tài khoản '{}' đã ngừng hoạt động", *user));
  }
  std::optional<OrgId> within;
  if (jurisdiction) {
    within = dir.find_org(*jurisdiction);
    if (!within)
      return Error{ErrorCode::kNotFound, fmt::format("Không có địa bàn '{}'", *jurisdiction), "unknown_org",
                   *jurisdiction};
  }
  auto views = service.dossiers_of(kReportWorkflow, reader);
  if (!views) return views.error();
  std::vector<ReportStatusRow> rows;
  for (const auto& v : *views) {
    if (text_field(v, "year") != std::to_string(year)) continue;
    if (reader && !may_read(dir, v.state, *reader)) continue;
    ReportStatusRow row;
    row.jurisdiction = text_field(v, "jurisdiction");
    if (within && row.jurisdiction != *jurisdiction && !dir.is_within(v.state.origin, *within)) continue;
    row.id = v.state.id;
    row.rule = text_field(v, "obligation");
    row.report = v.definition->award(v.state.award).key;
    row.report_name = v.definition->award(v.state.award).name;
    row.reporter = dir.org(v.state.origin).key;
    row.reporter_name = dir.org(v.state.origin).name;
    row.period = text_field(v, "period");
    row.receiver_names = text_field(v, "receiver_names");
    row.deadline = date_field(v, "deadline").value_or(Date{});
    row.due_day = date_field(v, "due_day").value_or(Date{});
    const std::string& state = v.definition->state(v.state.state).key;
    if (state == "submitted" || state == "submitted_late") {
      row.standing = state == "submitted" ? ReportStanding::kSubmitted : ReportStanding::kSubmittedLate;
      row.submitted_at = v.state.submitted_at;
    } else if (state == "late" || now.millis >= start_of_day_utc(row.due_day).millis) {
      row.standing = ReportStanding::kLate;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace hoso
