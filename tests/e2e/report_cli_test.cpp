// The yearly report obligations through the real binary on a simulation database: `hoso reports open`
// opens one obligation per reporting org from config/reports.yaml, the reporter is called and reminded,
// a Lào Cai unit that has not reported is late at 00:00 of 15/11 (Vietnam time) and Công an tỉnh is told,
// and `hoso reports status` says who has reported, who is due and who is late.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/e2e/cli_support.hpp"

namespace hoso::testing {

namespace {

// The status row of `reporter` for the rule `rule` (fails the test when there is none).
json::object row_of(const json::value& status, const std::string& rule, const std::string& reporter) {
  for (const auto& r : status.at("obligations").as_array())
    if (str(r.at("rule")) == rule && str(r.at("reporter")) == reporter) return r.as_object();
  FAIL("no obligation " << rule << " for " << reporter);
  return {};
}

std::string id_of(const json::object& row) { return std::to_string(row.at("id").as_int64()); }

std::string state_of(const Cli& cli, const std::string& id) {
  return str(cli.ok_json({"dossier", "show", id}).at("state"));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The events of a dossier as (type, timer, at).
std::vector<std::tuple<std::string, std::string, std::string>> history_of(const Cli& cli, const std::string& id) {
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  const auto history = cli.ok_json({"history", id});
  for (const auto& e : history.as_array()) {
    std::string timer;
    if (const auto* p = e.as_object().if_contains("payload"))
      if (const auto* t = p->as_object().if_contains("timer")) timer = str(*t);
    out.emplace_back(str(e.at("type")), timer, str(e.at("at")));
  }
  return out;
}

const std::string kResults = "lao-cai-ket-qua-nam";

}  // namespace

TEST_CASE("a Lào Cai unit that has not reported by 15/11 is late at 00:00 Vietnam time, and Công an tỉnh is told",
          "[e2e][reports]") {
  Cli cli;
  init_virtual(cli, "2026-11-02T01:00:00Z");  // Monday 02/11/2026, 08:00 in Vietnam
  const auto opened = cli.ok_json({"reports", "open", "--year", "2026"});
  const auto count = opened.at("opened").as_array().size();
  CHECK(count > 10);
  CHECK(opened.at("already").as_int64() == 0);
  // Opening again changes nothing.
  const auto again = cli.ok_json({"reports", "open", "--year", "2026"});
  CHECK(again.at("opened").as_array().empty());
  CHECK(static_cast<std::size_t>(again.at("already").as_int64()) == count);

  auto status = cli.ok_json({"reports", "status", "--year", "2026", "--jurisdiction", "lao-cai"});
  const auto late_unit = row_of(status, kResults, "thon-phin-ngan");
  const auto good_unit = row_of(status, kResults, "tdp-so-5-cam-duong");
  CHECK(str(late_unit.at("status")) == "due");
  CHECK(str(late_unit.at("deadline")) == "2026-11-15");
  CHECK(str(late_unit.at("late_from")) == "2026-11-14T17:00:00.000Z");  // 00:00 of 15/11 in Vietnam
  CHECK(str(late_unit.at("receivers")) == "Công an tỉnh Lào Cai");
  // The compiled report of Công an tỉnh has its own deadline; other provinces are not listed.
  CHECK(str(row_of(status, "lao-cai-tong-hop-tinh", "ca-tinh-lao-cai").at("deadline")) == "2026-11-20");
  for (const auto& r : status.at("obligations").as_array()) CHECK(str(r.at("reporter")).find("dong-thap") == std::string::npos);
  const std::string late_id = id_of(late_unit), good_id = id_of(good_unit);
  // The obligation is in the unit's inbox: it holds it until it reports.
  bool in_inbox = false;
  const auto inbox = cli.ok_json({"inbox", "--as", "thon-phin-ngan.clerk"});
  for (const auto& d : inbox.as_array())
    in_inbox = in_inbox || std::to_string(d.at("id").as_int64()) == late_id;
  CHECK(in_inbox);

  // One unit reports on time, with its report attached.
  const std::string report = cli.write_file("bao-cao.pdf", "%PDF-1.4 báo cáo");
  must_act(cli, good_id, "submit", "tdp-so-5-cam-duong.clerk", {"--doc", "van_ban_bao_cao=" + report});
  CHECK(state_of(cli, good_id) == "submitted");

  // 23:59:59 on 14/11 in Vietnam: reminded three working days before (Wednesday 11/11, 08:00), not late.
  advance_to(cli, "2026-11-14T16:59:59Z");
  CHECK(state_of(cli, late_id) == "due");
  CHECK(str(row_of(cli.ok_json({"reports", "status", "--year", "2026"}), kResults, "thon-phin-ngan").at("status")) ==
        "due");
  // 00:00 on 15/11: late.
  CHECK_FALSE(cli.ok_json({"dossier", "show", late_id}).at("overdue").as_bool());
  advance_to(cli, "2026-11-14T17:00:00Z");
  CHECK(state_of(cli, late_id) == "late");
  CHECK(state_of(cli, good_id) == "submitted");
  CHECK(cli.ok_json({"dossier", "show", late_id}).at("overdue").as_bool());  // shown overdue in show and inbox
  const auto events = history_of(cli, late_id);
  REQUIRE(events.size() == 3);
  CHECK(events[0] == std::make_tuple(std::string("DossierCreated"), std::string(), std::string("2026-11-02T01:00:00.000Z")));
  CHECK(events[1] == std::make_tuple(std::string("TimerFired"), std::string("report_remind"),
                                     std::string("2026-11-11T01:00:00.000Z")));
  CHECK(events[2] == std::make_tuple(std::string("TimerFired"), std::string("report_due"),
                                     std::string("2026-11-14T17:00:00.000Z")));
  status = cli.ok_json({"reports", "status", "--year", "2026", "--jurisdiction", "lao-cai"});
  CHECK(str(row_of(status, kResults, "thon-phin-ngan").at("status")) == "late");
  CHECK(str(row_of(status, kResults, "tdp-so-5-cam-duong").at("status")) == "submitted");
  CHECK(status.at("counts").at("submitted").as_int64() == 1);
  CHECK(str(row_of(status, kResults, "tdp-so-5-cam-duong").at("submitted_at")) == "2026-11-02T01:00:00.000Z");
  CHECK(status.at("counts").at("late").as_int64() >= 1);
  // A clerk sees only the obligations of their jurisdiction: Công an tỉnh Lào Cai its province's, a unit its own.
  const auto province = cli.ok_json({"reports", "status", "--year", "2026", "--as", "ca-tinh-lao-cai.clerk"});
  for (const auto& r : province.at("obligations").as_array())
    CHECK((str(r.at("jurisdiction")) == "lao-cai" || str(r.at("reporter")) == "ubnd-tinh-lao-cai"));
  CHECK(province.at("obligations").as_array().size() == status.at("obligations").as_array().size());
  const auto own = cli.ok_json({"reports", "status", "--year", "2026", "--as", "thon-phin-ngan.clerk"});
  REQUIRE(own.at("obligations").as_array().size() == 1);
  CHECK(str(own.at("obligations").as_array()[0].at("reporter")) == "thon-phin-ngan");
  CHECK(cli({"reports", "status", "--year", "2026", "--as", "nobody"}).code != 0);
  const auto text = cli({"reports", "status", "--year", "2026", "--jurisdiction", "lao-cai"});
  CHECK(text.code == 0);
  CHECK(text.out.find("Thôn Phìn Ngan, xã Bát Xát") != std::string::npos);
  CHECK(text.out.find("quá hạn, chưa gửi") != std::string::npos);

  // The notices went out: the call and the reminder to the unit, the overdue notice to it and to Công an tỉnh.
  const std::string file = cli.dir + "/thong-bao.jsonl";
  cli.ok_json({"notify", "deliver", "--file", file});
  std::vector<std::pair<std::string, std::string>> told;  // (org, subject) of the late unit's notices
  std::istringstream lines(read_all(file));
  for (std::string line; std::getline(lines, line);) {
    const auto n = json::parse(line);
    if (std::to_string(n.at("dossier").as_int64()) == late_id) told.emplace_back(str(n.at("to_org")), str(n.at("subject")));
  }
  REQUIRE(told.size() == 4);
  CHECK(told[0].first == "thon-phin-ngan");
  CHECK(told[0].second.find("trước ngày 15/11/2026") != std::string::npos);
  CHECK(told[1].first == "thon-phin-ngan");
  CHECK(told[1].second.find("Sắp đến hạn") != std::string::npos);
  CHECK(told[2].first == "thon-phin-ngan");
  CHECK(told[2].second.find("Quá hạn") != std::string::npos);
  CHECK(told[3].first == "ca-tinh-lao-cai");
  CHECK(told[3].second.find("Thôn Phìn Ngan, xã Bát Xát chưa gửi") != std::string::npos);

  // The late unit reports after all: recorded as late, and Công an tỉnh is told it arrived.
  must_act(cli, late_id, "submit", "thon-phin-ngan.clerk", {"--doc", "van_ban_bao_cao=" + report});
  CHECK(state_of(cli, late_id) == "submitted_late");
  CHECK(str(row_of(cli.ok_json({"reports", "status", "--year", "2026"}), kResults, "thon-phin-ngan").at("status")) ==
        "submitted_late");
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
  // The system's events (opened obligations, fired timers, deliveries) name no user: init runs again.
  auto again_init = cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows"});
  INFO(again_init.err);
  CHECK(again_init.code == 0);
}

TEST_CASE("reports: only the system opens obligations, a report needs its document, bad options change nothing",
          "[e2e][reports]") {
  Cli cli;
  init_virtual(cli, "2026-11-02T01:00:00Z");
  cli.ok_json({"reports", "open", "--year", "2026"});
  const std::string before = cli.dump();
  // A clerk cannot open an obligation by hand.
  auto made = cli({"dossier", "create", "--workflow", "report", "--award", "bao_cao_ket_qua_nam", "--as",
                   "thon-phin-ngan.clerk", "--field", "period=2026"});
  CHECK(made.code == 4);  // not permitted
  CHECK(made.err.find("chỉ do hệ thống mở") != std::string::npos);
  // A submission without the report document is refused.
  const auto status = cli.ok_json({"reports", "status", "--year", "2026"});
  const std::string id = id_of(row_of(status, kResults, "thon-phin-ngan"));
  auto bare = cli({"dossier", "act", id, "submit", "--as", "thon-phin-ngan.clerk"});
  CHECK(bare.code != 0);
  CHECK(bare.err.find("van_ban_bao_cao") != std::string::npos);
  // Another org's clerk cannot submit it.
  CHECK(cli({"dossier", "act", id, "submit", "--as", "tdp-so-5-cam-duong.clerk"}).code == 4);
  // Bad options: usage errors, and an unknown jurisdiction is named.
  CHECK(cli({"reports", "status"}).code == 2);
  CHECK(cli({"reports", "open", "--year", "20x6"}).code == 2);
  CHECK(cli({"reports", "status", "--year", "2026", "--ballot", "yes"}).code == 2);
  auto nowhere = cli({"reports", "status", "--year", "2026", "--jurisdiction", "atlantis"});
  CHECK(nowhere.code != 0);
  CHECK(nowhere.err.find("atlantis") != std::string::npos);
  auto stranger = cli({"reports", "status", "--year", "2026", "--as", "nobody"});
  CHECK(stranger.code != 0);
  CHECK(stranger.err.find("Không có người dùng 'nobody'") != std::string::npos);
  auto verb = cli({"reports", "close", "--year", "2026"});
  CHECK(verb.code == 2);
  CHECK(verb.err.find("hoso reports open") != std::string::npos);
  auto year = cli({"reports", "open", "--year", "1999"});
  CHECK(year.code == 2);
  CHECK(year.err.find("năm '1999' không hợp lệ") != std::string::npos);
  CHECK(cli.dump() == before);
  // Other years: the one-off plans were due in 2025 and the phase summary comes in 2030.
  const auto y2025 = cli.ok_json({"reports", "open", "--year", "2025"});
  CHECK_FALSE(y2025.at("opened").as_array().empty());
  const auto plans = cli.ok_json({"reports", "status", "--year", "2025", "--jurisdiction", "lao-cai"});
  bool plan_found = false;
  for (const auto& r : plans.at("obligations").as_array())
    if (str(r.at("rule")) == "lao-cai-ke-hoach") {
      plan_found = true;
      CHECK(str(r.at("deadline")) == "2025-12-17");
      CHECK(str(r.at("period")) == "2026");
      CHECK(str(r.at("status")) == "late");  // the simulation is already in November 2026
    }
  CHECK(plan_found);
}

TEST_CASE(
    "reports: an obligation edited behind the log's back fails the status only of those who may read it",
    "[e2e][reports]") {
  Cli cli;
  init_virtual(cli, "2026-11-02T01:00:00Z");
  cli.ok_json({"reports", "open", "--year", "2026"});
  const std::string id =
      id_of(row_of(cli.ok_json({"reports", "status", "--year", "2026"}), kResults, "thon-phin-ngan"));
  forge(cli, "UPDATE dossiers SET previous_holder = 'ai-do' WHERE id = " + id);
  // A Thái Nguyên unit's clerk reads its own obligations as before: the Lào Cai one is neither read nor
  // named.
  const auto elsewhere =
      cli({"reports", "status", "--year", "2026", "--as", "xom-khuan-lan.clerk", "--json"});
  INFO(elsewhere.err);
  CHECK(elsewhere.code == 0);
  CHECK(elsewhere.out.find("thon-phin-ngan") == std::string::npos);
  // Lào Cai's police reads it, and is told it no longer matches its history.
  const auto province = cli({"reports", "status", "--year", "2026", "--as", "ca-tinh-lao-cai.clerk"});
  CHECK(province.code != 0);
  CHECK(province.err.find(id) != std::string::npos);
}

TEST_CASE("reports: the lenient reading of 'before day D' is a setting: late only from 00:00 of D+1",
          "[e2e][reports]") {
  Cli cli;
  const std::string config = cli.copy_config();
  std::string plan = read_all(config + "/reports.yaml");
  const auto at = plan.find("reading: strict");
  REQUIRE(at != std::string::npos);
  plan.replace(at, 15, "reading: lenient");
  std::ofstream(config + "/reports.yaml") << plan;
  auto r = cli({"init", "--config", config, "--workflows", kSource + "/workflows", "--clock", "virtual", "--at",
                "2026-11-02T01:00:00Z"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  cli.ok_json({"reports", "open", "--year", "2026"});
  const auto row = row_of(cli.ok_json({"reports", "status", "--year", "2026"}), kResults, "thon-phin-ngan");
  CHECK(str(row.at("deadline")) == "2026-11-15");
  CHECK(str(row.at("late_from")) == "2026-11-15T17:00:00.000Z");
  advance_to(cli, "2026-11-15T16:59:59Z");  // 23:59:59 on 15/11: still in time under the lenient reading
  CHECK(state_of(cli, id_of(row)) == "due");
  advance_to(cli, "2026-11-15T17:00:00Z");
  CHECK(state_of(cli, id_of(row)) == "late");
}

}  // namespace hoso::testing

namespace hoso::testing {

TEST_CASE("reports: a simulated year's obligations open by themselves when the clock passes 00:00 of 01/10",
          "[e2e][reports]") {
  Cli cli;
  init_virtual(cli, "2027-09-29T01:00:00Z");
  CHECK(cli.ok_json({"reports", "status", "--year", "2027"}).at("obligations").as_array().empty());
  // Up to 23:59 on 30/09 (Vietnam time): nothing opens.
  CHECK(cli.ok_json({"clock", "set", "2027-09-30T16:59:00Z"}).at("reports_opened").as_int64() == 0);
  // Past 00:00 on 01/10: the year's obligations open, at that instant, once.
  const auto moved = cli.ok_json({"clock", "advance", "2d"});
  CHECK(moved.at("reports_opened").as_int64() > 10);
  const auto status = cli.ok_json({"reports", "status", "--year", "2027", "--jurisdiction", "lao-cai"});
  const auto row = row_of(status, kResults, "thon-phin-ngan");
  CHECK(str(row.at("deadline")) == "2027-11-15");
  CHECK(str(row.at("status")) == "due");
  const auto created = cli.ok_json({"history", id_of(row)}).as_array().front();
  CHECK(str(created.at("type")) == "DossierCreated");
  CHECK(str(created.at("at")) == "2027-09-30T17:00:00.000Z");
  CHECK(str(created.at("actor").at("user")) == "system");
  CHECK(cli.ok_json({"clock", "advance", "30d"}).at("reports_opened").as_int64() == 0);
  CHECK(cli.ok_json({"reports", "open", "--year", "2027"}).at("opened").as_array().empty());
}

TEST_CASE("reports: a simulation started on the opening instant opens the year at its first clock move",
          "[e2e][reports]") {
  Cli cli;
  init_virtual(cli, "2027-09-30T17:00:00Z");  // 00:00 on 01/10/2027, Vietnam time
  CHECK(cli.ok_json({"clock", "advance", "1h"}).at("reports_opened").as_int64() > 10);
  CHECK(cli.ok_json({"clock", "advance", "1h"}).at("reports_opened").as_int64() == 0);
}

}  // namespace hoso::testing

namespace hoso::testing {

TEST_CASE("reports: init refuses a plan whose reporters the report workflow cannot serve, and writes nothing",
          "[e2e][reports]") {
  Cli cli;
  const std::string config = cli.copy_config();
  std::ofstream(config + "/reports.yaml", std::ios::app)
      << "  - id: cong-an-xa\n"
         "    title: \"Báo cáo của Công an xã\"\n"
         "    jurisdiction: lao-cai\n"
         "    report: bao_cao_ket_qua_nam\n"
         "    reporters: {kinds: [commune_police]}\n"
         "    to: [ca-tinh-lao-cai]\n"
         "    before: \"11-15\"\n";
  auto r = cli({"init", "--config", config, "--workflows", kSource + "/workflows"});
  CHECK(r.code == 7);
  CHECK(r.err.find("obligation 'cong-an-xa': reporter") != std::string::npos);
  CHECK(r.err.find("commune_police") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(cli.db));
}

}  // namespace hoso::testing
