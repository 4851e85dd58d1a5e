// The business calendar of Vietnam: which days are working days, and periods counted in them.
// Pure: no I/O, no clock.
//
// A CalendarSpec (the rules of config/calendar.yaml and the yearly announcements of
// config/calendar/YYYY.yaml, read by adapters/yaml/calendar_loader) compiles once into an immutable
// BusinessCalendar covering the years kCalendarFirstYear–kCalendarLastYear:
//   - weekly rest days (Saturday, Sunday);
//   - public holidays (Bộ luật Lao động 2019, Điều 112): each rule gives `days` consecutive days off
//     starting `offset` days from an anchor day of each year, solar (1/1, 30/4, 1/5, 2/9, 24/11) or
//     lunar (Tết Nguyên đán 1/1, Giỗ Tổ Hùng Vương 10/3; UTC+7, engine/lunar.hpp), in force between
//     its effective dates (compared with the anchor day);
//   - compensatory days (nghỉ bù, Điều 112 khoản 3): each day of a holiday that falls on a weekly rest
//     day gives the next day off that is neither a weekly rest day nor already a day off, in date
//     order (a day on which two holidays fall gives one compensatory day);
//   - yearly announcements: the days off they give for a holiday replace that holiday's computed days
//     for that year, compensation included; their make-up working days (ngày làm bù) are weekly rest
//     days that are worked.
// Periods follow Bộ luật Dân sự 2015, Điều 147–148: a period starts on the day after its trigger, and
// one that ends on a day that is not a working day ends on the next working day.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/definition.hpp"
#include "engine/result.hpp"
#include "engine/time.hpp"

namespace hoso {

// The years a BusinessCalendar covers (holiday rules apply to every one of them).
inline constexpr int kCalendarFirstYear = 1900;
inline constexpr int kCalendarLastYear = 2199;

// The ISO weekday of a date: 1 = Monday … 7 = Sunday.
int iso_weekday(Date d);

// The instant 00:00 Vietnam time (UTC+7) starts day d, i.e. 17:00 UTC of the day before.
Timestamp start_of_day_utc(Date d);
// The instant day d ends in Vietnam: 00:00 UTC+7 of the next day, i.e. 17:00 UTC of day d. A period
// that ends on day d ends at this instant ("hết ngày d").
Timestamp end_of_day_utc(Date d);

// ---------------------------------------------------------------------------------------------
// Specs (as written, with source locations for diagnostics)

enum class AnchorCalendar { kSolar, kLunar };

// A recurring public holiday.
struct HolidayRuleSpec {
  Str id;           // stable key that yearly announcements name, e.g. "tet_nguyen_dan"
  Str name;         // Vietnamese, shown to people
  Str legal_basis;  // e.g. "Bộ luật Lao động 2019, Điều 112, khoản 1, điểm b"
  Located<AnchorCalendar> calendar;
  Located<int> month, day;             // the anchor: a solar day, or a lunar day of a non-leap month
  Located<int> offset;                 // days from the anchor to the first day off (may be negative)
  Located<int> days{1, {}};            // consecutive days off
  Located<bool> compensate{true, {}};  // whether a day on a weekly rest day gives a compensatory day
  std::optional<Located<Date>> effective_from, effective_to;  // inclusive; compared with the anchor
  SourceLoc loc;
};

// Days off that an announcement gives for one holiday: from..to inclusive.
struct DaysOffSpec {
  Str holiday;  // a HolidayRuleSpec id
  Located<Date> from, to;
  Str source;  // optional: the document that gives these days, when not the year's `source`
  SourceLoc loc;
};

// A weekly rest day that is worked (ngày làm bù), usually in exchange for a day off.
struct WorkingDaySpec {
  Located<Date> date;
  Str note;
  SourceLoc loc;
};

// The government's announcement of one year's days off.
struct CalendarYearSpec {
  Located<int> year;
  Str source;  // the announcement: document number, date, issuer
  std::vector<DaysOffSpec> days_off;
  std::vector<WorkingDaySpec> working_days;
  SourceLoc loc;
};

struct CalendarSpec {
  std::vector<Located<int>> weekend;  // ISO weekdays of the weekly rest days
  std::vector<HolidayRuleSpec> holidays;
  std::vector<CalendarYearSpec> years;
};

// Every problem of a spec, located: holiday ids (empty, charset, duplicates), empty names and legal
// bases, anchors that do not occur every year (31/02, 29/02, lunar day 30), `days` outside 1–31,
// `offset` outside −31..31, effective_to before effective_from, repeated or all-seven weekly rest
// days; in yearly announcements: years outside the covered range or given twice, an empty source,
// unknown holidays or holidays not in force that year, `to` before `from`, days off or working days
// outside the announcement's year, days given twice, make-up working days that are not weekly rest
// days or that are days off. When this returns nothing, BusinessCalendar::build succeeds.
std::vector<Diagnostic> check_calendar(const CalendarSpec& spec);

// ---------------------------------------------------------------------------------------------
// The compiled calendar

enum class HolidayKind {
  kFixed,         // a solar holiday on its computed day
  kLunar,         // a lunar holiday on its computed day
  kCompensatory,  // nghỉ bù for a computed holiday day that fell on a weekly rest day
  kAnnounced,     // a day off given by the year's announcement
};
// "fixed", "lunar", "compensatory", "announced".
const char* holiday_kind_name(HolidayKind kind);

// One day off of a holiday.
struct HolidayDay {
  Date date;
  HolidayKind kind = HolidayKind::kFixed;
  std::string holiday;  // the rule id
  std::string name;     // the rule's Vietnamese name
  std::string basis;    // the rule's legal basis; for announced days the announcement's source
  Date compensates;     // kCompensatory: the holiday day it makes up for; otherwise `date`
  friend bool operator==(const HolidayDay&, const HolidayDay&) = default;
};

// A weekly rest day that is a working day.
struct MakeUpWorkingDay {
  Date date;
  std::string note;
  std::string source;  // the announcement
  friend bool operator==(const MakeUpWorkingDay&, const MakeUpWorkingDay&) = default;
};

class BusinessCalendar {
 public:
  // Compiles a spec; fails with kInvalidDefinition (the first diagnostic of check_calendar and how
  // many there are) when the spec is invalid.
  static Result<BusinessCalendar> build(const CalendarSpec& spec);

