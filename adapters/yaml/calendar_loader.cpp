#include "adapters/yaml/calendar_loader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>

#include "adapters/yaml/loader.hpp"
#include "adapters/yaml/reader.hpp"

namespace hoso::yaml {

namespace {

using detail::Entry;
using detail::guarded;

constexpr std::array<const char*, 7> kWeekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                                  "friday", "saturday", "sunday"};

// The shared reader, with the typed values the calendar files use.
class Reader : public detail::Reader {
 public:
  using detail::Reader::Reader;
  using detail::Reader::integer;

  // The entries of a map with a fixed set of keys (see detail::Reader::fixed).
  std::vector<Entry> fields(const YAML::Node& map, std::string_view ctx, std::initializer_list<const char*> allowed,
                            std::initializer_list<const char*> required) {
    return fixed(map, ctx, allowed, required).entries;
  }

  bool integer(const Entry& e, Located<int>& out) {
    Located<std::int64_t> wide;
    const std::size_t before = count();
    if (e.value.IsScalar() && integer(e, wide) && wide.value >= std::numeric_limits<int>::min() &&
        wide.value <= std::numeric_limits<int>::max()) {
      out = Located<int>{static_cast<int>(wide.value), wide.loc};
      return true;
    }
    if (count() == before) error(at(e), fmt::format("'{}' must be an integer", e.name));
    return false;
  }

  bool boolean(const Entry& e, Located<bool>& out) {
    bool v = false;
    if (!detail::Reader::boolean(e, v)) return false;
    out = Located<bool>{v, at(e)};
    return true;
  }

