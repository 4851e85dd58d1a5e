#include "engine/calendar.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "engine/lunar.hpp"

namespace hoso {

namespace {

constexpr std::int64_t kMillisPerDay = 86400000;
constexpr std::array<const char*, 8> kWeekdayNames = {"",         "Monday", "Tuesday",  "Wednesday",
                                                      "Thursday", "Friday", "Saturday", "Sunday"};

Date make_date(int y, unsigned m, unsigned d) { return Date{days_from_civil(y, m, d)}; }
Date plus(Date d, int n) { return Date{d.days + n}; }

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return kDays[static_cast<std::size_t>(m - 1)] + (m == 2 && leap ? 1 : 0);
}

bool valid_id(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

const SourceLoc& or_else(const SourceLoc& a, const SourceLoc& b) { return a.line > 0 ? a : b; }

bool in_force(const HolidayRuleSpec& r, Date anchor) {
  return (!r.effective_from || r.effective_from->value <= anchor) &&
         (!r.effective_to || anchor <= r.effective_to->value);
}

std::string force_text(const HolidayRuleSpec& r) {
  if (r.effective_from && r.effective_to)
    return fmt::format("in force from {} to {}", format_date(r.effective_from->value),
                       format_date(r.effective_to->value));
  if (r.effective_from) return fmt::format("in force from {}", format_date(r.effective_from->value));
  if (r.effective_to) return fmt::format("in force until {}", format_date(r.effective_to->value));
  return "always in force";
}

// The anchor day of a (valid) rule in a year, or nullopt when the rule is not in force then.
std::optional<Date> anchor_in(const HolidayRuleSpec& r, int year) {
  std::optional<Date> anchor;
  if (r.calendar.value == AnchorCalendar::kSolar)
    anchor = make_date(year, static_cast<unsigned>(r.month.value), static_cast<unsigned>(r.day.value));
  else
    anchor = solar_from_lunar(LunarDate{r.day.value, r.month.value, year, false});
  if (!anchor || !in_force(r, *anchor)) return std::nullopt;
  return anchor;
}

// The computed days off of a rule in a year (empty when not in force).
std::vector<Date> rule_days(const HolidayRuleSpec& r, int year) {
  std::vector<Date> out;
  if (const auto anchor = anchor_in(r, year))
    for (int i = 0; i < r.days.value; ++i) out.push_back(plus(*anchor, r.offset.value + i));
  return out;
}

class Checker {
 public:
  explicit Checker(const CalendarSpec& spec) : spec_(spec) {}

  std::vector<Diagnostic> run() {
    check_weekend();
    check_rules();
    const bool rules_ok = diags_.empty();
    std::map<int, const CalendarYearSpec*> seen_years;
    for (const auto& y : spec_.years) check_year(y, seen_years, rules_ok);
    return std::move(diags_);
  }

 private:
  void error(const SourceLoc& loc, std::string message) {
    diags_.push_back(Diagnostic{loc, std::move(message)});
  }

  bool is_weekend(Date d) const {
    const int wd = iso_weekday(d);
    return std::any_of(spec_.weekend.begin(), spec_.weekend.end(),
                       [&](const Located<int>& w) { return w.value == wd; });
  }

  std::string weekend_names() const {
    std::string out;
    for (const auto& w : spec_.weekend) {
      if (w.value < 1 || w.value > 7) continue;
      if (!out.empty()) out += ", ";
      out += kWeekdayNames[static_cast<std::size_t>(w.value)];
    }
    return out.empty() ? "none" : out;
  }

  void check_weekend() {
    std::array<const Located<int>*, 8> seen{};
    int distinct = 0;
    for (const auto& w : spec_.weekend) {
      if (w.value < 1 || w.value > 7) {
        error(w.loc, fmt::format("weekday {} is not an ISO weekday (1 = Monday … 7 = Sunday)", w.value));
        continue;
      }
      const auto i = static_cast<std::size_t>(w.value);
      if (seen[i]) {
        error(w.loc, fmt::format("{} is listed twice in 'weekend' (first at line {})", kWeekdayNames[i],
                                 seen[i]->loc.line));
        continue;
      }
      seen[i] = &w;
      ++distinct;
    }
    if (distinct == 7)
      error(spec_.weekend.front().loc,
            "every day of the week is a weekly rest day: no day would be a working day");
  }

  void check_rules() {
    for (const auto& r : spec_.holidays) {
      const SourceLoc& id_loc = or_else(r.id.loc, r.loc);
      if (r.id.value.empty()) {
        error(id_loc, "holiday id is empty");
      } else if (!valid_id(r.id.value)) {
        error(
            id_loc,
            fmt::format("holiday id '{}' may contain only lowercase ASCII letters, digits, '-', '.' and '_'",
                        r.id.value));
      }
      if (!r.id.value.empty()) {
        const auto [it, fresh] = rules_.emplace(r.id.value, &r);
        if (!fresh)
          error(id_loc, fmt::format("duplicate holiday id '{}' (first defined at line {})", r.id.value,
                                    it->second->id.loc.line));
      }
      if (blank(r.name.value))
        error(or_else(r.name.loc, r.loc), fmt::format("holiday '{}' has an empty name", r.id.value));
      if (blank(r.legal_basis.value))
        error(or_else(r.legal_basis.loc, r.loc),
              fmt::format("holiday '{}' has an empty legal basis", r.id.value));
      check_anchor(r);
      if (r.days.value < 1 || r.days.value > 31)
        error(
            or_else(r.days.loc, r.loc),
            fmt::format("holiday '{}': 'days' must be between 1 and 31 (got {})", r.id.value, r.days.value));
      if (r.offset.value < -31 || r.offset.value > 31)
        error(or_else(r.offset.loc, r.loc),
              fmt::format("holiday '{}': 'offset' must be between -31 and 31 (got {})", r.id.value,
                          r.offset.value));
      if (r.effective_from && r.effective_to && r.effective_to->value < r.effective_from->value)
        error(or_else(r.effective_to->loc, r.loc),
              fmt::format("holiday '{}': effective_to {} is before effective_from {}", r.id.value,
                          format_date(r.effective_to->value), format_date(r.effective_from->value)));
    }
  }

  void check_anchor(const HolidayRuleSpec& r) {
    const int m = r.month.value, d = r.day.value;
    if (m < 1 || m > 12) {
      error(or_else(r.month.loc, r.loc), fmt::format("holiday '{}': month {} is not 1–12", r.id.value, m));
      return;
    }
    const SourceLoc& day_loc = or_else(r.day.loc, r.loc);
    if (r.calendar.value == AnchorCalendar::kSolar) {
      if (m == 2 && d == 29)
        error(day_loc, fmt::format("holiday '{}': 29/02 does not occur every year", r.id.value));
      else if (d < 1 || d > days_in_month(2001, m))
        error(day_loc, fmt::format("holiday '{}': solar day {:02}/{:02} does not exist", r.id.value, d, m));
    } else {
      if (d == 30)
        error(day_loc,
              fmt::format("holiday '{}': lunar day 30 does not occur in every lunar month", r.id.value));
      else if (d < 1 || d > 30)
        error(day_loc, fmt::format("holiday '{}': lunar day {:02}/{:02} does not exist", r.id.value, d, m));
    }
  }

  void check_year(const CalendarYearSpec& ys, std::map<int, const CalendarYearSpec*>& seen_years,
                  bool rules_ok) {
    const int year = ys.year.value;
    const SourceLoc& year_loc = or_else(ys.year.loc, ys.loc);
    const bool in_range = year >= kCalendarFirstYear && year <= kCalendarLastYear;
    if (!in_range)
      error(year_loc, fmt::format("year {} is outside the calendar's years {}–{}", year, kCalendarFirstYear,
                                  kCalendarLastYear));
    const auto [it, fresh] = seen_years.emplace(year, &ys);
    if (!fresh)
      error(year_loc, fmt::format("the year {} is announced twice (first in {} at line {})", year,
                                  it->second->year.loc.file, it->second->year.loc.line));
    if (blank(ys.source.value))
      error(or_else(ys.source.loc, ys.loc), fmt::format("the announcement of {} has an empty source", year));

    auto outside = [&](Date d) { return year_of(d) != year; };
    std::map<std::int32_t, int> off_line;  // day → line of the entry that gives it
    std::set<std::string> overridden;
    for (const auto& e : ys.days_off) {
      const auto rule = rules_.find(e.holiday.value);
      if (rule == rules_.end()) {
        error(or_else(e.holiday.loc, e.loc),
              fmt::format("unknown holiday '{}' (expected one of: {})", e.holiday.value, rule_ids()));
      } else {
        overridden.insert(e.holiday.value);
        if (in_range && rules_ok && !anchor_in(*rule->second, year))
          error(or_else(e.holiday.loc, e.loc), fmt::format("holiday '{}' is not in force in {} ({})",
                                                           e.holiday.value, year, force_text(*rule->second)));
      }
      bool ok = true;
      if (outside(e.from.value)) {
        error(or_else(e.from.loc, e.loc),
              fmt::format("day off {} is outside the year {} of this announcement", format_date(e.from.value),
                          year));
        ok = false;
      }
      if (outside(e.to.value) && e.to.value != e.from.value) {  // `date:` gives from = to
        error(or_else(e.to.loc, e.loc), fmt::format("day off {} is outside the year {} of this announcement",
                                                    format_date(e.to.value), year));
        ok = false;
      }
      if (e.to.value < e.from.value) {
        error(or_else(e.to.loc, e.loc),
              fmt::format("'to' {} is before 'from' {}", format_date(e.to.value), format_date(e.from.value)));
        ok = false;
      }
      if (!ok) continue;
      for (Date d = e.from.value; d <= e.to.value; d = plus(d, 1)) {
        const auto [prev, first] = off_line.emplace(d.days, e.loc.line);
        if (!first) {
          error(or_else(e.from.loc, e.loc),
                fmt::format("day {} is already a day off (line {})", format_date(d), prev->second));
          break;
        }
      }
    }

    std::map<std::int32_t, int> work_line;
    for (const auto& w : ys.working_days) {
      const Date d = w.date.value;
      const SourceLoc& loc = or_else(w.date.loc, w.loc);
      if (outside(d)) {
        error(loc, fmt::format("make-up working day {} is outside the year {} of this announcement",
                               format_date(d), year));
        continue;
      }
      const auto [prev, first] = work_line.emplace(d.days, loc.line);
      if (!first) {
        error(loc, fmt::format("make-up working day {} is listed twice (first at line {})", format_date(d),
                               prev->second));
        continue;
      }
      if (!is_weekend(d)) {
        error(loc, fmt::format("make-up working day {} is a {}, not a weekly rest day ({})", format_date(d),
                               kWeekdayNames[static_cast<std::size_t>(iso_weekday(d))], weekend_names()));
        continue;
      }
      if (const auto off = off_line.find(d.days); off != off_line.end()) {
        error(loc, fmt::format("make-up working day {} is also a day off of this announcement (line {})",
                               format_date(d), off->second));
        continue;
      }
      if (!in_range || !rules_ok) continue;
      for (const auto& r : spec_.holidays) {
        if (overridden.count(r.id.value)) continue;
        const auto days = rule_days(r, year);
        if (std::find(days.begin(), days.end(), d) != days.end()) {
          error(loc, fmt::format("make-up working day {} is a day off of holiday '{}'", format_date(d),
                                 r.id.value));
          break;
        }
      }
    }
  }

  std::string rule_ids() const {
    std::string out;
    for (const auto& r : spec_.holidays) {
      if (r.id.value.empty()) continue;
      if (!out.empty()) out += ", ";
      out += r.id.value;
    }
    return out.empty() ? "none" : out;
  }

  const CalendarSpec& spec_;
  std::unordered_map<std::string, const HolidayRuleSpec*> rules_;
  std::vector<Diagnostic> diags_;
};

}  // namespace

int iso_weekday(Date d) {
  const int r = ((d.days % 7) + 7) % 7;  // 0 on Thursday 1970-01-01
  return (r + 3) % 7 + 1;
}

Timestamp start_of_day_utc(Date d) { return Timestamp{d.days * kMillisPerDay - kVietnamOffsetMillis}; }

Timestamp end_of_day_utc(Date d) { return Timestamp{(d.days + 1) * kMillisPerDay - kVietnamOffsetMillis}; }

const char* holiday_kind_name(HolidayKind kind) {
  switch (kind) {
    case HolidayKind::kFixed:
      return "fixed";
    case HolidayKind::kLunar:
      return "lunar";
    case HolidayKind::kCompensatory:
      return "compensatory";
    case HolidayKind::kAnnounced:
      return "announced";
  }
  return "fixed";
}

std::vector<Diagnostic> check_calendar(const CalendarSpec& spec) { return Checker(spec).run(); }

Result<BusinessCalendar> BusinessCalendar::build(const CalendarSpec& spec) {
  const auto diags = check_calendar(spec);
  if (!diags.empty()) {
    std::string message = diags.front().format();
    if (diags.size() > 1) message += fmt::format(" (and {} more)", diags.size() - 1);
    return make_error(ErrorCode::kInvalidDefinition, std::move(message));
  }
  BusinessCalendar cal;
  cal.first_ = make_date(kCalendarFirstYear, 1, 1);
  cal.last_ = make_date(kCalendarLastYear, 12, 31);
  cal.weekend_.assign(8, false);
  for (const auto& w : spec.weekend) cal.weekend_[static_cast<std::size_t>(w.value)] = true;

  std::unordered_map<std::string, std::size_t> rule_index;
  for (const auto& r : spec.holidays) {
    rule_index.emplace(r.id.value, cal.rules_.size());
    cal.rules_.push_back(Rule{r.id.value, r.name.value, r.legal_basis.value});
  }

  // Announcements, by year; the holidays each one overrides.
  std::vector<const CalendarYearSpec*> years;
  for (const auto& y : spec.years) years.push_back(&y);
  std::sort(years.begin(), years.end(), [](const CalendarYearSpec* a, const CalendarYearSpec* b) {
    return a->year.value < b->year.value;
  });
  std::set<std::pair<int, std::size_t>> overridden;  // (year, rule)
  for (const auto* y : years) {
    cal.years_.push_back(y->year.value);
    for (const auto& e : y->days_off) overridden.emplace(y->year.value, rule_index.at(e.holiday.value));
  }

  const std::size_t n = cal.index_of(cal.last_) + 1;
  constexpr std::uint8_t kOff = 1, kMakeUp = 2;
  std::vector<std::uint8_t> flags(n, 0);
  auto weekend = [&](Date d) { return cal.weekend_[static_cast<std::size_t>(iso_weekday(d))]; };

  // Computed holiday days, then announced ones.
  std::vector<Entry> computed;
  for (int year = kCalendarFirstYear; year <= kCalendarLastYear; ++year) {
    for (std::size_t i = 0; i < spec.holidays.size(); ++i) {
      if (overridden.count({year, i})) continue;
      const HolidayRuleSpec& r = spec.holidays[i];
      const HolidayKind kind =
          r.calendar.value == AnchorCalendar::kSolar ? HolidayKind::kFixed : HolidayKind::kLunar;
      for (const Date d : rule_days(r, year)) {
        if (!cal.covers(d)) continue;
        computed.push_back(Entry{d, kind, i, d, 0});
        flags[cal.index_of(d)] |= kOff;
      }
    }
  }
  for (const auto* y : years) {
    const std::size_t year_source = cal.sources_.size();
    cal.sources_.push_back(y->source.value);
    for (const auto& e : y->days_off) {
      const std::size_t rule = rule_index.at(e.holiday.value);
      std::size_t source = year_source;
      if (!blank(e.source.value)) {
        source = cal.sources_.size();
        cal.sources_.push_back(e.source.value);
      }
      for (Date d = e.from.value; d <= e.to.value; d = plus(d, 1)) {
        cal.days_off_.push_back(Entry{d, HolidayKind::kAnnounced, rule, d, source});
        flags[cal.index_of(d)] |= kOff;
      }
    }
    for (const auto& w : y->working_days) {
      cal.make_ups_.push_back(MakeUp{w.date.value, w.note.value, year_source});
      flags[cal.index_of(w.date.value)] |= kMakeUp;
    }
  }

  // Compensatory days, in date order, once per holiday day on a weekly rest day.
  std::sort(computed.begin(), computed.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.date.days, a.rule) < std::tie(b.date.days, b.rule);
  });
  std::int32_t last_compensated = cal.first_.days - 1;
  for (const Entry& e : computed) {
    if (!spec.holidays[e.rule].compensate.value || !weekend(e.date) || e.date.days == last_compensated)
      continue;
    last_compensated = e.date.days;
    Date d = plus(e.date, 1);
    while (cal.covers(d) && (weekend(d) || (flags[cal.index_of(d)] & kOff))) d = plus(d, 1);
    if (!cal.covers(d)) continue;
    flags[cal.index_of(d)] |= kOff;
    cal.days_off_.push_back(Entry{d, HolidayKind::kCompensatory, e.rule, e.date, 0});
  }
  cal.days_off_.insert(cal.days_off_.end(), computed.begin(), computed.end());
  std::sort(cal.days_off_.begin(), cal.days_off_.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.date.days, a.kind, a.rule) < std::tie(b.date.days, b.kind, b.rule);
  });
  std::sort(cal.make_ups_.begin(), cal.make_ups_.end(),
            [](const MakeUp& a, const MakeUp& b) { return a.date < b.date; });

  cal.working_before_.assign(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const Date d{cal.first_.days + static_cast<std::int32_t>(i)};
    const bool working = !(flags[i] & kOff) && (!weekend(d) || (flags[i] & kMakeUp));
    cal.working_before_[i + 1] = cal.working_before_[i] + (working ? 1 : 0);
  }
  return cal;
}

