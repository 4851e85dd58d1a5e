// The yearly report obligations of the movement (config/reports.yaml, DOMAIN.md §5): who reports what to
// whom, before which day. The plan is validated at load (adapters/yaml/reports_loader.hpp); expanding it
// for a year is a pure function of the plan, the org tree and the year: no clock, no I/O.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/directory.hpp"
#include "engine/time.hpp"

namespace hoso {

// How "before day D" (trước ngày D) is read: due at 00:00 of D, Vietnam time (strict) | by the end of D
// (lenient). Stored in config by name: never rename.
enum class ReportReading { kStrict, kLenient };

// "strict" | "lenient".
const char* report_reading_name(ReportReading r);
// nullopt for any other name.
std::optional<ReportReading> parse_report_reading(std::string_view name);

struct ReportRule {                       // one obligation line of config/reports.yaml
  std::string id;                         // stable id, e.g. "lao-cai-ket-qua-nam"
  std::string title;                      // Vietnamese, shown to people
  std::string jurisdiction;               // org key of a level node: a province ("lao-cai") or the root
  std::string report;                     // report kind: a catalogue key, e.g. "bao_cao_ket_qua_nam"
  std::vector<OrgKind> reporter_kinds;    // reporters: every org of these kinds inside the jurisdiction
  std::vector<std::string> reporter_orgs; // and/or these org keys (each inside the jurisdiction)
  std::vector<std::string> receivers;     // org keys; the first is the receiver of record; all are told
  std::string attention;                  // optional, e.g. "Phòng Tham mưu" (shown with the receiver)
  int month = 0, day = 0;                 // yearly rule: "before day/month" of the reporting year
  std::optional<Date> once;               // one-off rule: before this date (then month/day are 0)
  std::string period;                     // optional label for a one-off rule (e.g. "2026")
  int every_years = 1, first_year = 0;    // every_years > 1: only years first_year + k*every_years (k ≥ 0)
  std::string legal_basis;
};

struct ReportPlan {
  ReportReading reading = ReportReading::kStrict;
  int remind_before = 3;  // working days before the due day; 0 = no reminder
  // open_from: each year's obligations open by themselves at 00:00 (Vietnam time) of this day, when the
  // simulation's clock passes it (clock set/advance); 0 = only by `hoso reports open`.
  int open_month = 0, open_day = 0;
  std::vector<ReportRule> rules;
};

// The instant `year`'s obligations open by themselves (00:00 Vietnam time of open_from); none when the plan
// has no open_from.
std::optional<Timestamp> opening_instant(const ReportPlan& plan, int year);

struct Obligation {  // one reporter's obligation for one period
  std::string rule, title, report, jurisdiction, reporter, period, attention, legal_basis;
  std::vector<std::string> receivers;
  Date deadline;  // D of "before day D", as the plan says it
  Date due_day;   // late from 00:00 Vietnam time of this day: D (strict) or D+1 (lenient)
};

// The rule with this id; nullptr when none.
const ReportRule* find_report_rule(const ReportPlan& plan, std::string_view id);

// True when `rule` opens obligations in `year` (a yearly rule every year, an every_years rule in its
// years, a one-off rule in the year of its date).
bool rule_opens_in(const ReportRule& rule, int year);

// The reporters of a rule in config order of the org tree: the orgs of its kinds inside its jurisdiction
// and its named orgs, less its receivers (nobody reports to itself). Empty when the jurisdiction is
// unknown.
std::vector<std::string> rule_reporters(const ReportRule& rule, const Directory& dir);

// The obligations the plan opens for `year`, in rule order then reporter (config) order. A yearly rule
// gives period "<year>" and deadline year-month-day; an every_years rule only in its years, period
// "<year-every_years+1>–<year>" (en dash); a one-off rule only when year == once->year, period = its
// `period` label or "<year>". A receiver never reports to itself (it is left out of the reporters).
std::vector<Obligation> obligations_for_year(const ReportPlan& plan, const Directory& dir, int year);

}  // namespace hoso
