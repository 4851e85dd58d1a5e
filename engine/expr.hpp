// Guard expressions: a small typed language over dossier fields, compiled once at load.
//
// Grammar (precedence low → high):
//   expr    := or
//   or      := and ("or" and)*
//   and     := not ("and" not)*
//   not     := "not" not | cmp
//   cmp     := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
//            | sum "not"? "in" "[" literal ("," literal)* "]"
//   sum     := primary (("+" | "-") primary)*          -- int + int, date + int, date - int, date - date →
//   int primary := INT | "true" | "false" | STRING | DATE | IDENT | IDENT "(" args ")" | "(" expr ")" STRING
//   := '"' utf-8 text '"' (\" and \\ escapes)     DATE := digits "-" digits "-" digits, e.g. 2025-11-15
// Identifiers name declared dossier fields, or the built-ins:
//   today                       date: the Vietnam-local date of the command
//   latest_cycle_end(M, D)      date: the latest date with month M and day D strictly before `today`
//                               (the end of the latest closed yearly cycle, e.g. latest_cycle_end(11, 15))
// An enum field compares (==, !=, in) only with string literals that are among its declared values.
// A bare bool field or bool-typed expression is a valid clause; the whole expression must be bool.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ids.hpp"
#include "engine/time.hpp"
#include "engine/value.hpp"

namespace hoso::expr {

// Where a compile error is, as a 1-based column within the expression text.
struct CompileError {
  int column = 1;
  std::string message;  // English, for workflow authors, e.g. "field 'x' is int, cannot compare with text"
};

// What the compiler needs to know about the fields an expression may name.
class Schema {
 public:
  virtual ~Schema() = default;
  // Returns the id and spec of the field `name`, or nullptr when no such field is declared.
  virtual const FieldSpec* find(std::string_view name, FieldId* id) const = 0;
};

// What evaluation reads: field values indexed by FieldId, and the command's date.
struct Env {
  const std::vector<Value>* fields = nullptr;
  Date today;
};

struct Node;  // private AST

// A compiled, type-checked boolean expression. Immutable; cheap to copy (shared AST).
class Expr {
 public:
  Expr() = default;
  // Evaluates; every field it references must be present in env (see fields()).
  bool eval(const Env& env) const;
  // Evaluates with missing fields as unknown (Kleene logic): a comparison that reads a field with no
  // value is unknown, and and/or/not combine so that a result not depending on a missing field is
  // still known ("kind == individual and heads_unit" is false for a collective whatever heads_unit is).
  // When the result is unknown, *missing (if given) names a missing field that would decide it.
  enum class Truth : std::uint8_t { kFalse, kTrue, kUnknown };
  Truth eval3(const Env& env, FieldId* missing) const;
  // The fields the expression references, deduplicated, in order of first use.
  const std::vector<FieldId>& fields() const { return fields_; }
  const std::string& source() const { return source_; }

 private:
  friend struct Compiler;
  std::shared_ptr<const Node> root_;
  std::vector<FieldId> fields_;
  std::string source_;
};

// Either a compiled Expr or the first compile error.
struct CompileResult {
  Expr expr;
  bool ok = false;
  CompileError error;
};

// Parses and type-checks `source` against `schema`; the result must be bool.
CompileResult compile(std::string_view source, const Schema& schema);

}  // namespace hoso::expr