Date BusinessCalendar::first_day() const { return first_; }
Date BusinessCalendar::last_day() const { return last_; }
bool BusinessCalendar::covers(Date d) const { return first_ <= d && d <= last_; }

bool BusinessCalendar::has_announcement(int year) const {
  return std::binary_search(years_.begin(), years_.end(), year);
}

bool BusinessCalendar::is_working_day(Date d) const {
  if (!covers(d)) return !weekend_[static_cast<std::size_t>(iso_weekday(d))];
  const std::size_t i = index_of(d);
  return working_before_[i + 1] > working_before_[i];
}

std::vector<HolidayDay> BusinessCalendar::holidays(int year) const {
  std::vector<HolidayDay> out;
  if (year < kCalendarFirstYear || year > kCalendarLastYear) return out;
  const Date from = make_date(year, 1, 1), to = make_date(year, 12, 31);
  auto it = std::lower_bound(days_off_.begin(), days_off_.end(), from,
                             [](const Entry& e, Date d) { return e.date < d; });
  for (; it != days_off_.end() && it->date <= to; ++it) {
    const Rule& r = rules_[it->rule];
    const std::string& basis = it->kind == HolidayKind::kAnnounced ? sources_[it->source] : r.basis;
    out.push_back(HolidayDay{it->date, it->kind, r.id, r.name, basis, it->compensates});
  }
  return out;
}

