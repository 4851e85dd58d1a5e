// The real config/ and workflows/ of the repository, loaded once per test binary, with the org tree built.
#pragma once
#include <stdexcept>
#include <string>

#include "adapters/yaml/project.hpp"

namespace hoso::testing {

struct Shipped {
  yaml::Project project;
  Directory directory;
  const std::vector<std::string>& report_kinds() const { return project.report_kinds; }
};

// Throws when the shipped files do not load (the test then fails with the first diagnostic).
inline const Shipped& shipped() {
  static const Shipped s = [] {
    auto p = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config", std::string(HOSO_SOURCE_DIR) + "/workflows");
    if (!p.ok()) throw std::runtime_error(p.diagnostics.front().format());
    auto dir = Directory::build(p.orgs, p.users);
    if (!dir) throw std::runtime_error(dir.error().message);
    return Shipped{std::move(p), std::move(dir.value())};
  }();
  return s;
}

}  // namespace hoso::testing
