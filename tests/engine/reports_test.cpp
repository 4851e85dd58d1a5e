// The yearly report obligations: config/reports.yaml expanded for a year over the real org tree.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/reports.hpp"
#include "tests/support/shipped.hpp"

using namespace hoso;
using hoso::testing::shipped;

namespace {

Date date(int y, unsigned m, unsigned d) { return Date{days_from_civil(y, m, d)}; }

std::vector<Obligation> of_rule(const std::vector<Obligation>& all, const std::string& rule) {
  std::vector<Obligation> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [&](const Obligation& o) { return o.rule == rule; });
  return out;
}

std::vector<std::string> reporters(const std::vector<Obligation>& obligations) {
  std::vector<std::string> out;
  for (const auto& o : obligations) out.push_back(o.reporter);
  return out;
}

}  // namespace

TEST_CASE("reports: Lào Cai 2026 opens one results report per agency, commune and unit", "[reports]") {
  const auto& s = shipped();
  CHECK(s.project.reports.reading == ReportReading::kStrict);
  CHECK(s.project.reports.remind_before == 3);
  const auto results = of_rule(obligations_for_year(s.project.reports, s.directory, 2026), "lao-cai-ket-qua-nam");
  CHECK(reporters(results) == std::vector<std::string>{"sgddt-lao-cai", "syt-lao-cai", "ubnd-phuong-cam-duong",
                                                       "tdp-so-5-cam-duong", "th-cam-duong", "ubnd-xa-bat-xat",
                                                       "thon-phin-ngan", "cty-khoang-san-bat-xat"});
  for (const auto& o : results) {
    CHECK(o.period == "2026");
    CHECK(o.report == "bao_cao_ket_qua_nam");
    CHECK(o.jurisdiction == "lao-cai");
    CHECK(o.receivers == std::vector<std::string>{"ca-tinh-lao-cai"});
    CHECK(o.deadline == date(2026, 11, 15));
    CHECK(o.due_day == date(2026, 11, 15));  // strict: late from 00:00 of the 15th
    CHECK_FALSE(o.legal_basis.empty());
  }
  // The compiled report of Công an tỉnh goes to UBND tỉnh five days later.
  const auto compiled = of_rule(obligations_for_year(s.project.reports, s.directory, 2026), "lao-cai-tong-hop-tinh");
  REQUIRE(compiled.size() == 1);
  CHECK(compiled[0].reporter == "ca-tinh-lao-cai");
  CHECK(compiled[0].report == "bao_cao_tong_hop_tinh");
  CHECK(compiled[0].receivers == std::vector<std::string>{"ubnd-tinh-lao-cai"});
  CHECK(compiled[0].deadline == date(2026, 11, 20));
}

TEST_CASE("reports: the lenient reading makes the day itself the last one", "[reports]") {
  ReportPlan plan = shipped().project.reports;
  plan.reading = ReportReading::kLenient;
  const auto results = of_rule(obligations_for_year(plan, shipped().directory, 2026), "lao-cai-ket-qua-nam");
  REQUIRE_FALSE(results.empty());
  for (const auto& o : results) {
    CHECK(o.deadline == date(2026, 11, 15));
    CHECK(o.due_day == date(2026, 11, 16));
  }
  // Across a month end too.
  const auto national = of_rule(obligations_for_year(plan, shipped().directory, 2026), "trung-uong-ket-qua-nam");
  REQUIRE_FALSE(national.empty());
  CHECK(national[0].due_day == date(2026, 12, 1));
}

TEST_CASE("reports: the one-off plans are due only in 2025, labelled with the year they plan", "[reports]") {
  const auto& s = shipped();
  const auto plans = of_rule(obligations_for_year(s.project.reports, s.directory, 2025), "lao-cai-ke-hoach");
  CHECK(reporters(plans) ==
        std::vector<std::string>{"sgddt-lao-cai", "syt-lao-cai", "ubnd-phuong-cam-duong", "ubnd-xa-bat-xat"});
  for (const auto& o : plans) {
    CHECK(o.period == "2026");
    CHECK(o.report == "ke_hoach_thuc_hien");
    CHECK(o.deadline == date(2025, 12, 17));
    CHECK(o.receivers == std::vector<std::string>{"ca-tinh-lao-cai", "snv-lao-cai"});
  }
  CHECK(of_rule(obligations_for_year(s.project.reports, s.directory, 2026), "lao-cai-ke-hoach").empty());
  CHECK(of_rule(obligations_for_year(s.project.reports, s.directory, 2024), "lao-cai-ke-hoach").empty());
}

