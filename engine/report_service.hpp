// The yearly report obligations over the command service: opening a year's obligations from the plan
// (config/reports.yaml) as dossiers of the `report` workflow, and who has reported, who is due, who is late.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/calendar.hpp"
#include "engine/reports.hpp"
#include "engine/service.hpp"

namespace hoso {

inline constexpr const char* kReportWorkflow = "report";

struct ReportOpening {
  std::vector<DossierId> opened;  // new obligations, in plan order
  int already = 0;                // obligations of the year that were open already (left as they are)
};

// Opens, in one transaction, every obligation the plan gives for `year` that is not open yet (same rule,
// reporter and period). Each gets its deadline, the day it is late from (by the plan's reading), and a
// reminder `remind_before` working days before that day at 08:00 when that is still ahead of `now`.
Result<ReportOpening> open_reports(CommandService& service, const ReportPlan& plan, const Directory& dir,
                                   const BusinessCalendar* calendar, int year, Timestamp now);

enum class ReportStanding { kSubmitted, kSubmittedLate, kDue, kLate };
const char* report_standing_name(ReportStanding s);  // submitted | submitted_late | due | late

struct ReportStatusRow {
  DossierId id = 0;
  std::string rule, report, report_name, jurisdiction, reporter, reporter_name, period, receiver_names;
  Date deadline, due_day;
  ReportStanding standing = ReportStanding::kDue;
  std::optional<Timestamp> submitted_at;
};

// The obligations opened for `year` (optionally only those of `jurisdiction`: the rule's, or a reporter
// inside it; and with `user`, only those the user may read: held in or proposed from their jurisdiction),
// in id order. A due one whose late moment has passed at `now` is late even before its timer has fired.
Result<std::vector<ReportStatusRow>> report_status(CommandService& service, const Directory& dir, int year,
                                                   const std::optional<std::string>& jurisdiction, Timestamp now,
                                                   const std::optional<std::string>& user = std::nullopt);

}  // namespace hoso