std::vector<MakeUpWorkingDay> BusinessCalendar::make_up_working_days(int year) const {
  std::vector<MakeUpWorkingDay> out;
  for (const auto& m : make_ups_)
    if (year_of(m.date) == year) out.push_back(MakeUpWorkingDay{m.date, m.note, sources_[m.source]});
  return out;
}

Result<Date> BusinessCalendar::add_working_days(Date trigger, int n) const {
  if (n < 0)
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("Thời hạn không được là số âm ({} ngày làm việc)", n));
  if (!covers(trigger))
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("Ngày {} nằm ngoài phạm vi của lịch làm việc ({}–{})", format_date_vietnamese(trigger),
                                  format_date_vietnamese(first_), format_date_vietnamese(last_)));
  if (n == 0) return trigger;
  // The day on which the count of working days after the trigger reaches n.
  const std::int32_t target = working_before_[index_of(trigger) + 1] + n;
  const auto it = std::lower_bound(working_before_.begin(), working_before_.end(), target);
  if (it == working_before_.end())
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("Thời hạn {} ngày làm việc tính từ ngày {} kết thúc sau ngày {}, ngoài phạm vi "
                    "của lịch làm việc",
                    n, format_date_vietnamese(trigger), format_date_vietnamese(last_)));
  return Date{first_.days + static_cast<std::int32_t>(it - working_before_.begin()) - 1};
}