  bool date(const Entry& e, Located<Date>& out) {
    if (e.value.IsScalar()) {
      if (const auto d = parse_date(e.value.Scalar())) {
        out = Located<Date>{*d, at(e)};
        return true;
      }
      error(at(e), fmt::format("'{}' is not a valid date: '{}' (expected YYYY-MM-DD, a day that exists)",
                               e.name, e.value.Scalar()));
      return false;
    }
    error(at(e), fmt::format("'{}' must be a date YYYY-MM-DD", e.name));
    return false;
  }
};

const Entry* find(const std::vector<Entry>& entries, std::string_view key) {
  for (const auto& e : entries)
    if (e.name == key) return &e;
  return nullptr;
}

// ---- config/calendar.yaml ------------------------------------------------------------------------

void read_weekend(Reader& r, const Entry& e, std::vector<Located<int>>& out) {
  if (!e.value.IsSequence()) {
    r.error(r.at(e), "'weekend' must be a list of weekdays (monday … sunday)");
    return;
  }
  for (const auto& item : e.value) {
    const SourceLoc loc = r.at(item, r.at(e));
    const auto it =
        item.IsScalar() ? std::find(kWeekdays.begin(), kWeekdays.end(), item.Scalar()) : kWeekdays.end();
    if (it == kWeekdays.end()) {
      r.error(loc,
              fmt::format("unknown weekday '{}' in 'weekend' (expected one of monday, tuesday, wednesday, "
                          "thursday, friday, saturday, sunday)",
                          item.IsScalar() ? item.Scalar() : std::string("…")));
      continue;
    }
    out.push_back(Located<int>{static_cast<int>(it - kWeekdays.begin()) + 1, loc});
  }
}

void read_anchor(Reader& r, const Entry& e, const std::string& ctx, HolidayRuleSpec& h) {
  h.calendar =
      Located<AnchorCalendar>{e.name == "solar" ? AnchorCalendar::kSolar : AnchorCalendar::kLunar, r.at(e)};
  if (!e.value.IsMap()) {
    r.error(r.at(e), fmt::format("'{}' must be a map with keys 'month' and 'day'", e.name));
    return;
  }
  const auto m =
      r.fields(e.value, fmt::format("'{}' of {}", e.name, ctx), {"month", "day"}, {"month", "day"});
  if (const Entry* x = find(m, "month")) r.integer(*x, h.month);
  if (const Entry* x = find(m, "day")) r.integer(*x, h.day);
}

void read_holiday(Reader& r, const YAML::Node& item, const SourceLoc& list_loc,
                  std::vector<HolidayRuleSpec>& out) {
  if (!item.IsMap()) {
    r.error(r.at(item, list_loc),
            "each holiday must be a map with keys 'id', 'name', 'solar' or 'lunar', and 'legal_basis'");
    return;
  }
  const std::string ctx = Reader::named(item, "holiday", "id");
  const std::size_t before = r.count();
  const auto m = r.fields(item, ctx,
                          {"id", "name", "solar", "lunar", "offset", "days", "compensate", "legal_basis",
                           "effective_from", "effective_to"},
                          {"id", "name", "legal_basis"});
  HolidayRuleSpec h;
  h.loc = r.at(item, list_loc);
  if (const Entry* x = find(m, "id")) r.str(*x, h.id);
  if (const Entry* x = find(m, "name")) r.str(*x, h.name);
  if (const Entry* x = find(m, "legal_basis")) r.str(*x, h.legal_basis);
  const Entry* solar = find(m, "solar");
  const Entry* lunar = find(m, "lunar");
  if (solar && lunar) {
    const Entry* second = r.at(solar->key).line > r.at(lunar->key).line ? solar : lunar;
    r.error(r.at(second->key), fmt::format("{} has both 'solar' and 'lunar': give one anchor day", ctx));
  } else if (!solar && !lunar) {
    r.error(h.loc, fmt::format("{} needs an anchor day: 'solar' or 'lunar'", ctx));
  } else {
    read_anchor(r, solar ? *solar : *lunar, ctx, h);
  }
  if (const Entry* x = find(m, "offset")) r.integer(*x, h.offset);
  if (const Entry* x = find(m, "days")) r.integer(*x, h.days);
  if (const Entry* x = find(m, "compensate")) r.boolean(*x, h.compensate);
  if (const Entry* x = find(m, "effective_from")) {
    Located<Date> d;
    if (r.date(*x, d)) h.effective_from = d;
  }
  if (const Entry* x = find(m, "effective_to")) {
    Located<Date> d;
    if (r.date(*x, d)) h.effective_to = d;
  }
  if (r.count() == before) out.push_back(std::move(h));
}

void read_rules(Reader& r, const YAML::Node& root, CalendarSpec& out) {
  const auto top = r.fields(root, "the calendar rules", {"weekend", "holidays"}, {"weekend", "holidays"});
  if (const Entry* w = find(top, "weekend")) read_weekend(r, *w, out.weekend);
  if (const Entry* h = find(top, "holidays")) {
    if (!h->value.IsSequence()) {
      r.error(r.at(*h), "'holidays' must be a list of holidays");
      return;
    }
    for (const auto& item : h->value) read_holiday(r, item, r.at(*h), out.holidays);
  }
}

// ---- config/calendar/YYYY.yaml -------------------------------------------------------------------

void read_days_off(Reader& r, const YAML::Node& item, const SourceLoc& list_loc,
                   std::vector<DaysOffSpec>& out) {
  if (!item.IsMap()) {
    r.error(r.at(item, list_loc),
            "each entry of 'days_off' must be a map with keys 'holiday' and 'date', or "
            "'holiday', 'from' and 'to'");
    return;
  }
  const std::string ctx = Reader::named(item, "the days off of", "holiday");
  const std::size_t before = r.count();
  const auto m = r.fields(item, ctx, {"holiday", "date", "from", "to", "source"}, {"holiday"});
  DaysOffSpec d;
  d.loc = r.at(item, list_loc);
  if (const Entry* x = find(m, "holiday")) r.str(*x, d.holiday);
  if (const Entry* x = find(m, "source")) r.str(*x, d.source);
  const Entry* date = find(m, "date");
  const Entry* from = find(m, "from");
  const Entry* to = find(m, "to");
  if (date) {
    if (from || to)
      r.error(r.at((from ? from : to)->key), fmt::format("{}: give either 'date' or 'from' and 'to'", ctx));
    else if (r.date(*date, d.from))
      d.to = d.from;
  } else {
    if (!from) r.error(d.loc, fmt::format("missing key 'from' in {} (or 'date' for a single day)", ctx));
    if (!to) r.error(d.loc, fmt::format("missing key 'to' in {} (or 'date' for a single day)", ctx));
    if (from) r.date(*from, d.from);
    if (to) r.date(*to, d.to);
  }
  if (r.count() == before) out.push_back(std::move(d));
}

void read_working_day(Reader& r, const YAML::Node& item, const SourceLoc& list_loc,
                      std::vector<WorkingDaySpec>& out) {
  if (!item.IsMap()) {
    r.error(r.at(item, list_loc), "each entry of 'working_days' must be a map with keys 'date' and 'note'");
    return;
  }
  const std::size_t before = r.count();
  const auto m = r.fields(item, "a make-up working day", {"date", "note"}, {"date"});
  WorkingDaySpec w;
  w.loc = r.at(item, list_loc);
  if (const Entry* x = find(m, "date")) r.date(*x, w.date);
  if (const Entry* x = find(m, "note")) r.str(*x, w.note);
  if (r.count() == before) out.push_back(std::move(w));
}

void read_year(Reader& r, const YAML::Node& root, CalendarYearSpec& out) {
  out.loc = r.at(root);
  const auto top = r.fields(root, "the year's announcement", {"year", "source", "days_off", "working_days"},
                            {"year", "source"});
  if (const Entry* x = find(top, "year")) r.integer(*x, out.year);
  if (const Entry* x = find(top, "source")) r.str(*x, out.source);
  if (const Entry* x = find(top, "days_off")) {
    if (!x->value.IsSequence())
      r.error(r.at(*x), "'days_off' must be a list of days off");
    else
      for (const auto& item : x->value) read_days_off(r, item, r.at(*x), out.days_off);
  }
  if (const Entry* x = find(top, "working_days")) {
    if (!x->value.IsSequence())
      r.error(r.at(*x), "'working_days' must be a list of make-up working days");
    else
      for (const auto& item : x->value) read_working_day(r, item, r.at(*x), out.working_days);
  }
}

void append(std::vector<Diagnostic>& to, std::vector<Diagnostic> from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

std::vector<Diagnostic> parse_calendar_rules(std::string_view text, const std::string& file,
                                             CalendarSpec& out) {
  out = CalendarSpec{};
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map with the keys 'weekend' and 'holidays'");
    if (root) read_rules(r, *root, out);
  });
}