TEST_CASE("reports: the phase summary comes every five years from 2025", "[reports]") {
  const auto& s = shipped();
  for (int year : {2024, 2026, 2027, 2029, 2031})
    CHECK(of_rule(obligations_for_year(s.project.reports, s.directory, year), "trung-uong-tong-ket-giai-doan").empty());
  const auto y2025 = of_rule(obligations_for_year(s.project.reports, s.directory, 2025), "trung-uong-tong-ket-giai-doan");
  REQUIRE_FALSE(y2025.empty());
  CHECK(y2025[0].period == "2021–2025");
  CHECK(y2025[0].deadline == date(2025, 11, 30));
  const auto y2030 = of_rule(obligations_for_year(s.project.reports, s.directory, 2030), "trung-uong-tong-ket-giai-doan");
  REQUIRE_FALSE(y2030.empty());
  CHECK(y2030[0].period == "2026–2030");
  CHECK(y2030[0].report == "bao_cao_tong_ket_giai_doan");
}

TEST_CASE("reports: a receiver never reports to itself", "[reports]") {
  const auto& s = shipped();
  const auto all = obligations_for_year(s.project.reports, s.directory, 2026);
  for (const auto& o : all) {
    INFO(o.rule << " " << o.reporter);
    CHECK(std::find(o.receivers.begin(), o.receivers.end(), o.reporter) == o.receivers.end());
  }
  // The national report: every UBND tỉnh and the ministries but the two receivers (both ministries).
  const auto national = reporters(of_rule(all, "trung-uong-ket-qua-nam"));
  CHECK(national == std::vector<std::string>{"ubnd-tinh-lao-cai", "ubnd-tinh-dong-thap", "ubnd-tinh-lam-dong",
                                             "ubnd-tinh-thai-nguyen"});
  // Lâm Đồng: the đặc khu reports, to the attention of Phòng Tham mưu.
  const auto lam_dong = of_rule(all, "lam-dong-ket-qua-nam");
  CHECK(std::any_of(lam_dong.begin(), lam_dong.end(),
                    [](const Obligation& o) { return o.reporter == "ubnd-dac-khu-phu-quy"; }));
  REQUIRE_FALSE(lam_dong.empty());
  CHECK(lam_dong[0].attention == "Phòng Tham mưu");
  // A hand-made rule naming its receiver as a reporter leaves it out.
  ReportPlan plan;
  ReportRule r;
  r.id = "x";
  r.jurisdiction = "lao-cai";
  r.report = "bao_cao_ket_qua_nam";
  r.reporter_kinds = {OrgKind::kProvincePolice, OrgKind::kHomeAffairs};
  r.receivers = {"ca-tinh-lao-cai"};
  r.month = 11;
  r.day = 15;
  plan.rules.push_back(r);
  CHECK(reporters(obligations_for_year(plan, s.directory, 2026)) == std::vector<std::string>{"snv-lao-cai"});
}

TEST_CASE("reports: rules come in plan order, then reporters in config order", "[reports]") {
  const auto& s = shipped();
  const auto all = obligations_for_year(s.project.reports, s.directory, 2025);
  std::vector<std::string> rules;
  for (const auto& o : all)
    if (rules.empty() || rules.back() != o.rule) rules.push_back(o.rule);
  CHECK(rules == std::vector<std::string>{"lao-cai-ke-hoach", "lao-cai-ket-qua-nam", "lao-cai-tong-hop-tinh",
                                          "dong-thap-ket-qua-nam", "lam-dong-ket-qua-nam", "phuong-tien-ket-qua-nam", "trung-uong-ket-qua-nam",
                                          "trung-uong-tong-ket-giai-doan"});
  CHECK(find_report_rule(s.project.reports, "dong-thap-ket-qua-nam")->receivers ==
        std::vector<std::string>{"ca-tinh-dong-thap", "snv-dong-thap"});
  CHECK(find_report_rule(s.project.reports, "nope") == nullptr);
}