  // The first and last day covered: 1900-01-01 and 2199-12-31.
  Date first_day() const;
  Date last_day() const;
  // Whether d is in [first_day(), last_day()].
  bool covers(Date d) const;
  // Whether the year has an announcement (its file exists).
  bool has_announcement(int year) const;

  // Whether d is a working day. Outside the covered range only weekly rest days are days off.
  bool is_working_day(Date d) const;

  // The days off of a year (holidays, their compensatory days and announced days; weekly rest days
  // only when a holiday or an announcement falls on them), by date; empty outside the covered range.
  std::vector<HolidayDay> holidays(int year) const;
  // The weekly rest days of a year that are worked, by date.
  std::vector<MakeUpWorkingDay> make_up_working_days(int year) const;

  // The last day of a period of n working days triggered on `trigger`: the n-th working day after
  // it (the trigger itself never counts). n = 0 gives the trigger itself. Fails with kInvalidInput
  // when n < 0, or when the trigger or the result is outside the covered range.
  Result<Date> add_working_days(Date trigger, int n) const;
  // The last day of a period of n calendar days triggered on `trigger`: trigger + n, or the next
  // working day after it when that day is not a working day (n = 0: the trigger, or the next
  // working day). Fails with kInvalidInput when n < 0 or outside the covered range.
  Result<Date> add_days(Date trigger, int n) const;
  // The number of working days d with from < d <= to; when to < from, minus the number with
  // to < d <= from (so add_working_days(t, n) is the first day x with working_days_between(t, x) = n).
  // Fails with kInvalidInput when either day is outside the covered range.
  Result<int> working_days_between(Date from, Date to) const;

 private:
  struct Rule {
    std::string id, name, basis;
  };
  struct Entry {
    Date date;
    HolidayKind kind;
    std::size_t rule;
    Date compensates;
    std::size_t source;  // kAnnounced: the index of its source in sources_
  };
  struct MakeUp {
    Date date;
    std::string note;
    std::size_t source;  // index in sources_
  };

  BusinessCalendar() = default;
  std::size_t index_of(Date d) const { return static_cast<std::size_t>(d.days - first_.days); }

  Date first_, last_;
  std::vector<bool> weekend_;  // by ISO weekday 1–7 (index 0 unused)
  std::vector<Rule> rules_;
  std::vector<Entry> days_off_;       // by date
  std::vector<MakeUp> make_ups_;      // by date
  std::vector<int> years_;            // the announced years
  std::vector<std::string> sources_;  // the announcements' sources
  // working_before_[i]: the number of working days among the first i covered days.
  std::vector<std::int32_t> working_before_;
};

}  // namespace hoso
