#include "engine/value.hpp"

#include <fmt/format.h>

#include <charconv>

namespace hoso {

const char* field_type_name(FieldType t) {
  switch (t) {
    case FieldType::kInt:
      return "int";
    case FieldType::kBool:
      return "bool";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kDate:
      return "date";
    case FieldType::kText:
      return "text";
  }
  return "?";
}

std::optional<FieldType> parse_field_type(std::string_view name) {
  if (name == "int") return FieldType::kInt;
  if (name == "bool") return FieldType::kBool;
  if (name == "enum") return FieldType::kEnum;
  if (name == "date") return FieldType::kDate;
  if (name == "text") return FieldType::kText;
  return std::nullopt;
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else
      return false;
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

Result<Value> parse_value(const FieldSpec& spec, std::string_view text) {
  if (!is_valid_utf8(text))
    return make_error(ErrorCode::kInvalidInput, "giá trị không phải văn bản UTF-8 hợp lệ");
  switch (spec.type) {
    case FieldType::kInt: {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size())
        return make_error(ErrorCode::kInvalidInput, fmt::format("'{}' không phải số nguyên", text));
      if (spec.min && v < *spec.min)
        return make_error(ErrorCode::kInvalidInput,
                          fmt::format("{} nhỏ hơn giá trị tối thiểu {}", v, *spec.min));
      if (spec.max && v > *spec.max)
        return make_error(ErrorCode::kInvalidInput,
                          fmt::format("{} lớn hơn giá trị tối đa {}", v, *spec.max));
      return Value::integer(v);
    }
    case FieldType::kBool:
      if (text == "true" || text == "co" || text == "có" || text == "1") return Value::boolean(true);
      if (text == "false" || text == "khong" || text == "không" || text == "0") return Value::boolean(false);
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("'{}' không phải giá trị đúng/sai (true/false)", text));
    case FieldType::kDate: {
      auto d = parse_date(text);
      if (!d)
        return make_error(ErrorCode::kInvalidInput,
                          fmt::format("'{}' không phải ngày hợp lệ (YYYY-MM-DD)", text));
      return Value::date(*d);
    }
    case FieldType::kEnum:
      for (std::size_t i = 0; i < spec.enum_values.size(); ++i)
        if (spec.enum_values[i] == text) return Value::enumeration(static_cast<std::int64_t>(i));
      return make_error(ErrorCode::kInvalidInput, fmt::format("'{}' không thuộc các giá trị cho phép: {}",
                                                              text, fmt::join(spec.enum_values, ", ")));
    case FieldType::kText:
      if (text.size() > spec.max_length)
        return make_error(
            ErrorCode::kInvalidInput,
            fmt::format("văn bản dài {} byte, vượt quá giới hạn {} byte", text.size(), spec.max_length));
      return Value::string(std::string(text));
  }
  return make_error(ErrorCode::kInternal, "unknown field type");
}

std::string format_value(const FieldSpec& spec, const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNone:
      return "";
    case Value::Kind::kInt:
      return std::to_string(v.num);
    case Value::Kind::kBool:
      return v.num ? "true" : "false";
    case Value::Kind::kDate:
      return format_date(Date{static_cast<std::int32_t>(v.num)});
    case Value::Kind::kEnum:
      return v.num >= 0 && static_cast<std::size_t>(v.num) < spec.enum_values.size() ? spec.enum_values[v.num]
                                                                                     : "?";
    case Value::Kind::kText:
      return v.text;
  }
  return "";
}

}  // namespace hoso
