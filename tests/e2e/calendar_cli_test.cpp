// hoso calendar through the real binary: the calendar stored by init, and one read from a config folder.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tests/e2e/cli_support.hpp"

namespace hoso::testing {

namespace {

std::vector<std::string> dates_of(const boost::json::value& v, const char* list) {
  std::vector<std::string> out;
  for (const auto& d : v.at(list).as_array()) out.push_back(str(d.at("date")));
  return out;
}

}  // namespace

TEST_CASE("calendar holidays: the year's days off and worked Saturdays, from the database", "[e2e][calendar]") {
  Cli cli;
  cli.init();
  const auto y2026 = cli.ok_json({"calendar", "holidays", "2026"});
  CHECK(y2026.at("announced").as_bool());
  const auto off = dates_of(y2026, "holidays");
  for (const char* d : {"2026-02-14", "2026-02-17", "2026-02-22", "2026-04-26", "2026-04-27", "2026-04-30",
                        "2026-05-01", "2026-08-29", "2026-09-02", "2026-11-24"})
    CHECK(std::find(off.begin(), off.end(), d) != off.end());
  CHECK(std::find(off.begin(), off.end(), "2026-02-23") == off.end());
  CHECK(dates_of(y2026, "working_days") == std::vector<std::string>{"2026-01-10", "2026-08-22"});
  // 27/04/2026 makes up for Giỗ Tổ on Sunday 26/04.
  for (const auto& h : y2026.at("holidays").as_array())
    if (str(h.at("date")) == "2026-04-27") {
      CHECK(str(h.at("kind")) == "compensatory");
      CHECK(str(h.at("compensates")) == "2026-04-26");
    }
  // 24/11 is a holiday only from 2026.
  const auto y2025 = dates_of(cli.ok_json({"calendar", "holidays", "2025"}), "holidays");
  CHECK(std::find(y2025.begin(), y2025.end(), "2025-11-24") == y2025.end());
  // Text output for clerks, in Vietnamese.
  auto text = cli({"calendar", "holidays", "2026"});
  CHECK(text.code == 0);
  CHECK(text.out.find("Tết Nguyên đán") != std::string::npos);
  CHECK(text.out.find("Ngày làm bù") != std::string::npos);
}

TEST_CASE("calendar add and between: working days across Tết and the worked Saturday", "[e2e][calendar]") {
  Cli cli;
  cli.init();
  auto due = [&](const char* from, const char* n) {
    return str(cli.ok_json({"calendar", "add", from, n}).at("due"));
  };
  // Friday 13/02/2026 + 1 working day: Tết runs 14–22/02, so Monday 23/02.
  CHECK(due("2026-02-13", "1") == "2026-02-23");
  CHECK(due("2026-02-10", "5") == "2026-02-24");
  // Across Tết 2027 (lunar new year on Saturday 06/02/2027; no announcement: eve 05/02 to 09/02, with
  // compensatory days for the weekend).
  const std::string after_tet_2027 = due("2027-02-04", "1");
  CHECK(after_tet_2027 > "2027-02-09");
  // Quốc khánh 2026: off 29/08–02/09; Saturday 22/08 is worked.
  CHECK(due("2026-08-21", "1") == "2026-08-22");
  CHECK(due("2026-08-28", "1") == "2026-09-03");
  auto between = cli.ok_json({"calendar", "between", "2026-02-10", "2026-02-28"});
  CHECK(between.at("working_days").as_int64() == 8);
  CHECK(cli.ok_json({"calendar", "between", "2026-08-21", "2026-08-24"}).at("working_days").as_int64() == 2);
  auto text = cli({"calendar", "add", "2026-02-13", "1"});
  CHECK(text.code == 0);
  CHECK(text.out.find("2026-02-23") != std::string::npos);
  CHECK(text.out.find("Thứ Hai") != std::string::npos);
}

TEST_CASE("calendar: bad input is refused with a clear message", "[e2e][calendar]") {
  Cli cli;
  cli.init();
  for (std::vector<std::string> bad : {std::vector<std::string>{"calendar", "add", "2026-02-31", "3"},
                                       {"calendar", "add", "2026-02-10", "-1"},
                                       {"calendar", "add", "2026-02-10", "ba"},
                                       {"calendar", "holidays", "1800"},
                                       {"calendar", "between", "2026-01-01"},
                                       {"calendar", "nope"}}) {
    auto r = cli(bad);
    INFO(bad[1] << " " << (bad.size() > 2 ? bad[2] : ""));
    CHECK(r.code == 2);
    CHECK_FALSE(r.err.empty());
  }
  auto dated = cli({"calendar", "add", "2026-02-31", "3"});
  CHECK(dated.err.find("2026-02-31") != std::string::npos);
}

TEST_CASE("calendar --config reads a config folder and reports its errors with file:line:col",
          "[e2e][calendar]") {
  Cli cli;
  const std::string config = cli.dir + "/config";
  std::filesystem::create_directories(config + "/calendar");
  std::filesystem::copy_file(kSource + "/config/calendar.yaml", config + "/calendar.yaml");
  {
    std::ofstream y(config + "/calendar/2026.yaml");
    y << "year: 2026\nsource: \"thử\"\nworking_days:\n  - date: 2026-08-24\n";  // a Monday: not a rest day
  }
  auto r = cli({"calendar", "holidays", "2026", "--config", config});
  CHECK(r.code == 7);
  CHECK(r.err.find("2026.yaml:4:") != std::string::npos);
  std::filesystem::remove(config + "/calendar/2026.yaml");
  auto ok = cli({"calendar", "holidays", "2026", "--config", config, "--json"});
  CHECK(ok.code == 0);
  CHECK_FALSE(boost::json::parse(ok.out).at("announced").as_bool());
}

}  // namespace hoso::testing
