// Tests of the business calendar (engine/calendar.hpp): the shipped config (rules and the 2025 and
// 2026 announcements), then small hand-written specs for each rule.
#include "engine/calendar.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/yaml/calendar_loader.hpp"

#ifndef HOSO_SOURCE_DIR
#error "HOSO_SOURCE_DIR must be defined as the repository root"
#endif

using namespace hoso;

namespace {

Date day(const char* iso) {
  const auto d = parse_date(iso);
  REQUIRE(d);
  return *d;
}

std::string show(const Result<Date>& r) { return r ? format_date(r.value()) : "error: " + r.error().message; }

const BusinessCalendar& shipped() {
  static const BusinessCalendar cal = [] {
    CalendarSpec spec;
    const auto diags = yaml::load_calendar_dir(std::string(HOSO_SOURCE_DIR) + "/config", spec);
    std::string text;
    for (const auto& d : diags) text += d.format() + "\n";
    INFO(text);
    REQUIRE(diags.empty());
    auto built = BusinessCalendar::build(spec);
    INFO((built ? std::string() : built.error().message));
    REQUIRE(built);
    return std::move(built).value();
  }();
  return cal;
}

// (date, kind, holiday id) of a year's days off.
using Row = std::tuple<std::string, std::string, std::string>;
std::vector<Row> rows(const BusinessCalendar& cal, int year) {
  std::vector<Row> out;
  for (const auto& h : cal.holidays(year))
    out.emplace_back(format_date(h.date), holiday_kind_name(h.kind), h.holiday);
  return out;
}

std::vector<Row> rows_of(const BusinessCalendar& cal, int year, const std::string& holiday) {
  std::vector<Row> out;
  for (auto& r : rows(cal, year))
    if (std::get<2>(r) == holiday) out.push_back(r);
  return out;
}

// A hand-written rule: `days` days from `offset` days after month/day of the given calendar.
HolidayRuleSpec rule(const std::string& id, AnchorCalendar calendar, int month, int d, int offset = 0,
                     int days = 1) {
  HolidayRuleSpec r;
  r.id.value = id;
  r.name.value = "Ngày " + id;
  r.legal_basis.value = "thử nghiệm";
  r.calendar.value = calendar;
  r.month.value = month;
  r.day.value = d;
  r.offset.value = offset;
  r.days.value = days;
  return r;
}

CalendarSpec sat_sun() {
  CalendarSpec spec;
  spec.weekend = {Located<int>{6, {}}, Located<int>{7, {}}};
  return spec;
}

BusinessCalendar build(const CalendarSpec& spec) {
  auto r = BusinessCalendar::build(spec);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  return std::move(r).value();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The shipped configuration

TEST_CASE("holidays(2026) lists exactly the announced and computed days off", "[calendar]") {
  const auto& cal = shipped();
  const std::vector<Row> expected = {
      {"2026-01-01", "announced", "tet_duong_lich"},       {"2026-01-02", "announced", "tet_duong_lich"},
      {"2026-01-03", "announced", "tet_duong_lich"},       {"2026-01-04", "announced", "tet_duong_lich"},
      {"2026-02-14", "announced", "tet_nguyen_dan"},       {"2026-02-15", "announced", "tet_nguyen_dan"},
      {"2026-02-16", "announced", "tet_nguyen_dan"},       {"2026-02-17", "announced", "tet_nguyen_dan"},
      {"2026-02-18", "announced", "tet_nguyen_dan"},       {"2026-02-19", "announced", "tet_nguyen_dan"},
      {"2026-02-20", "announced", "tet_nguyen_dan"},       {"2026-02-21", "announced", "tet_nguyen_dan"},
      {"2026-02-22", "announced", "tet_nguyen_dan"},       {"2026-04-26", "lunar", "gio_to_hung_vuong"},
      {"2026-04-27", "compensatory", "gio_to_hung_vuong"}, {"2026-04-30", "fixed", "ngay_chien_thang"},
      {"2026-05-01", "fixed", "quoc_te_lao_dong"},         {"2026-08-29", "announced", "quoc_khanh"},
      {"2026-08-30", "announced", "quoc_khanh"},           {"2026-08-31", "announced", "quoc_khanh"},
      {"2026-09-01", "announced", "quoc_khanh"},           {"2026-09-02", "announced", "quoc_khanh"},
      {"2026-11-24", "fixed", "ngay_van_hoa_viet_nam"},
  };
  CHECK(rows(cal, 2026) == expected);
  const auto make_ups = cal.make_up_working_days(2026);
  REQUIRE(make_ups.size() == 2);
  CHECK(format_date(make_ups[0].date) == "2026-01-10");
  CHECK(format_date(make_ups[1].date) == "2026-08-22");
  CHECK(make_ups[1].note == "Làm bù cho thứ Hai 31/08/2026");
  CHECK(cal.has_announcement(2026));
  CHECK_FALSE(cal.has_announcement(2027));

  // Names are Vietnamese; an announced day cites its announcement, a computed one the law.
  const auto days = cal.holidays(2026);
  CHECK(days[4].name == "Tết Nguyên đán");
  CHECK(days[4].basis.find("Thủ tướng") != std::string::npos);
  CHECK(days[0].basis.find("12729/VPCP-KGVX") != std::string::npos);
  CHECK(days[13].name == "Giỗ Tổ Hùng Vương");
  CHECK(days[13].basis == "Bộ luật Lao động 2019, Điều 112, khoản 1, điểm e");
  CHECK(format_date(days[14].compensates) == "2026-04-26");
}

TEST_CASE("Giỗ Tổ 2026 falls on a Sunday: Monday 27/04 is off", "[calendar]") {
  const auto& cal = shipped();
  CHECK(iso_weekday(day("2026-04-26")) == 7);
  CHECK_FALSE(cal.is_working_day(day("2026-04-26")));
  CHECK_FALSE(cal.is_working_day(day("2026-04-27")));
  CHECK(cal.is_working_day(day("2026-04-28")));
  // Friday 24/04 + 1 working day: Tuesday 28/04.
  CHECK(show(cal.add_working_days(day("2026-04-24"), 1)) == "2026-04-28");
}

TEST_CASE("Working days across Tết 2026 (announced) and Tết 2027 (computed)", "[calendar]") {
  const auto& cal = shipped();
  // 2026: off from Saturday 14/02 to Sunday 22/02.
  CHECK(show(cal.add_working_days(day("2026-02-12"), 1)) == "2026-02-13");
  CHECK(show(cal.add_working_days(day("2026-02-12"), 2)) == "2026-02-23");
  CHECK(show(cal.add_working_days(day("2026-02-13"), 1)) == "2026-02-23");
  CHECK(show(cal.add_working_days(day("2026-02-17"), 1)) == "2026-02-23");  // triggered during Tết
  CHECK(show(cal.add_working_days(day("2026-02-09"), 10)) == "2026-03-02");
  CHECK(cal.working_days_between(day("2026-02-13"), day("2026-02-23")).value() == 1);
  CHECK(cal.working_days_between(day("2026-02-01"), day("2026-02-28")).value() ==
        15);  // 20 weekdays, 16–20 off

  // 2027, no announcement: 30 Tết is Friday 05/02 (the 12th month has 29 days), Tết Saturday
  // 06/02, so the five days are 05–09/02 and Saturday 06 and Sunday 07 give Wednesday 10 and
  // Thursday 11 off.
  CHECK(rows_of(cal, 2027, "tet_nguyen_dan") == std::vector<Row>{
                                                    {"2027-02-05", "lunar", "tet_nguyen_dan"},
                                                    {"2027-02-06", "lunar", "tet_nguyen_dan"},
                                                    {"2027-02-07", "lunar", "tet_nguyen_dan"},
                                                    {"2027-02-08", "lunar", "tet_nguyen_dan"},
                                                    {"2027-02-09", "lunar", "tet_nguyen_dan"},
                                                    {"2027-02-10", "compensatory", "tet_nguyen_dan"},
                                                    {"2027-02-11", "compensatory", "tet_nguyen_dan"},
                                                });
  CHECK(show(cal.add_working_days(day("2027-02-04"), 1)) == "2027-02-12");
  CHECK(show(cal.add_working_days(day("2027-02-04"), 2)) == "2027-02-15");
  CHECK(cal.working_days_between(day("2027-02-04"), day("2027-02-15")).value() == 2);
}

TEST_CASE("Quốc khánh with its adjacent day, and the swapped Saturday 22/08/2026", "[calendar]") {
  const auto& cal = shipped();
  // 2026: Saturday 22/08 is worked, 29/08–02/09 is off.
  CHECK(cal.is_working_day(day("2026-08-22")));
  CHECK_FALSE(cal.is_working_day(day("2026-08-23")));
  CHECK_FALSE(cal.is_working_day(day("2026-08-31")));
  CHECK(show(cal.add_working_days(day("2026-08-21"), 1)) == "2026-08-22");
  CHECK(show(cal.add_working_days(day("2026-08-21"), 2)) == "2026-08-24");
  CHECK(show(cal.add_working_days(day("2026-08-28"), 1)) == "2026-09-03");
  CHECK(cal.working_days_between(day("2026-08-17"), day("2026-09-04")).value() ==
        12);  // 18–21, 22, 24–28, 3–4
  // 2027, no announcement: the default adjacent day 01/09 (Wednesday) and 02/09 (Thursday).
  CHECK(rows_of(cal, 2027, "quoc_khanh") ==
        std::vector<Row>{{"2027-09-01", "fixed", "quoc_khanh"}, {"2027-09-02", "fixed", "quoc_khanh"}});
  CHECK(show(cal.add_working_days(day("2027-08-31"), 1)) == "2027-09-03");
  // Saturday 10/01/2026 is worked in exchange for Friday 02/01.
  CHECK(cal.is_working_day(day("2026-01-10")));
  CHECK_FALSE(cal.is_working_day(day("2026-01-02")));
  CHECK(show(cal.add_working_days(day("2025-12-31"), 1)) == "2026-01-05");
}

TEST_CASE("An announcement is authoritative for the holidays it names", "[calendar]") {
  const auto& cal = shipped();
  // 2025: Tết off 25/01–02/02. The rule alone would give 28/01–01/02 and, for Saturday 01/02, a
  // compensatory Monday 03/02; the announcement gave Monday 27/01 instead.
  const auto tet = rows_of(cal, 2025, "tet_nguyen_dan");
  REQUIRE(tet.size() == 9);
  for (const auto& r : tet) CHECK(std::get<1>(r) == "announced");
  CHECK(std::get<0>(tet.front()) == "2025-01-25");
  CHECK(std::get<0>(tet.back()) == "2025-02-02");
  CHECK(cal.is_working_day(day("2025-02-03")));
  CHECK_FALSE(cal.is_working_day(day("2025-01-27")));
  // 30/04–04/05/2025 with Saturday 26/04 worked for Friday 02/05.
  CHECK(cal.is_working_day(day("2025-04-26")));
  CHECK_FALSE(cal.is_working_day(day("2025-05-02")));
  CHECK(show(cal.add_working_days(day("2025-04-25"), 1)) == "2025-04-26");
  CHECK(show(cal.add_working_days(day("2025-04-29"), 1)) == "2025-05-05");
  // Holidays the year does not override are computed: Giỗ Tổ, Monday 07/04/2025.
  CHECK(rows_of(cal, 2025, "gio_to_hung_vuong") ==
        std::vector<Row>{{"2025-04-07", "lunar", "gio_to_hung_vuong"}});
}

TEST_CASE("Ngày Văn hóa Việt Nam (24/11) is a holiday from 2026 on", "[calendar]") {
  const auto& cal = shipped();
  CHECK(rows_of(cal, 2025, "ngay_van_hoa_viet_nam").empty());
  CHECK(cal.is_working_day(day("2025-11-24")));  // a Monday
  CHECK_FALSE(cal.is_working_day(day("2026-11-24")));
  CHECK(rows_of(cal, 2030, "ngay_van_hoa_viet_nam") ==
        std::vector<Row>{{"2030-11-24", "fixed", "ngay_van_hoa_viet_nam"},
                         {"2030-11-25", "compensatory", "ngay_van_hoa_viet_nam"}});  // a Sunday
}

TEST_CASE("Compensatory days of computed years", "[calendar]") {
  const auto& cal = shipped();
  // 2022 (no announcement here): 30/04 Saturday and 01/05 Sunday give Monday 02/05 and Tuesday 03/05.
  CHECK(rows_of(cal, 2022, "ngay_chien_thang") ==
        std::vector<Row>{{"2022-04-30", "fixed", "ngay_chien_thang"},
                         {"2022-05-02", "compensatory", "ngay_chien_thang"}});
  CHECK(rows_of(cal, 2022, "quoc_te_lao_dong") ==
        std::vector<Row>{{"2022-05-01", "fixed", "quoc_te_lao_dong"},
                         {"2022-05-03", "compensatory", "quoc_te_lao_dong"}});
  // 2027: 01/05 Saturday gives Monday 03/05.
  CHECK(!cal.is_working_day(day("2027-05-03")));
  // 2028: 01/01 Saturday gives Monday 03/01.
  CHECK(rows_of(cal, 2028, "tet_duong_lich") ==
        std::vector<Row>{{"2028-01-01", "fixed", "tet_duong_lich"},
                         {"2028-01-03", "compensatory", "tet_duong_lich"}});
}

TEST_CASE("Calendar-day periods that end on a day off end on the next working day", "[calendar]") {
  const auto& cal = shipped();
  CHECK(show(cal.add_days(day("2026-03-02"), 10)) == "2026-03-12");  // a Thursday: unchanged
  CHECK(show(cal.add_days(day("2026-03-04"), 10)) == "2026-03-16");  // Saturday 14/03 → Monday
  CHECK(show(cal.add_days(day("2026-02-04"), 10)) == "2026-02-23");  // Saturday 14/02, Tết → 23/02
  CHECK(show(cal.add_days(day("2026-04-16"), 10)) == "2026-04-28");  // Sunday 26/04 Giỗ Tổ, 27/04 nghỉ bù
  CHECK(show(cal.add_days(day("2026-08-12"), 10)) == "2026-08-22");  // the worked Saturday
  CHECK(show(cal.add_days(day("2026-02-15"), 0)) == "2026-02-23");
  CHECK(show(cal.add_days(day("2026-02-13"), 0)) == "2026-02-13");
}

TEST_CASE("Period arithmetic: n = 0, negative n, range, and its laws", "[calendar]") {
  const auto& cal = shipped();
  CHECK(show(cal.add_working_days(day("2026-02-15"), 0)) == "2026-02-15");  // the trigger itself
  const auto negative = cal.add_working_days(day("2026-02-15"), -1);
  REQUIRE_FALSE(negative);
  CHECK(negative.error().code == ErrorCode::kInvalidInput);
  CHECK(negative.error().message.find("âm") != std::string::npos);
  CHECK_FALSE(cal.add_days(day("2026-02-15"), -1));
  CHECK(cal.working_days_between(day("2026-02-23"), day("2026-02-13")).value() == -1);
  CHECK(cal.working_days_between(day("2026-02-15"), day("2026-02-15")).value() == 0);

  // Range: 1900-01-01 … 2199-12-31.
  CHECK(cal.covers(day("1900-01-01")));
  CHECK(cal.covers(day("2199-12-31")));
  CHECK_FALSE(cal.covers(Date{day("1900-01-01").days - 1}));
  CHECK_FALSE(cal.add_working_days(day("2199-12-20"), 30));
  CHECK_FALSE(cal.add_working_days(Date{day("2199-12-31").days + 1}, 1));
  CHECK_FALSE(cal.add_days(day("2199-12-31"), 1));
  CHECK_FALSE(cal.working_days_between(day("2026-01-01"), Date{day("2199-12-31").days + 1}));
  // Outside the range only weekly rest days are days off.
  CHECK(cal.is_working_day(day("2200-01-01")));        // a Wednesday
  CHECK_FALSE(cal.is_working_day(day("2200-01-04")));  // a Saturday
  CHECK(cal.holidays(2200).empty());

  // Laws, on every day of 2025–2027 and a few lengths.
  for (Date t = day("2025-01-01"); t <= day("2027-12-31"); t = Date{t.days + 1}) {
    for (int n : {1, 2, 5, 10, 20}) {
      const auto due = cal.add_working_days(t, n);
      REQUIRE(due);
      INFO(format_date(t) << " + " << n);
      CHECK(cal.is_working_day(due.value()));
      CHECK(cal.working_days_between(t, due.value()).value() == n);
      CHECK(cal.working_days_between(t, Date{due->days - 1}).value() == n - 1);
    }
  }
}

TEST_CASE("A period ends at 24:00 Vietnam time, 17:00 UTC", "[calendar]") {
  CHECK(format_utc(end_of_day_utc(day("2026-02-23"))) == "2026-02-23T17:00:00.000Z");
  CHECK(format_utc(start_of_day_utc(day("2026-02-23"))) == "2026-02-22T17:00:00.000Z");
  CHECK(vietnam_date(start_of_day_utc(day("2026-02-23"))) == day("2026-02-23"));
  CHECK(vietnam_date(Timestamp{end_of_day_utc(day("2026-02-23")).millis - 1}) == day("2026-02-23"));
  CHECK(vietnam_date(end_of_day_utc(day("2026-02-23"))) == day("2026-02-24"));
  CHECK(end_of_day_utc(day("1969-12-31")).millis == 17LL * 3600 * 1000 - 86400000LL);
}

// ---------------------------------------------------------------------------------------------
// Hand-written specs

TEST_CASE("Weekly rest days only", "[calendar]") {
  const auto cal = build(sat_sun());
  CHECK(cal.is_working_day(day("2026-02-17")));
  CHECK_FALSE(cal.is_working_day(day("2026-02-21")));
  CHECK(cal.holidays(2026).empty());
  CHECK(show(cal.add_working_days(day("2026-02-20"), 1)) == "2026-02-23");
  CHECK(cal.working_days_between(day("2026-01-01"), day("2026-12-31")).value() == 260);
}

TEST_CASE("Compensation: in date order, skipping days off, once per day", "[calendar]") {
  SECTION("two holidays on one Saturday give one compensatory day") {
    auto spec = sat_sun();
    spec.holidays = {rule("a", AnchorCalendar::kSolar, 5, 2), rule("b", AnchorCalendar::kSolar, 5, 2)};
    const auto cal = build(spec);  // 02/05/2026 is a Saturday
    CHECK(rows(cal, 2026) == std::vector<Row>{{"2026-05-02", "fixed", "a"},
                                              {"2026-05-02", "fixed", "b"},
                                              {"2026-05-04", "compensatory", "a"}});
  }
  SECTION("the compensatory day skips another holiday") {
    auto spec = sat_sun();
    spec.holidays = {rule("sat", AnchorCalendar::kSolar, 5, 2), rule("mon", AnchorCalendar::kSolar, 5, 4)};
    CHECK(rows(build(spec), 2026) == std::vector<Row>{{"2026-05-02", "fixed", "sat"},
                                                      {"2026-05-04", "fixed", "mon"},
                                                      {"2026-05-05", "compensatory", "sat"}});
  }
  SECTION("compensate: false") {
    auto spec = sat_sun();
    spec.holidays = {rule("sat", AnchorCalendar::kSolar, 5, 2)};
    spec.holidays[0].compensate.value = false;
    CHECK(rows(build(spec), 2026) == std::vector<Row>{{"2026-05-02", "fixed", "sat"}});
  }
  SECTION("a lunar span with an offset") {
    auto spec = sat_sun();
    spec.holidays = {rule("tet", AnchorCalendar::kLunar, 1, 1, -1, 5)};
    const auto cal = build(spec);
    CHECK(format_date(cal.holidays(2026).front().date) == "2026-02-16");  // 29 tháng Chạp
    CHECK(format_date(cal.holidays(2026).back().date) == "2026-02-20");   // mùng 4
    CHECK(cal.holidays(2026).size() == 5);
  }
}

TEST_CASE("Effective dates are compared with the anchor day", "[calendar]") {
  auto spec = sat_sun();
  spec.holidays = {rule("x", AnchorCalendar::kSolar, 11, 24)};
  spec.holidays[0].effective_from = Located<Date>{day("2026-11-24"), {}};
  spec.holidays[0].effective_to = Located<Date>{day("2028-11-24"), {}};
  const auto cal = build(spec);
  CHECK(cal.holidays(2025).empty());
  CHECK(cal.holidays(2026).size() == 1);
  CHECK(cal.holidays(2028).size() == 1);
  CHECK(cal.holidays(2029).empty());
}

TEST_CASE("build refuses an invalid spec", "[calendar]") {
  auto spec = sat_sun();
  spec.holidays = {rule("x", AnchorCalendar::kSolar, 2, 31), rule("x", AnchorCalendar::kLunar, 1, 30)};
  const auto diags = check_calendar(spec);
  REQUIRE(diags.size() == 3);
  CHECK(diags[0].message == "holiday 'x': solar day 31/02 does not exist");
  CHECK(diags[1].message == "duplicate holiday id 'x' (first defined at line 0)");
  CHECK(diags[2].message == "holiday 'x': lunar day 30 does not occur in every lunar month");
  const auto r = BusinessCalendar::build(spec);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidDefinition);
  CHECK(r.error().message.find("(and 2 more)") != std::string::npos);

  auto all_week = CalendarSpec{};
  for (int d = 1; d <= 7; ++d) all_week.weekend.push_back(Located<int>{d, {}});
  CHECK_FALSE(BusinessCalendar::build(all_week));
}

TEST_CASE("time: format_utc writes every field zero-padded and parse_utc reads it back", "[time]") {
  CHECK(format_utc(Timestamp{0}) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc(Timestamp{1'780'000'000'007}) == "2026-05-28T20:26:40.007Z");
  CHECK(format_utc(Timestamp{-1}) == "1969-12-31T23:59:59.999Z");
  CHECK(format_utc(Timestamp{253'402'300'799'999}) == "9999-12-31T23:59:59.999Z");
  for (std::int64_t t = -86'400'000LL * 366 * 60; t < 86'400'000LL * 366 * 200; t += 86'400'000LL * 37 + 3'723'456)
    REQUIRE(parse_utc(format_utc(Timestamp{t}))->millis == t);
}
