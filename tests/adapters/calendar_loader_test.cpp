// Tests of the calendar YAML adapter: the shipped config files, then malformed inputs with their
// exact locations.
#include "adapters/yaml/calendar_loader.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#ifndef HOSO_SOURCE_DIR
#error "HOSO_SOURCE_DIR must be defined as the repository root"
#endif

using namespace hoso;

namespace {

std::string show(const Diagnostic& d) {
  return d.loc.file + ":" + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) +
         ": error: " + d.message;
}

std::string show(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += show(d) + "\n";
  return out;
}

// True when some diagnostic is exactly `line` ("file:line:col: error: message").
bool has_exact(const std::vector<Diagnostic>& ds, const std::string& line) {
  return std::any_of(ds.begin(), ds.end(), [&](const Diagnostic& d) { return show(d) == line; });
}

// True when some diagnostic is at `loc` ("file:line:col") and its message contains `text`.
bool has(const std::vector<Diagnostic>& ds, const std::string& loc, const std::string& text) {
  return std::any_of(ds.begin(), ds.end(), [&](const Diagnostic& d) {
    return show(d).rfind(loc + ": error: ", 0) == 0 && d.message.find(text) != std::string::npos;
  });
}

#define REQUIRE_EXACT(ds, line)         \
  do {                                  \
    INFO("diagnostics:\n" << show(ds)); \
    REQUIRE(has_exact((ds), (line)));   \
  } while (0)

#define REQUIRE_DIAG(ds, loc, text)     \
  do {                                  \
    INFO("diagnostics:\n" << show(ds)); \
    REQUIRE(has((ds), (loc), (text)));  \
  } while (0)

// Rules that the yearly files below refer to.
const char* kRules = R"(weekend: [saturday, sunday]
holidays:
  - id: tet_nguyen_dan
    name: "Tết Nguyên đán"
    lunar: {month: 1, day: 1}
    offset: -1
    days: 5
    legal_basis: "Bộ luật Lao động 2019, Điều 112"
  - id: quoc_khanh
    name: "Quốc khánh"
    solar: {month: 9, day: 2}
    offset: -1
    days: 2
    legal_basis: "Bộ luật Lao động 2019, Điều 112"
  - id: ngay_van_hoa_viet_nam
    name: "Ngày Văn hóa Việt Nam"
    solar: {month: 11, day: 24}
    legal_basis: "Nghị quyết 80-NQ/TW"
    effective_from: 2026-01-01
)";

std::vector<Diagnostic> rules(const std::string& text) {
  CalendarSpec spec;
  auto d = yaml::load_calendar(text, "calendar.yaml", {}, spec);
  return d;
}

std::vector<Diagnostic> years(std::vector<yaml::CalendarYearFile> files) {
  CalendarSpec spec;
  return yaml::load_calendar(kRules, "calendar.yaml", files, spec);
}

