// config/reports.yaml: the shipped file loads; every mistake is a located diagnostic.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>

#include "adapters/yaml/loader.hpp"
#include "adapters/yaml/project.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/yaml/reports_loader.hpp"
#include "tests/support/shipped.hpp"

using namespace hoso;

namespace {

const Directory& real_directory() { return testing::shipped().directory; }

std::vector<std::string> problems(const std::string& text) {
  ReportPlan plan;
  std::vector<std::string> out;
  for (const auto& d : yaml::parse_reports(text, "r.yaml", real_directory(), testing::shipped().report_kinds(), plan))
    out.push_back(d.format());
  return out;
}

// A valid rule (lines 2..8 of the file) with one line replaced, added or removed.
std::string rule(const std::string& key, const std::string& line) {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"id", "  - id: a"},
      {"title", "    title: \"Báo cáo\""},
      {"jurisdiction", "    jurisdiction: lao-cai"},
      {"report", "    report: bao_cao_ket_qua_nam"},
      {"reporters", "    reporters: {kinds: [department]}"},
      {"to", "    to: [ca-tinh-lao-cai]"},
      {"before", "    before: \"11-15\""},
  };
  std::string text = "obligations:\n";
  bool replaced = false;
  for (const auto& [k, l] : lines) {
    if (k == key) {
      replaced = true;
      if (!line.empty()) text += line + "\n";
      continue;
    }
    // Without its id line, the rule's list item starts at the title.
    text += (key == "id" && line.empty() && k == "title" ? "  - " + l.substr(4) : l) + "\n";
  }
  if (!replaced) text += line + "\n";
  return text;
}

// Exactly one diagnostic, at r.yaml:<line>:, whose message holds `word`.
void one(const std::vector<std::string>& diags, int line, const std::string& word) {
  INFO(Catch::Detail::stringify(diags));
  REQUIRE(diags.size() == 1);
  CHECK(diags[0].rfind("r.yaml:" + std::to_string(line) + ":", 0) == 0);
  CHECK(diags[0].find(word) != std::string::npos);
}

}  // namespace

TEST_CASE("reports loader: the shipped file loads against the real config", "[reports]") {
  auto p = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config", std::string(HOSO_SOURCE_DIR) + "/workflows");
  for (const auto& d : p.diagnostics) INFO(d.format());
  REQUIRE(p.ok());
  CHECK(p.reports.rules.size() == 8);
  CHECK_FALSE(p.reports_file.text.empty());
  // And on its own, with only the report kinds.
  ReportPlan plan;
  CHECK(yaml::parse_reports(p.reports_file.text, p.reports_file.file, real_directory(), testing::shipped().report_kinds(), plan).empty());
  const ReportRule* once = find_report_rule(plan, "lao-cai-ke-hoach");
  REQUIRE(once);
  CHECK(once->once.has_value());
  CHECK(once->month == 0);
  CHECK(once->period == "2026");
  const ReportRule* phase = find_report_rule(plan, "trung-uong-tong-ket-giai-doan");
  REQUIRE(phase);
  CHECK(phase->every_years == 5);
  CHECK(phase->first_year == 2025);
  CHECK(phase->month == 11);
  CHECK(phase->day == 30);
}

TEST_CASE("reports loader: a valid rule, and the plan's defaults", "[reports]") {
  ReportPlan plan;
  CHECK(yaml::parse_reports(rule("", ""), "r.yaml", real_directory(), testing::shipped().report_kinds(), plan).empty());
  CHECK(plan.reading == ReportReading::kStrict);
  CHECK(plan.remind_before == 3);
  CHECK(plan.open_month == 0);  // no open_from: obligations open only by `hoso reports open`
  CHECK(plan.open_day == 0);
  REQUIRE(plan.rules.size() == 1);
  CHECK(plan.rules[0].reporter_kinds == std::vector<OrgKind>{OrgKind::kDepartment});
  CHECK(yaml::parse_reports("reading: lenient\nremind_before: 0\nobligations: []\n", "r.yaml", real_directory(),
                            testing::shipped().report_kinds(), plan)
            .empty());
  CHECK(plan.reading == ReportReading::kLenient);
  CHECK(plan.remind_before == 0);
}

