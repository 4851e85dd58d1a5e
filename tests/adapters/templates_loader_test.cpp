// config/templates.yaml: located diagnostics, rendering, and the shipped file.
#include <catch2/catch.hpp>

#include "adapters/yaml/loader.hpp"
#include "adapters/yaml/project.hpp"
#include "adapters/yaml/templates_loader.hpp"

using namespace hoso;

namespace {

std::vector<std::string> problems(const std::string& text) {
  std::vector<NotificationTemplate> out;
  std::vector<std::string> r;
  for (const auto& d : yaml::parse_templates(text, "t.yaml", out)) r.push_back(d.format());
  return r;
}

}  // namespace

TEST_CASE("templates: each problem is reported at its file:line:col", "[templates]") {
  CHECK(problems("templates:\n  a:\n    subject: \"Hồ sơ {ho_so}\"\n    body: \"Xin chào {co_quan}\"\n").empty());
  // An unknown placeholder, located at the placeholder on a one-line value.
  auto unknown = problems("templates:\n  a:\n    subject: Hồ sơ {so_ho_so}\n    body: x\n");
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].rfind("t.yaml:3:", 0) == 0);
  CHECK(unknown[0].find("{so_ho_so}") != std::string::npos);
  CHECK(problems("templates:\n  a:\n    subject: \"mở {ho_so\"\n    body: x\n").size() == 1);
  auto missing = problems("templates:\n  a:\n    subject: x\n");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].rfind("t.yaml:2:3:", 0) == 0);
  auto key = problems("templates:\n  a:\n    subject: x\n    body: y\n    footer: z\n");
  REQUIRE(key.size() == 1);
  CHECK(key[0].rfind("t.yaml:5:5:", 0) == 0);
  CHECK(problems("other: 1\ntemplates: {}\n").size() == 1);
  CHECK(problems("templates: [1, 2]\n").size() == 1);
  CHECK(problems("templates:\n  a: {subject: x, body: [1]}\n").size() == 1);
  CHECK(problems("templates: {a: {subject: \"x\", body: \"y\"}\n").size() == 1);  // YAML syntax error
}

TEST_CASE("templates: rendering fills placeholders and keeps literal braces", "[templates]") {
  const std::map<std::string, std::string> v = {{"ho_so", "12"}, {"han", "2026-05-07"}};
  CHECK(render_template("Hồ sơ {ho_so} hạn {han}", v) == "Hồ sơ 12 hạn 2026-05-07");
  CHECK(render_template("{{ho_so}} {ghi_chu}.", v) == "{ho_so} .");
  CHECK_FALSE(unknown_placeholder("{{x}} {ho_so}").has_value());
  CHECK(unknown_placeholder("ab {x}")->second == 3);
}

TEST_CASE("templates: the shipped file has a text for every template the workflows send", "[templates]") {
  auto project = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config", std::string(HOSO_SOURCE_DIR) + "/workflows");
  for (const auto& d : project.diagnostics) INFO(d.format());
  REQUIRE(project.ok());
  CHECK(project.templates.size() >= 9);
}
