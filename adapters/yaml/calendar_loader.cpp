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
#include <optional>
#include <utility>

#include "adapters/yaml/loader.hpp"

namespace hoso::yaml {

namespace {

constexpr std::array<const char*, 7> kWeekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                                  "friday", "saturday", "sunday"};

// Offset of the first byte of `s` that is not part of well-formed UTF-8, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80                 ? 1
                      : c >= 0xC2 && c <= 0xDF ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
    if (len == 0 || i + len > s.size()) return i;
    std::uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return i;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string quoted_list(std::initializer_list<const char*> names) {
  std::string out;
  for (const char* n : names) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", n);
  return out;
}

// One key/value pair of a YAML map.
struct Entry {
  YAML::Node key, value;
  std::string name;
};

const Entry* find(const std::vector<Entry>& entries, std::string_view key) {
  for (const auto& e : entries)
    if (e.name == key) return &e;
  return nullptr;
}

class Reader {
 public:
  Reader(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  std::vector<Diagnostic> take() { return std::move(diags_); }
  std::size_t count() const { return diags_.size(); }
  const std::string& file() const { return file_; }

  void error(SourceLoc loc, std::string message) {
    diags_.push_back(Diagnostic{std::move(loc), std::move(message)});
  }

  SourceLoc at(const YAML::Node& n, const SourceLoc& fallback = {}) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0 || m.column < 0)
      return fallback.line > 0 ? fallback : SourceLoc{file_, 1, 1};
    return SourceLoc{file_, m.line + 1, m.column + 1};
  }
  // A value's location; a null value (`key:` alone) is located at its key, since yaml-cpp marks it
  // at the next token.
  SourceLoc at(const Entry& e) const {
    const SourceLoc k = at(e.key);
    return e.value.IsNull() ? k : at(e.value, k);
  }

  // UTF-8 check, parse, exactly one document that is a map.
  std::optional<YAML::Node> load(std::string_view expected) {
    if (const std::size_t bad = invalid_utf8_at(text_); bad != std::string_view::npos) {
      const std::string_view before = text_.substr(0, bad);
      const auto line = 1 + std::count(before.begin(), before.end(), '\n');
      const std::size_t nl = before.rfind('\n');
      const std::size_t col = nl == std::string_view::npos ? bad + 1 : bad - nl;
      error(SourceLoc{file_, static_cast<int>(line), static_cast<int>(col)},
            fmt::format("invalid UTF-8: byte 0x{:02X} at byte offset {} does not start a valid sequence",
                        static_cast<unsigned>(static_cast<unsigned char>(text_[bad])), bad));
      return std::nullopt;
    }
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(text_));
    } catch (const YAML::Exception& e) {
      SourceLoc loc{file_, 1, 1};
      if (!e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0)
        loc = {file_, e.mark.line + 1, e.mark.column + 1};
      error(std::move(loc), e.msg.empty() ? std::string("YAML syntax error") : e.msg);
      return std::nullopt;
    }
    if (docs.empty() || docs[0].IsNull()) {
      error(docs.empty() ? SourceLoc{file_, 1, 1} : at(docs[0]),
            fmt::format("empty file: expected {}", expected));
      return std::nullopt;
    }
    if (docs.size() > 1) {
      error(at(docs[1]), "only one YAML document is allowed per file");
      return std::nullopt;
    }
    if (!docs[0].IsMap()) {
      error(at(docs[0]), fmt::format("expected {}", expected));
      return std::nullopt;
    }
    return docs[0];
  }

  // The entries of a map with a fixed set of keys: reports non-scalar, repeated, unknown and
  // missing keys, and keeps the others in document order.
  std::vector<Entry> fields(const YAML::Node& map, std::string_view ctx,
                            std::initializer_list<const char*> allowed,
                            std::initializer_list<const char*> required) {
    std::vector<Entry> out;
    const SourceLoc map_loc = at(map);
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node k = it->first;
      if (!k.IsScalar()) {
        error(at(k, map_loc), fmt::format("keys in {} must be plain strings", ctx));
        continue;
      }
      if (const Entry* prev = find(out, k.Scalar())) {
        error(at(k, map_loc), fmt::format("duplicate key '{}' in {} (first at line {})", k.Scalar(), ctx,
                                          at(prev->key).line));
        continue;
      }
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k.Scalar() == a; })) {
        error(at(k, map_loc), fmt::format("unknown key '{}' in {} (expected one of {})", k.Scalar(), ctx,
                                          quoted_list(allowed)));
        continue;
      }
      out.push_back(Entry{k, it->second, k.Scalar()});
    }
    for (const char* r : required)
      if (!find(out, r)) error(map_loc, fmt::format("missing key '{}' in {}", r, ctx));
    return out;
  }

  // A description of a list item for messages: `what 'value of key'` when the item has it.
  static std::string named(const YAML::Node& map, std::string_view what, const char* key) {
    if (map.IsMap())
      for (auto it = map.begin(); it != map.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == key && it->second.IsScalar())
          return fmt::format("{} '{}'", what, it->second.Scalar());
    return std::string(what);
  }

  // ---- typed values ----------------------------------------------------------------------------
  bool str(const Entry& e, Str& out) {
    if (!e.value.IsScalar()) {
      error(at(e), fmt::format("'{}' must be a string", e.name));
      return false;
    }
    out = Str{e.value.Scalar(), at(e)};
    return true;
  }

  bool integer(const Entry& e, Located<int>& out) {
    if (e.value.IsScalar() && (e.value.Tag() == "?" || e.value.Tag() == "tag:yaml.org,2002:int")) {
      std::string_view s = e.value.Scalar();
      if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
        if (!s.empty() && s.front() == '-') s = {};
      }
      int v = 0;
      const char* end = s.data() + s.size();
      const auto r = std::from_chars(s.data(), end, v, 10);
      if (!s.empty() && r.ec == std::errc() && r.ptr == end) {
        out = Located<int>{v, at(e)};
        return true;
      }
    }
    error(at(e), fmt::format("'{}' must be an integer", e.name));
    return false;
  }

  bool boolean(const Entry& e, Located<bool>& out) {
    if (e.value.IsScalar() && (e.value.Tag() == "?" || e.value.Tag() == "tag:yaml.org,2002:bool")) {
      if (e.value.Scalar() == "true" || e.value.Scalar() == "false") {
        out = Located<bool>{e.value.Scalar() == "true", at(e)};
        return true;
      }
    }
    error(at(e), fmt::format("'{}' must be true or false", e.name));
    return false;
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

 private:
  std::string_view text_;
  std::string file_;
  std::vector<Diagnostic> diags_;
};

// Runs a parse body, turning any escaping exception into a diagnostic.
template <typename F>
std::vector<Diagnostic> guarded(Reader& r, F&& body) {
  try {
    body();
  } catch (const YAML::Exception& e) {
    r.error(
        SourceLoc{r.file(), e.mark.is_null() ? 1 : e.mark.line + 1, e.mark.is_null() ? 1 : e.mark.column + 1},
        e.msg);
  } catch (const std::exception& e) {
    r.error(SourceLoc{r.file(), 1, 1}, fmt::format("internal error while reading: {}", e.what()));
  } catch (...) {
    r.error(SourceLoc{r.file(), 1, 1}, "internal error while reading");
  }
  return r.take();
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
