// hoso reports open|status: the yearly report obligations of config/reports.yaml (stored by `hoso init`),
// opened as dossiers of the `report` workflow.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <algorithm>
#include <charconv>

#include "adapters/cli/context.hpp"
#include "adapters/views/json_views.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/report_service.hpp"

namespace hoso::cli {

namespace json = boost::json;

namespace {

// Vietnamese words for the standings, shown to clerks.
const char* standing_text(ReportStanding s) {
  switch (s) {
    case ReportStanding::kSubmitted:
      return "đã gửi đúng hạn";
    case ReportStanding::kSubmittedLate:
      return "đã gửi muộn";
    case ReportStanding::kDue:
      return "chưa gửi, còn hạn";
    case ReportStanding::kLate:
      return "quá hạn, chưa gửi";
  }
  return "";
}

std::optional<int> parse_year(const std::string& s) {
  int y = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), y);
  if (ec != std::errc{} || p != s.data() + s.size() || y < 2000 || y > 2200) return std::nullopt;
  return y;
}

// The report kinds: what the current `report` workflow serves.
Result<std::vector<std::string>> report_kinds(App& a) {
  auto def = a.registry->current(kReportWorkflow);
  if (!def)
    return make_error(ErrorCode::kNotFound,
                      "cơ sở dữ liệu chưa có quy trình báo cáo (workflows/report.yaml); hãy chạy lại 'hoso init'");
  std::vector<std::string> kinds;
  for (const auto& award : (*def)->awards())
    if ((*def)->serves(award.id) && award.authority == Authority::kNone) kinds.push_back(award.key);
  return kinds;
}

Result<ReportPlan> stored_plan(App& a) {
  auto kinds = report_kinds(a);
  if (!kinds) return kinds.error();
  return yaml::reports_from_store(*a.store, a.directory, *kinds);
}

Result<ReportOpening> open_for(App& a, int year) {
  auto plan = stored_plan(a);
  if (!plan) return plan.error();
  auto calendar = yaml::calendar_from_store(*a.store);
  if (!calendar) return calendar.error();
  return open_reports(*a.service, *plan, a.directory, calendar->get(), year, a.clock->now());
}

int reports_open(Ctx& c, App& a, int year) {
  auto opened = open_for(a, year);
  if (!opened) return fail(c, opened.error());
  if (c.json_out()) {
    json::array ids;
    for (auto id : opened->opened) ids.push_back(id);
    c.out << json::serialize(json::object{{"year", year}, {"opened", std::move(ids)}, {"already", opened->already}})
          << "\n";
  } else {
    c.out << fmt::format("Đã mở {} nghĩa vụ báo cáo năm {}", opened->opened.size(), year);
    if (opened->already > 0) c.out << fmt::format(" ({} nghĩa vụ đã mở từ trước, giữ nguyên)", opened->already);
    c.out << "\n";
  }
  return 0;
}

int reports_status(Ctx& c, App& a, int year) {
  const auto jurisdiction = c.args.get("jurisdiction");
  auto rows = report_status(*a.service, a.directory, year, jurisdiction, a.clock->now(), c.args.get("as"));
  if (!rows) return fail(c, rows.error());
  int counts[4] = {0, 0, 0, 0};
  for (const auto& r : *rows) ++counts[static_cast<int>(r.standing)];
  if (c.json_out()) {
    json::object status = views::report_status_json(year, jurisdiction, *rows);
    c.out << json::serialize(status) << "\n";
    return 0;
  }
  c.out << fmt::format("Báo cáo năm {}{}: {} đã gửi đúng hạn, {} gửi muộn, {} còn hạn, {} quá hạn chưa gửi\n", year,
                       jurisdiction ? " — địa bàn " + *jurisdiction : "",
                       counts[static_cast<int>(ReportStanding::kSubmitted)],
                       counts[static_cast<int>(ReportStanding::kSubmittedLate)],
                       counts[static_cast<int>(ReportStanding::kDue)], counts[static_cast<int>(ReportStanding::kLate)]);
  for (const auto& r : *rows)
    c.out << fmt::format("#{}\t{}\t{} kỳ {}\ttrước ngày {} → {}\t{}\n", r.id, r.reporter_name, r.report_name, r.period,
                         format_date_vietnamese(r.deadline), r.receiver_names, standing_text(r.standing));
  return 0;
}

int vietnam_year(Timestamp t) { return year_of(vietnam_date(t)); }

}  // namespace

Result<std::vector<std::pair<int, Timestamp>>> report_openings(App& a, Timestamp from, Timestamp to) {
  std::vector<std::pair<int, Timestamp>> out;
  if (!a.registry->current(kReportWorkflow)) return out;
  auto plan = stored_plan(a);
  if (!plan) return plan.error();
  // Every year whose opening instant is at or before `to`, not only those passed now: opening is idempotent,
  // so a year an earlier move could not open (or a clock started on the instant) is opened now.
  for (int y = vietnam_year(from); y <= vietnam_year(to); ++y)
    if (auto at = opening_instant(*plan, y); at && *at <= to) out.emplace_back(y, std::max(*at, from));
  return out;
}

Result<std::size_t> open_year_reports(App& a, int year) {
  auto opened = open_for(a, year);
  if (!opened) return opened.error();
  return opened->opened.size();
}

int cmd_reports(Ctx& c) {
  const auto& p = c.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (p.size() != 2 || (sub != "open" && sub != "status"))
    return usage(c, "cách dùng: hoso reports open [--year NĂM] | status --year NĂM [--jurisdiction ĐỊA_BÀN]");
  std::optional<int> year;
  if (auto y = c.args.get("year")) {
    year = parse_year(*y);
    if (!year) return usage(c, fmt::format("năm '{}' không hợp lệ (2000–2200)", *y));
  } else if (sub == "status") {
    return usage(c, "hoso reports status cần --year NĂM");
  }
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  if (!year) year = vietnam_year(a.clock->now());
  return sub == "open" ? reports_open(c, a, *year) : reports_status(c, a, *year);
}

}  // namespace hoso::cli