TEST_CASE("reports loader: each mistake is reported at its file:line:col", "[reports]") {
  one(problems(rule("", "    footer: x")), 9, "unknown key 'footer'");
  one(problems("obligations: []\nlate: 1\n"), 2, "unknown key 'late'");
  for (const char* key : {"id", "title", "jurisdiction", "report", "to", "before"}) {
    INFO(key);
    one(problems(rule(key, "")), 2, fmt::format("missing key '{}'", key));
  }
  one(problems(rule("", "  - id: a\n    title: x\n    jurisdiction: lao-cai\n    report: bao_cao_ket_qua_nam\n"
                        "    reporters: {kinds: [unit]}\n    to: ca-tinh-lao-cai\n    before: \"11-10\"")),
      9, "duplicate obligation id 'a'");
  one(problems(rule("jurisdiction", "    jurisdiction: ha-giang")), 4, "unknown jurisdiction 'ha-giang'");
  one(problems(rule("jurisdiction", "    jurisdiction: ca-tinh-lao-cai")), 4, "not a level node");
  one(problems(rule("reporters", "    reporters: {orgs: [xyz]}")), 6, "unknown org 'xyz'");
  one(problems(rule("to", "    to: [ca-tinh-lao-cai, nowhere]")), 7, "unknown receiver 'nowhere'");
  one(problems(rule("reporters", "    reporters: {kinds: [sở]}")), 6, "unknown org kind");
  one(problems(rule("reporters", "    reporters: {orgs: [syt-dong-thap]}")), 6, "outside the jurisdiction");
  one(problems(rule("report", "    report: bao_cao_thang")), 5, "unknown report kind 'bao_cao_thang'");
  one(problems(rule("before", "    before: \"02-29\"")), 8, "not 02-29");
  one(problems(rule("before", "    before: \"11-31\"")), 8, "'before'");
  one(problems(rule("before", "    before: 15/11")), 8, "MM-DD");
  one(problems(rule("before", "    before: 2025-02-30")), 8, "YYYY-MM-DD");
  one(problems(rule("", "    every_years: 0")), 9, "every_years");
  one(problems(rule("", "    every_years: 5")), 9, "needs 'first_year'");
  one(problems(rule("", "    period: \"2026\"")), 9, "only for a one-off");
  one(problems("reading: loose\nobligations: []\n"), 1, "'strict' or 'lenient'");
  one(problems("remind_before: 21\nobligations: []\n"), 1, "remind_before");
  one(problems("remind_before: -1\nobligations: []\n"), 1, "remind_before");
  one(problems("open_from: \"13-01\"\nobligations: []\n"), 1, "open_from");
  one(problems("open_from: \"02-29\"\nobligations: []\n"), 1, "open_from");
  one(problems(rule("reporters", "")), 2, "no reporters");  // none listed: at the rule
  one(problems(rule("reporters", "    reporters: {kinds: [ministry]}")), 6, "no reporters");  // none in Lào Cai
  one(problems(rule("reporters", "    reporters: {orgs: [ca-tinh-lao-cai]}")), 6, "no reporters");  // the receiver
}

TEST_CASE("reports loader: installing the project stores the plan, and a database without it has none", "[reports]") {
  const std::string db = (std::filesystem::temp_directory_path() /
                          ("hoso-reports-test-" + std::to_string(::getpid()) + ".db"))
                             .string();
  std::filesystem::remove(db);
  {
    auto store = SqliteStore::open(db, OpenMode::kCreate, SqliteStore::kDefaultBusyTimeout, Durability::kNoSync);
    REQUIRE(store);
    auto empty = yaml::reports_from_store(**store, real_directory(), testing::shipped().report_kinds());
    REQUIRE(empty);
    CHECK(empty->rules.empty());
    auto p = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config", std::string(HOSO_SOURCE_DIR) + "/workflows");
    REQUIRE(p.ok());
    auto st = (*store)->write([&](WriteTx& tx) { return yaml::install_project(tx, p, "2026-01-01T00:00:00.000Z"); });
    INFO((st ? std::string() : st.error().message));
    REQUIRE(st);
    auto stored = yaml::reports_from_store(**store, real_directory(), testing::shipped().report_kinds());
    REQUIRE(stored);
    CHECK(stored->rules.size() == p.reports.rules.size());
    CHECK(obligations_for_year(*stored, real_directory(), 2026).size() ==
          obligations_for_year(p.reports, real_directory(), 2026).size());
    // A stored plan the current config no longer accepts is an error, not an empty plan.
    auto narrow = yaml::reports_from_store(**store, real_directory(), {"bao_cao_ket_qua_nam"});
    CHECK_FALSE(narrow);
  }
  std::filesystem::remove(db);
}