Result<Date> BusinessCalendar::add_days(Date trigger, int n) const {
  if (n < 0)
    return make_error(ErrorCode::kInvalidInput, fmt::format("Thời hạn không được là số âm ({} ngày)", n));
  const Date end = plus(trigger, n);
  if (!covers(trigger) || !covers(end))
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("Thời hạn {} ngày tính từ ngày {} nằm ngoài phạm vi của lịch làm việc ({}–{})", n,
                    format_date_vietnamese(trigger), format_date_vietnamese(first_), format_date_vietnamese(last_)));
  // The first working day on or after `end`.
  const std::int32_t target = working_before_[index_of(end)] + 1;
  const auto it = std::lower_bound(working_before_.begin(), working_before_.end(), target);
  if (it == working_before_.end())
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("Thời hạn {} ngày tính từ ngày {} kết thúc sau ngày {}, ngoài phạm vi của lịch "
                    "làm việc",
                    n, format_date_vietnamese(trigger), format_date_vietnamese(last_)));
  return Date{first_.days + static_cast<std::int32_t>(it - working_before_.begin()) - 1};
}

Result<int> BusinessCalendar::working_days_between(Date from, Date to) const {
  for (const Date d : {from, to})
    if (!covers(d))
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("Ngày {} nằm ngoài phạm vi của lịch làm việc ({}–{})", format_date_vietnamese(d),
                                    format_date_vietnamese(first_), format_date_vietnamese(last_)));
  return working_before_[index_of(to) + 1] - working_before_[index_of(from) + 1];
}

}  // namespace hoso
