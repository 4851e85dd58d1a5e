#include "engine/templates.hpp"

#include <algorithm>

namespace hoso {

const std::vector<std::string>& template_placeholders() {
  static const std::vector<std::string> kNames = {"ho_so",  "hinh_thuc", "buoc",      "co_quan",
                                                  "don_vi", "han",       "thoi_diem", "ghi_chu"};
  return kNames;
}

const std::vector<std::string>& engine_template_keys() {
  static const std::vector<std::string> kKeys = {"deadline_reminder", "deadline_overdue",
                                                 "deadline_overdue_superior"};
  return kKeys;
}

namespace {

// Calls on_text(piece) for literal text and on_name(name, offset) for each {name}; false when a brace is
// unbalanced.
template <typename Text, typename Name>
bool scan(std::string_view s, Text on_text, Name on_name) {
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if ((c == '{' || c == '}') && i + 1 < s.size() && s[i + 1] == c) {
      on_text(std::string_view(&s[i], 1));
      i += 2;
    } else if (c == '{') {
      const auto close = s.find('}', i);
      if (close == std::string_view::npos) return false;
      on_name(s.substr(i + 1, close - i - 1), i);
      i = close + 1;
    } else if (c == '}') {
      return false;
    } else {
      const auto next = s.find_first_of("{}", i);
      const auto end = next == std::string_view::npos ? s.size() : next;
      on_text(s.substr(i, end - i));
      i = end;
    }
  }
  return true;
}

}  // namespace

std::optional<std::pair<std::string, std::size_t>> unknown_placeholder(std::string_view text) {
  std::optional<std::pair<std::string, std::size_t>> bad;
  const auto& known = template_placeholders();
  const bool balanced = scan(
      text, [](std::string_view) {},
      [&](std::string_view name, std::size_t at) {
        const bool field = name.starts_with(kFieldPlaceholderPrefix) && name.size() > kFieldPlaceholderPrefix.size();
        if (!bad && !field && std::find(known.begin(), known.end(), name) == known.end())
          bad.emplace(std::string(name), at);
      });
  if (!balanced && !bad) bad.emplace("{", text.find_first_of("{}"));
  return bad;
}

std::string render_template(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string out;
  scan(
      text, [&](std::string_view piece) { out += piece; },
      [&](std::string_view name, std::size_t) {
        if (auto it = values.find(std::string(name)); it != values.end()) out += it->second;
      });
  return out;
}

}  // namespace hoso
