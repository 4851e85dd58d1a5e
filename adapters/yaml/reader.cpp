#include "adapters/yaml/reader.hpp"

#include <algorithm>
#include <charconv>

#include "engine/directory.hpp"

namespace hoso::yaml::detail {

std::size_t first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return i;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return i;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return i;
    i += len;
  }
  return kNpos;
}

SourceLoc loc_of_offset(std::string_view text, std::size_t offset, const std::string& file) {
  offset = std::min(offset, text.size());
  const std::string_view before = text.substr(0, offset);
  const auto line = 1 + std::count(before.begin(), before.end(), '\n');
  const std::size_t nl = before.rfind('\n');
  const std::size_t col = (nl == kNpos) ? offset + 1 : offset - nl;
  return SourceLoc{file, static_cast<int>(line), static_cast<int>(col)};
}

std::string utf8_message(std::string_view text, std::size_t offset) {
  return fmt::format("invalid UTF-8: byte 0x{:02X} at byte offset {} does not start a valid sequence",
                     static_cast<unsigned>(static_cast<unsigned char>(text[offset])), offset);
}

std::string quoted_list(std::initializer_list<const char*> names) {
  std::string out;
  for (const char* n : names) {
    if (!out.empty()) out += ", ";
    out += fmt::format("'{}'", n);
  }
  return out;
}

std::optional<std::int64_t> parse_int64(std::string_view s) {
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return std::nullopt;
  }
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v, 10);
  if (s.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

bool contains(std::initializer_list<const char*> names, std::string_view s) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return s == n; });
}

std::string all_kinds() {
  std::string out;
  for (int i = 0; i < kOrgKindCount; ++i) {
    if (i) out += ", ";
    out += org_kind_name(static_cast<OrgKind>(i));
  }
  return out;
}

}  // namespace hoso::yaml::detail
