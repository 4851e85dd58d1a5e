// Command-line parsing: positionals, single-valued options, repeatable options and flags.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/result.hpp"

namespace hoso::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> options;  // name without "--" → values in order
  std::vector<std::string> flags;

  bool flag(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;  // the last value given
  const std::vector<std::string>& all(const std::string& name) const;
};

// Parses argv[1..]. Knows which options take values; fails (kInvalidInput) on an unknown option,
// a missing value, a repeated single-valued option, or an argument that is not UTF-8.
Result<Args> parse_args(int argc, const char* const* argv);

}  // namespace hoso::cli
