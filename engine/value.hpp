// Typed dossier field values.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.hpp"
#include "engine/time.hpp"

namespace hoso {

// The types a dossier field can be declared with. Stored on disk by name: never rename.
enum class FieldType : std::uint8_t { kInt, kBool, kEnum, kDate, kText };

const char* field_type_name(FieldType t);
std::optional<FieldType> parse_field_type(std::string_view name);

// A field value. `kind` None means "not provided". Ints, bools (0/1), dates (days since epoch)
// and enums (index into the field's declared values) live in `num`; text lives in `text`.
struct Value {
  enum class Kind : std::uint8_t { kNone, kInt, kBool, kDate, kEnum, kText };
  Kind kind = Kind::kNone;
  std::int64_t num = 0;
  std::string text;

  static Value none() { return {}; }
  static Value integer(std::int64_t v) { return {Kind::kInt, v, {}}; }
  static Value boolean(bool v) { return {Kind::kBool, v ? 1 : 0, {}}; }
  static Value date(Date d) { return {Kind::kDate, d.days, {}}; }
  static Value enumeration(std::int64_t index) { return {Kind::kEnum, index, {}}; }
  static Value string(std::string s) { return {Kind::kText, 0, std::move(s)}; }
  bool present() const { return kind != Kind::kNone; }
  friend bool operator==(const Value&, const Value&) = default;
};

// A field's declared type and constraints.
struct FieldSpec {
  FieldType type = FieldType::kText;
  std::vector<std::string> enum_values;  // for kEnum, in declaration order
  std::optional<std::int64_t> min, max;  // for kInt
  std::size_t max_length = 2000;         // for kText, in bytes
  bool not_after_today = false;          // for kDate: never later than the day it is entered (not_after: today)
};

// Parses the text form of a value ("12", "true", "2025-11-15", an enum value, any UTF-8 text).
// Fails with kInvalidInput naming the expected type (message in Vietnamese) when it does not fit.
Result<Value> parse_value(const FieldSpec& spec, std::string_view text);
// The canonical text form of a value (inverse of parse_value); "" for none.
std::string format_value(const FieldSpec& spec, const Value& v);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view s);

}  // namespace hoso