std::vector<Diagnostic> year(const std::string& text, const std::string& file = "calendar/2026.yaml") {
  return years({{file, text}});
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The shipped configuration

TEST_CASE("config/calendar.yaml and config/calendar/*.yaml load cleanly", "[calendar][yaml][config]") {
  CalendarSpec spec;
  const auto diags = yaml::load_calendar_dir(std::string(HOSO_SOURCE_DIR) + "/config", spec);
  INFO(show(diags));
  REQUIRE(diags.empty());
  CHECK(spec.weekend.size() == 2);
  std::vector<std::string> ids;
  for (const auto& h : spec.holidays) ids.push_back(h.id.value);
  CHECK(ids == std::vector<std::string>{"tet_duong_lich", "tet_nguyen_dan", "gio_to_hung_vuong",
                                        "ngay_chien_thang", "quoc_te_lao_dong", "quoc_khanh",
                                        "ngay_van_hoa_viet_nam"});
  REQUIRE(spec.years.size() == 2);
  CHECK(spec.years[0].year.value == 2025);
  CHECK(spec.years[1].year.value == 2026);
  CHECK(spec.years[1].year.loc.file.find("2026.yaml") != std::string::npos);
  CHECK(BusinessCalendar::build(spec).ok());

  const auto& tet = spec.holidays[1];
  CHECK(tet.calendar.value == AnchorCalendar::kLunar);
  CHECK(tet.offset.value == -1);
  CHECK(tet.days.value == 5);
  CHECK(tet.name.value == "Tết Nguyên đán");
  const auto& van_hoa = spec.holidays[6];
  REQUIRE(van_hoa.effective_from);
  CHECK(format_date(van_hoa.effective_from->value) == "2026-01-01");
  CHECK_FALSE(van_hoa.effective_to);
}

TEST_CASE("The test rules and a well-formed year load", "[calendar][yaml]") {
  CalendarSpec spec;
  const auto diags = yaml::load_calendar(kRules, "calendar.yaml", {{"calendar/2026.yaml", R"(year: 2026
source: "Thông báo"
days_off:
  - holiday: tet_nguyen_dan
    from: 2026-02-14
    to: 2026-02-22
  - holiday: quoc_khanh
    date: 02/09/2026
    source: "Văn bản khác"
working_days:
  - date: 2026-08-22
)"}},
                                         spec);
  INFO(show(diags));
  REQUIRE(diags.empty());
  REQUIRE(spec.years.size() == 1);
  const auto& y = spec.years[0];
  REQUIRE(y.days_off.size() == 2);
  CHECK(format_date(y.days_off[1].from.value) == "2026-09-02");
  CHECK(format_date(y.days_off[1].to.value) == "2026-09-02");
  CHECK(y.days_off[1].source.value == "Văn bản khác");
  CHECK(y.days_off[0].from.loc.line == 5);
  CHECK(y.days_off[0].from.loc.col == 11);
  REQUIRE(y.working_days.size() == 1);
  CHECK(y.working_days[0].note.value.empty());
}

// ---------------------------------------------------------------------------------------------
// The rules file

TEST_CASE("Unknown keys are located", "[calendar][yaml]") {
  const auto d = rules(R"(weekend: [saturday, sunday]
holidays:
  - id: tet
    name: "Tết"
    lunar: {month: 1, day: 1}
    legal_basis: "x"
    colour: red
timezone: 7
)");
  REQUIRE_EXACT(
      d,
      "calendar.yaml:7:5: error: unknown key 'colour' in holiday 'tet' (expected one of 'id', 'name', "
      "'solar', 'lunar', 'offset', 'days', 'compensate', 'legal_basis', 'effective_from', "
      "'effective_to')");
  REQUIRE_EXACT(d,
                "calendar.yaml:8:1: error: unknown key 'timezone' in the calendar rules (expected one of "
                "'weekend', 'holidays')");
  REQUIRE(d.size() == 2);

  const auto y = year("year: 2026\nsource: x\nholidays: []\n");
  REQUIRE_EXACT(
      y,
      "calendar/2026.yaml:3:1: error: unknown key 'holidays' in the year's announcement (expected one "
      "of 'year', 'source', 'days_off', 'working_days')");
  const auto e =
      year("year: 2026\nsource: x\ndays_off:\n  - holiday: quoc_khanh\n    date: 2026-09-01\n    why: x\n");
  REQUIRE_DIAG(e, "calendar/2026.yaml:6:5", "unknown key 'why' in the days off of 'quoc_khanh'");
  const auto m = rules(
      "weekend: [saturday, sunday]\nholidays:\n  - id: a\n    name: A\n    solar: {month: 1, day: 1, "
      "hour: 0}\n    legal_basis: x\n");
  REQUIRE_DIAG(m, "calendar.yaml:5:31", "unknown key 'hour' in 'solar' of holiday 'a'");
}

TEST_CASE("Anchor days that do not occur every year are refused", "[calendar][yaml]") {
  const auto d = rules(R"(weekend: [saturday, sunday]
holidays:
  - id: a
    name: A
    solar: {month: 2, day: 31}
    legal_basis: x
  - id: b
    name: B
    solar: {month: 2, day: 29}
    legal_basis: x
  - id: c
    name: C
    lunar: {month: 12, day: 30}
    legal_basis: x
  - id: d
    name: D
    solar: {month: 13, day: 1}
    legal_basis: x
)");
  REQUIRE_EXACT(d, "calendar.yaml:5:28: error: holiday 'a': solar day 31/02 does not exist");
  REQUIRE_EXACT(d, "calendar.yaml:9:28: error: holiday 'b': 29/02 does not occur every year");
  REQUIRE_EXACT(d,
                "calendar.yaml:13:29: error: holiday 'c': lunar day 30 does not occur in every lunar month");
  REQUIRE_EXACT(d, "calendar.yaml:17:20: error: holiday 'd': month 13 is not 1–12");
  REQUIRE(d.size() == 4);
}

TEST_CASE("Bad dates and values are located at the value", "[calendar][yaml]") {
  const auto d = rules(R"(weekend: [saturday, sundae]
holidays:
  - id: a
    name: A
    solar: {month: 1, day: one}
    legal_basis: x
    effective_from: 2026-02-31
    compensate: maybe
)");
  REQUIRE_EXACT(d,
                "calendar.yaml:1:21: error: unknown weekday 'sundae' in 'weekend' (expected one of monday, "
                "tuesday, wednesday, thursday, friday, saturday, sunday)");
  REQUIRE_EXACT(d, "calendar.yaml:5:28: error: 'day' must be an integer");
  REQUIRE_EXACT(d,
                "calendar.yaml:7:21: error: 'effective_from' is not a valid date: '2026-02-31' (expected "
                "YYYY-MM-DD, a day that exists)");
  REQUIRE_EXACT(d, "calendar.yaml:8:17: error: 'compensate' must be true or false");

  const auto y = year(
      "year: 2026\nsource: x\ndays_off:\n  - holiday: quoc_khanh\n    from: 2026-02-31\n    to: "
      "2026-03-01\n");
  REQUIRE_EXACT(
      y,
      "calendar/2026.yaml:5:11: error: 'from' is not a valid date: '2026-02-31' (expected YYYY-MM-DD, "
      "a day that exists)");
}

TEST_CASE("effective_to before effective_from", "[calendar][yaml]") {
  const auto d = rules(R"(weekend: [saturday, sunday]
holidays:
  - id: a
    name: A
    solar: {month: 1, day: 1}
    legal_basis: x
    effective_from: 2026-01-01
    effective_to: 2025-12-31
)");
  REQUIRE_EXACT(d,
                "calendar.yaml:8:19: error: holiday 'a': effective_to 2025-12-31 is before effective_from "
                "2026-01-01");
  REQUIRE(d.size() == 1);
}

TEST_CASE("Duplicate holiday ids, keys and weekdays", "[calendar][yaml]") {
  const auto d = rules(R"(weekend: [saturday, sunday, saturday]
holidays:
  - id: a
    name: A
    solar: {month: 1, day: 1}
    legal_basis: x
  - id: a
    name: A again
    name: A twice
    solar: {month: 1, day: 2}
    legal_basis: x
)");
  REQUIRE_EXACT(d, "calendar.yaml:9:5: error: duplicate key 'name' in holiday 'a' (first at line 8)");
  // A malformed entry is left out, so the duplicate id is reported once the keys are fixed.
  const auto e = rules(R"(weekend: [saturday, sunday, saturday]
holidays:
  - id: a
    name: A
    solar: {month: 1, day: 1}
    legal_basis: x
  - id: a
    name: A again
    solar: {month: 1, day: 2}
    legal_basis: x
)");
  REQUIRE_EXACT(e, "calendar.yaml:1:29: error: Saturday is listed twice in 'weekend' (first at line 1)");
  REQUIRE_EXACT(e, "calendar.yaml:7:9: error: duplicate holiday id 'a' (first defined at line 3)");
}

TEST_CASE("Holiday shape: anchors, required keys, ids", "[calendar][yaml]") {
  const auto d = rules(R"(weekend: [saturday, sunday]
holidays:
  - id: both
    name: X
    solar: {month: 1, day: 1}
    lunar: {month: 1, day: 1}
    legal_basis: x
  - id: none
    name: X
    legal_basis: x
  - id: Bad Id
    name: " "
    solar: {month: 1, day: 1}
    legal_basis: ""
    days: 0
  - name: X
    solar: {month: 1, day: 1}
)");
  REQUIRE_EXACT(d,
                "calendar.yaml:6:5: error: holiday 'both' has both 'solar' and 'lunar': give one anchor day");
  REQUIRE_EXACT(d, "calendar.yaml:8:5: error: holiday 'none' needs an anchor day: 'solar' or 'lunar'");
  REQUIRE_EXACT(d, "calendar.yaml:16:5: error: missing key 'id' in holiday");
  REQUIRE_EXACT(d, "calendar.yaml:16:5: error: missing key 'legal_basis' in holiday");
  // The shape errors above stop the content check; with them fixed:
  const auto e = rules(R"(weekend: [saturday, sunday]
holidays:
  - id: Bad Id
    name: " "
    solar: {month: 1, day: 1}
    legal_basis: ""
    days: 0
    offset: 40
)");
  REQUIRE_EXACT(e,
                "calendar.yaml:3:9: error: holiday id 'Bad Id' may contain only lowercase ASCII letters, "
                "digits, '-', '.' and '_'");
  REQUIRE_EXACT(e, "calendar.yaml:4:11: error: holiday 'Bad Id' has an empty name");
  REQUIRE_EXACT(e, "calendar.yaml:6:18: error: holiday 'Bad Id' has an empty legal basis");
  REQUIRE_EXACT(e, "calendar.yaml:7:11: error: holiday 'Bad Id': 'days' must be between 1 and 31 (got 0)");
  REQUIRE_EXACT(e,
                "calendar.yaml:8:13: error: holiday 'Bad Id': 'offset' must be between -31 and 31 (got 40)");
}

// ---------------------------------------------------------------------------------------------
// Yearly files

TEST_CASE("An override naming an unknown holiday, or one not in force", "[calendar][yaml]") {
  const auto d = year(R"(year: 2025
source: x
days_off:
  - holiday: tet
    date: 2025-01-29
  - holiday: ngay_van_hoa_viet_nam
    date: 2025-11-24
)",
                      "calendar/2025.yaml");
  REQUIRE_EXACT(d,
                "calendar/2025.yaml:4:14: error: unknown holiday 'tet' (expected one of: tet_nguyen_dan, "
                "quoc_khanh, ngay_van_hoa_viet_nam)");
  REQUIRE_EXACT(d,
                "calendar/2025.yaml:6:14: error: holiday 'ngay_van_hoa_viet_nam' is not in force in 2025 (in "
                "force from 2026-01-01)");
  REQUIRE(d.size() == 2);
}

TEST_CASE("Days off outside the year of the file, or backwards", "[calendar][yaml]") {
  const auto d = year(R"(year: 2026
source: x
days_off:
  - holiday: tet_nguyen_dan
    from: 2025-12-31
    to: 2026-01-02
  - holiday: quoc_khanh
    from: 2026-09-02
    to: 2026-08-29
  - holiday: quoc_khanh
    date: 2027-01-01
)");
  REQUIRE_EXACT(
      d, "calendar/2026.yaml:5:11: error: day off 2025-12-31 is outside the year 2026 of this announcement");
  REQUIRE_EXACT(d, "calendar/2026.yaml:9:9: error: 'to' 2026-08-29 is before 'from' 2026-09-02");
  REQUIRE_EXACT(
      d, "calendar/2026.yaml:11:11: error: day off 2027-01-01 is outside the year 2026 of this announcement");
  INFO(show(d));
  REQUIRE(d.size() == 3);
}

TEST_CASE("Make-up working days must be weekly rest days of the year that are not days off",
          "[calendar][yaml]") {
  const auto d = year(R"(year: 2026
source: x
days_off:
  - holiday: quoc_khanh
    from: 2026-08-29
    to: 2026-09-02
working_days:
  - date: 2026-08-21
  - date: 2026-08-22
  - date: 2026-08-22
  - date: 2026-08-29
  - date: 2025-12-27
)");
  REQUIRE_EXACT(
      d,
      "calendar/2026.yaml:8:11: error: make-up working day 2026-08-21 is a Friday, not a weekly rest "
      "day (Saturday, Sunday)");
  REQUIRE_EXACT(
      d,
      "calendar/2026.yaml:10:11: error: make-up working day 2026-08-22 is listed twice (first at line "
      "9)");
  REQUIRE_EXACT(d,
                "calendar/2026.yaml:11:11: error: make-up working day 2026-08-29 is also a day off of this "
                "announcement (line 4)");
  REQUIRE_EXACT(
      d,
      "calendar/2026.yaml:12:11: error: make-up working day 2025-12-27 is outside the year 2026 of this "
      "announcement");
  INFO(show(d));
  REQUIRE(d.size() == 4);
}

TEST_CASE("A make-up working day on a computed holiday", "[calendar][yaml]") {
  // 24/11/2029 is a Saturday, and Ngày Văn hóa Việt Nam.
  const auto d = year("year: 2029\nsource: x\nworking_days:\n  - date: 2029-11-24\n", "calendar/2029.yaml");
  REQUIRE_EXACT(d,
                "calendar/2029.yaml:4:11: error: make-up working day 2029-11-24 is a day off of holiday "
                "'ngay_van_hoa_viet_nam'");
}

TEST_CASE("Duplicate days off, years, keys", "[calendar][yaml]") {
  const auto d = year(R"(year: 2026
source: x
days_off:
  - holiday: tet_nguyen_dan
    from: 2026-02-14
    to: 2026-02-22
  - holiday: quoc_khanh
    from: 2026-02-20
    to: 2026-02-21
)");
  REQUIRE_EXACT(d, "calendar/2026.yaml:8:11: error: day 2026-02-20 is already a day off (line 4)");
  REQUIRE(d.size() == 1);

  const auto two = years({{"calendar/2026.yaml", "year: 2026\nsource: x\n"},
                          {"calendar/2026b.yaml", "year: 2026\nsource: y\n"}});
  REQUIRE_EXACT(
      two,
      "calendar/2026b.yaml:1:7: error: the year 2026 is announced twice (first in calendar/2026.yaml "
      "at line 1)");

  const auto keys = year("year: 2026\nsource: x\nyear: 2027\n");
  REQUIRE_EXACT(
      keys,
      "calendar/2026.yaml:3:1: error: duplicate key 'year' in the year's announcement (first at line 1)");
}

TEST_CASE("Year files: name, range, shape", "[calendar][yaml]") {
  const auto named = year("year: 2026\nsource: x\n", "calendar/2025.yaml");
  REQUIRE_EXACT(named,
                "calendar/2025.yaml:1:7: error: the file is named 2025.yaml but announces the year 2026");

  const auto range = year("year: 2300\nsource: x\n", "calendar/future.yaml");
  REQUIRE_EXACT(range,
                "calendar/future.yaml:1:7: error: year 2300 is outside the calendar's years 1900–2199");

  const auto empty_source = year("year: 2026\nsource: \"\"\n");
  REQUIRE_EXACT(empty_source, "calendar/2026.yaml:2:9: error: the announcement of 2026 has an empty source");

  const auto missing = year("source: x\ndays_off:\n  - holiday: quoc_khanh\n    from: 2026-09-01\n");
  REQUIRE_EXACT(missing, "calendar/2026.yaml:1:1: error: missing key 'year' in the year's announcement");
  REQUIRE_EXACT(missing,
                "calendar/2026.yaml:3:5: error: missing key 'to' in the days off of 'quoc_khanh' (or "
                "'date' for a single day)");

  const auto both = year(
      "year: 2026\nsource: x\ndays_off:\n  - holiday: quoc_khanh\n    date: 2026-09-01\n    to: "
      "2026-09-02\n");
  REQUIRE_EXACT(both,
                "calendar/2026.yaml:6:5: error: the days off of 'quoc_khanh': give either 'date' or 'from' "
                "and 'to'");

  const auto list = year("- 2026\n");
  REQUIRE_EXACT(list, "calendar/2026.yaml:1:1: error: expected a map with the keys 'year' and 'source'");

  const auto not_list = year("year: 2026\nsource: x\nworking_days: 2026-08-22\n");
  REQUIRE_EXACT(not_list,
                "calendar/2026.yaml:3:15: error: 'working_days' must be a list of make-up working days");
}

TEST_CASE("Broken text never throws and is located", "[calendar][yaml]") {
  const auto syntax = rules("weekend: [saturday, sunday\nholidays: []\n");
  REQUIRE(syntax.size() == 1);
  CHECK(syntax[0].loc.file == "calendar.yaml");
  CHECK(syntax[0].loc.line >= 1);

  const auto utf8 = rules("weekend: [saturday, sunday]\nholidays:\n  - id: a\n    name: \"T\xC3\x28t\"\n");
  REQUIRE_EXACT(utf8,
                "calendar.yaml:4:13: error: invalid UTF-8: byte 0xC3 at byte offset 60 does not start a "
                "valid sequence");

  const auto empty = rules("");
  REQUIRE_EXACT(
      empty, "calendar.yaml:1:1: error: empty file: expected a map with the keys 'weekend' and 'holidays'");

  const auto two_docs = rules("weekend: []\nholidays: []\n---\nweekend: []\n");
  REQUIRE_DIAG(two_docs, "calendar.yaml:4:1", "only one YAML document is allowed per file");

  const auto weird = rules("weekend: {a: b}\nholidays: [1, [2], {x: y}]\n");
  REQUIRE_EXACT(weird, "calendar.yaml:1:10: error: 'weekend' must be a list of weekdays (monday … sunday)");
  REQUIRE_DIAG(weird, "calendar.yaml:2:12", "each holiday must be a map");
}

TEST_CASE("load_calendar_dir reads the rules and every yearly file", "[calendar][yaml]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "hoso_calendar_loader_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "calendar");
  auto write = [](const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
  };
  CalendarSpec spec;
  // No calendar.yaml.
  auto d = yaml::load_calendar_dir(dir.string(), spec);
  REQUIRE(d.size() == 1);
  CHECK(d[0].loc.file == (dir / "calendar.yaml").string());
  CHECK(d[0].message.find("no such file") != std::string::npos);

  write(dir / "calendar.yaml", kRules);
  write(dir / "calendar" / "2026.yaml", "year: 2026\nsource: x\nworking_days:\n  - date: 2026-08-22\n");
  write(dir / "calendar" / "2025.yaml", "year: 2025\nsource: y\n");
  write(dir / "calendar" / "README.txt", "not a year");
  d = yaml::load_calendar_dir(dir.string(), spec);
  INFO(show(d));
  REQUIRE(d.empty());
  REQUIRE(spec.years.size() == 2);
  CHECK(spec.years[0].year.value == 2025);  // by file name
  CHECK(spec.years[1].year.value == 2026);
  CHECK(spec.holidays.size() == 3);

  write(dir / "calendar" / "2027.yaml", "year: 2027\nsource: z\nworking_days:\n  - date: 2027-08-20\n");
  d = yaml::load_calendar_dir(dir.string(), spec);
  REQUIRE_EXACT(
      d, (dir / "calendar" / "2027.yaml").string() +
             ":4:11: error: make-up working day 2027-08-20 is a Friday, not a weekly rest day (Saturday, "
             "Sunday)");
  fs::remove_all(dir);
}