std::vector<Diagnostic> parse_calendar_year(std::string_view text, const std::string& file,
                                            CalendarYearSpec& out) {
  out = CalendarYearSpec{};
  Reader r(text, file);
  return guarded(r, [&] {
    auto root = r.load("a map with the keys 'year' and 'source'");
    if (root) read_year(r, *root, out);
  });
}

std::vector<Diagnostic> load_calendar(std::string_view rules_text, const std::string& rules_file,
                                      const std::vector<CalendarYearFile>& year_files, CalendarSpec& out) {
  std::vector<Diagnostic> diags = parse_calendar_rules(rules_text, rules_file, out);
  bool parsed = diags.empty();
  for (const auto& f : year_files) {
    CalendarYearSpec year;
    auto more = parse_calendar_year(f.text, f.file, year);
    if (!more.empty()) {
      parsed = false;
      append(diags, std::move(more));
      continue;
    }
    // A file named after a year must announce that year.
    const std::string stem = std::filesystem::path(f.file).stem().string();
    if (stem.size() == 4 &&
        std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        stem != std::to_string(year.year.value))
      diags.push_back(Diagnostic{
          year.year.loc, fmt::format("the file is named {}{} but announces the year {}", stem,
                                     std::filesystem::path(f.file).extension().string(), year.year.value)});
    out.years.push_back(std::move(year));
  }
  if (parsed) append(diags, check_calendar(out));
  return diags;
}

std::vector<Diagnostic> read_calendar_sources(const std::string& config_dir, std::vector<SourceFile>& out) {
  namespace fs = std::filesystem;
  out.clear();
  std::vector<Diagnostic> diags;
  auto read = [&](const std::string& path) {
    auto r = read_text_file(path);
    if (!r) {
      diags.push_back(Diagnostic{SourceLoc{path, 1, 1}, r.error().message});
      return false;
    }
    out.push_back(SourceFile{path, std::move(r.value())});
    return true;
  };
  try {
    const std::string rules_file = (fs::path(config_dir) / "calendar.yaml").string();
    if (!read(rules_file)) return diags;
    std::vector<std::string> paths;
    const fs::path years_dir = fs::path(config_dir) / "calendar";
    std::error_code ec;
    if (fs::is_directory(years_dir, ec)) {
      for (fs::directory_iterator it(years_dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".yaml" || it->path().extension() == ".yml")
          paths.push_back(it->path().string());
      if (ec)
        diags.push_back(
            Diagnostic{SourceLoc{years_dir.string(), 1, 1},
                       fmt::format("{}: cannot list the directory: {}", years_dir.string(), ec.message())});
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) read(p);
  } catch (const std::exception& e) {
    diags.push_back(Diagnostic{SourceLoc{config_dir, 1, 1},
                               fmt::format("internal error while reading the calendar: {}", e.what())});
  }
  return diags;
}

std::vector<Diagnostic> load_calendar_sources(const std::vector<SourceFile>& files, CalendarSpec& out) {
  out = CalendarSpec{};
  if (files.empty()) return {Diagnostic{SourceLoc{"calendar.yaml", 1, 1}, "no calendar rules file"}};
  std::vector<CalendarYearFile> years;
  for (std::size_t i = 1; i < files.size(); ++i) years.push_back(CalendarYearFile{files[i].file, files[i].text});
  return load_calendar(files[0].text, files[0].file, years, out);
}

std::vector<Diagnostic> load_calendar_dir(const std::string& config_dir, CalendarSpec& out) {
  std::vector<SourceFile> files;
  auto diags = read_calendar_sources(config_dir, files);
  if (!diags.empty()) {
    out = CalendarSpec{};
    return diags;
  }
  return load_calendar_sources(files, out);
}

}  // namespace hoso::yaml
