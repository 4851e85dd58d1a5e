#include "adapters/cli/args.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "engine/value.hpp"

namespace hoso::cli {

namespace {
constexpr std::array kValued = {
    "db",     "as",           "note",      "expect-version", "workflow",   "award", "format", "ballot",
    "config", "workflows",    "note-file", "clock",          "at",         "file",  "year",   "jurisdiction",
    "listen", "read-timeout", "webhook",   "on-behalf-of",   "expires-in", "token"};
constexpr std::array kRepeatable = {"field", "doc"};
constexpr std::array kFlags = {"json", "all", "help"};

template <typename A>
bool in(const A& a, const std::string& s) {
  return std::find(a.begin(), a.end(), s) != a.end();
}
const std::vector<std::string> kNone;
}  // namespace

bool Args::flag(const std::string& name) const {
  return std::find(flags.begin(), flags.end(), name) != flags.end();
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& name) const {
  auto it = options.find(name);
  return it == options.end() ? kNone : it->second;
}

Result<Args> parse_args(int argc, const char* const* argv) {
  Args a;
  auto usage = [](std::string m) { return make_error(ErrorCode::kInvalidInput, std::move(m)); };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!is_valid_utf8(arg)) return usage(fmt::format("tham số thứ {} không phải văn bản UTF-8 hợp lệ", i));
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      a.positional.push_back(std::move(arg));
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (in(kFlags, name)) {
      if (inline_value) return usage(fmt::format("tùy chọn --{} không nhận giá trị", name));
      a.flags.push_back(name);
      continue;
    }
    const bool repeatable = in(kRepeatable, name);
    if (!repeatable && !in(kValued, name)) return usage(fmt::format("tùy chọn không hợp lệ: --{}", name));
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argc) return usage(fmt::format("tùy chọn --{} cần một giá trị", name));
      value = argv[++i];
      if (!is_valid_utf8(value))
        return usage(fmt::format("giá trị của --{} không phải văn bản UTF-8 hợp lệ", name));
    }
    auto& slot = a.options[name];
    if (!repeatable && !slot.empty()) return usage(fmt::format("tùy chọn --{} chỉ được dùng một lần", name));
    slot.push_back(std::move(value));
  }
  return a;
}

}  // namespace hoso::cli
