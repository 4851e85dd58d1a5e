// Guard expressions: lexer, recursive-descent parser and type checker producing a typed AST, and an
// allocation-free evaluator over it. See expr.hpp for the grammar.
#include "engine/expr.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cstring>
#include <utility>

namespace hoso::expr {

// ---------------------------------------------------------------------------------------------------------
// The typed AST.
//
// After type checking every value is one of three runtime shapes:
//   bool   – and/or/not, comparisons, bool literals and bool fields;
//   number – int, date (days since epoch), enum (index into the field's declared values), bool (0/1);
//   text   – text fields and string literals.
// Enum string literals are converted to their index at compile time, so enums compare as numbers.

// clang-format off
enum class Op : std::uint8_t {
  // Number-valued (kConst and kField are also bool-valued when their type is bool).
  kConst,           // num
  kField,           // field (reads Value::num)
  kToday,           // env.today
  kLatestCycleEnd,  // num: the target day of a March-based year (see latest_cycle_end)
  kSum,             // kids[0] + or - kids[i] for i > 0, by the sign in nums[i] (+1 / -1)
  // Bool-valued.
  kAnd,  // kids, n-ary
  kOr,   // kids, n-ary
  kNot,  // kids[0]
  // kids[0] op kids[1], on numbers.
  kNumEq, kNumNe, kNumLt, kNumLe, kNumGt, kNumGe,
  // kids[0] (not) in nums.
  kNumIn, kNumNotIn,
  // kids[0] op kids[1], on text.
  kTextEq, kTextNe,
  // kids[0] (not) in texts.
  kTextIn, kTextNotIn,
  // Fused "field op literal" (field op num) and "field (not) in nums": no child nodes.
  kFieldEq, kFieldNe, kFieldLt, kFieldLe, kFieldGt, kFieldGe,
  kFieldIn, kFieldNotIn,
  // Text-valued.
  kTextConst,  // text
  kTextField,  // field (reads Value::text)
};
// clang-format on

struct Node {
  Op op = Op::kConst;
  std::uint16_t field = 0;
  std::int64_t num = 0;
  std::vector<Node> kids;
  std::vector<std::int64_t> nums;  // kNumIn/kNumNotIn: the list; kSum: the sign of each kid
  std::vector<std::string> texts;  // kTextIn/kTextNotIn: the list
  std::string text;                // kTextConst
};

// ---------------------------------------------------------------------------------------------------------
// Evaluation. No allocation, no exceptions; recursion depth is bounded by the parser's nesting cap because
// and/or/+/- chains are flattened into n-ary nodes.

namespace {

inline const Value& field_value(const Env& env, std::uint16_t id) { return (*env.fields)[id]; }

// The day of a March-based year (Mar 1 = 0 ... Feb 28 = 364) of month m, day d; as in days_from_civil.
constexpr std::int64_t march_day_of_year(unsigned m, unsigned d) {
  return (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
}

// The latest date strictly before `today` whose March-based day of year is `target` (which is never Feb 29).
// This is `c = days_from_civil(y, M, D); if (c >= today) c = days_from_civil(y - 1, M, D)` with y from
// civil_from_days(today), done in one pass of the same arithmetic (Hinnant) without the calls: it is on the
// hot path. The test suite checks it against days_from_civil/civil_from_days for every day of 1600-2401.
inline std::int64_t latest_cycle_end(std::int64_t today, std::int64_t target) {
  const std::int64_t z = today + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<std::uint32_t>(z - era * 146097);                    // [0, 146096]
  const std::uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 // [0, 365], from Mar 1
  if (target < doy) return today - (doy - target);  // earlier in the current March-based year
  // In the previous March-based year, which ends with February of calendar year era * 400 + yoe.
  const bool leap = yoe % 4 == 0 && (yoe % 100 != 0 || yoe == 0);
  return today - doy - (leap ? 366 : 365) + target;
}

// Wrapping arithmetic: overflow is not undefined behaviour (and cannot happen with realistic inputs).
inline std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
inline std::int64_t wrap_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

bool test(const Node& n, const Env& env);

std::int64_t num(const Node& n, const Env& env) {
  switch (n.op) {
    case Op::kConst:
      return n.num;
    case Op::kField:
      return field_value(env, n.field).num;
    case Op::kToday:
      return env.today.days;
    case Op::kLatestCycleEnd:
      return latest_cycle_end(env.today.days, n.num);
    case Op::kSum: {
      std::int64_t acc = num(n.kids[0], env);
      for (std::size_t i = 1; i < n.kids.size(); ++i) {
        const std::int64_t v = num(n.kids[i], env);
        acc = n.nums[i] > 0 ? wrap_add(acc, v) : wrap_sub(acc, v);
      }
      return acc;
    }
    default:
      return test(n, env) ? 1 : 0;  // a bool-valued node compared with == / != / in
  }
}

inline std::string_view text(const Node& n, const Env& env) {
  if (n.op == Op::kTextField) return field_value(env, n.field).text;
  return n.text;
}

bool test(const Node& n, const Env& env) {
  switch (n.op) {
    case Op::kConst:
      return n.num != 0;
    case Op::kField:
      return field_value(env, n.field).num != 0;
    case Op::kAnd:
      for (const Node& k : n.kids)
        if (!test(k, env)) return false;
      return true;
    case Op::kOr:
      for (const Node& k : n.kids)
        if (test(k, env)) return true;
      return false;
    case Op::kNot:
      return !test(n.kids[0], env);
    case Op::kNumEq:
      return num(n.kids[0], env) == num(n.kids[1], env);
    case Op::kNumNe:
      return num(n.kids[0], env) != num(n.kids[1], env);
    case Op::kNumLt:
      return num(n.kids[0], env) < num(n.kids[1], env);
    case Op::kNumLe:
      return num(n.kids[0], env) <= num(n.kids[1], env);
    case Op::kNumGt:
      return num(n.kids[0], env) > num(n.kids[1], env);
    case Op::kNumGe:
      return num(n.kids[0], env) >= num(n.kids[1], env);
    case Op::kNumIn:
    case Op::kNumNotIn: {
      const std::int64_t v = num(n.kids[0], env);
      bool found = false;
      for (const std::int64_t x : n.nums)
        if (x == v) {
          found = true;
          break;
        }
      return found == (n.op == Op::kNumIn);
    }
    case Op::kFieldEq:
      return field_value(env, n.field).num == n.num;
    case Op::kFieldNe:
      return field_value(env, n.field).num != n.num;
    case Op::kFieldLt:
      return field_value(env, n.field).num < n.num;
    case Op::kFieldLe:
      return field_value(env, n.field).num <= n.num;
    case Op::kFieldGt:
      return field_value(env, n.field).num > n.num;
    case Op::kFieldGe:
      return field_value(env, n.field).num >= n.num;
    case Op::kFieldIn:
    case Op::kFieldNotIn: {
      const std::int64_t v = field_value(env, n.field).num;
      bool found = false;
      for (const std::int64_t x : n.nums)
        if (x == v) {
          found = true;
          break;
        }
      return found == (n.op == Op::kFieldIn);
    }
    case Op::kTextEq:
      return text(n.kids[0], env) == text(n.kids[1], env);
    case Op::kTextNe:
      return text(n.kids[0], env) != text(n.kids[1], env);
    case Op::kTextIn:
    case Op::kTextNotIn: {
      const std::string_view v = text(n.kids[0], env);
      bool found = false;
      for (const std::string& x : n.texts)
        if (std::string_view(x) == v) {
          found = true;
          break;
        }
      return found == (n.op == Op::kTextIn);
    }
    default:
      return false;  // not bool-typed: rejected by the type checker
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lexer.

enum class Tok : std::uint8_t {
  kEnd,
  kError,
  kInt,
  kDate,
  kString,
  kIdent,
  kAnd,
  kOr,
  kNot,
  kIn,
  kTrue,
  kFalse,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kPlus,
  kMinus,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::size_t begin = 0, end = 0;  // byte offsets into the source
  std::int64_t num = 0;            // kInt: the value; kDate: days since epoch
  std::string text;                // kString: the decoded value; kError: the message
  std::size_t error_pos = 0;       // kError: where the problem is
};

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
inline bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Token next() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
    Token t;
    t.begin = t.end = pos_;
    if (pos_ >= s_.size()) return t;  // kEnd
    const char c = s_[pos_];
    const auto uc = static_cast<unsigned char>(c);
    if (uc >= 0x80)
      return error(
          t, pos_,
          fmt::format("unexpected non-ASCII byte 0x{:02X}: non-ASCII text is only allowed inside \"quoted "
                      "strings\", and field names are ASCII",
                      uc));
    if (is_digit(c)) return number(t);
    if (is_ident_start(c)) return word(t);
    if (c == '"') return string(t);
    auto single = [&](Tok k, std::size_t len) {
      t.kind = k;
      pos_ += len;
      t.end = pos_;
      return t;
    };
    const char n = pos_ + 1 < s_.size() ? s_[pos_ + 1] : '\0';
    switch (c) {
      case '(':
        return single(Tok::kLParen, 1);
      case ')':
        return single(Tok::kRParen, 1);
      case '[':
        return single(Tok::kLBracket, 1);
      case ']':
        return single(Tok::kRBracket, 1);
      case ',':
        return single(Tok::kComma, 1);
      case '+':
        return single(Tok::kPlus, 1);
      case '-':
        return single(Tok::kMinus, 1);
      case '<':
        return n == '=' ? single(Tok::kLe, 2) : single(Tok::kLt, 1);
      case '>':
        return n == '=' ? single(Tok::kGe, 2) : single(Tok::kGt, 1);
      case '=':
        if (n == '=') return single(Tok::kEq, 2);
        return error(t, pos_, "unexpected '=': use '==' to test equality");
      case '!':
        if (n == '=') return single(Tok::kNe, 2);
        return error(t, pos_, "unexpected '!': use 'not' for negation or '!=' for inequality");
      case '&':
        return error(t, pos_, "unexpected '&': use 'and'");
      case '|':
        return error(t, pos_, "unexpected '|': use 'or'");
      case '\'':
        return error(t, pos_, "unexpected \"'\": strings are written in double quotes, e.g. \"tot\"");
      default:
        break;
    }
    if (uc < 0x20 || uc == 0x7F)
      return error(t, pos_, fmt::format("unexpected control character (byte 0x{:02X})", uc));
    return error(t, pos_, fmt::format("unexpected character '{}'", c));
  }

 private:
  Token error(Token& t, std::size_t at, std::string message) {
    t.kind = Tok::kError;
    t.error_pos = at;
    t.text = std::move(message);
    t.end = s_.size();
    pos_ = s_.size();
    return std::move(t);
  }

  std::size_t digits_from(std::size_t i) const {
    while (i < s_.size() && is_digit(s_[i])) ++i;
    return i;
  }

  Token number(Token& t) {
    std::size_t e = digits_from(pos_);
    bool date = false;
    // DATE := digits "-" digits "-" digits (three groups, no spaces); otherwise "5-3" is a subtraction.
    if (e + 1 < s_.size() && s_[e] == '-' && is_digit(s_[e + 1])) {
      const std::size_t e2 = digits_from(e + 1);
      if (e2 + 1 < s_.size() && s_[e2] == '-' && is_digit(s_[e2 + 1])) {
        e = digits_from(e2 + 1);
        date = true;
      }
    }
    if (e < s_.size() && is_ident_char(s_[e])) {
      std::size_t w = e;
      while (w < s_.size() && is_ident_char(s_[w])) ++w;
      return error(
          t, pos_,
          fmt::format("'{}' is not a valid {}", s_.substr(pos_, w - pos_), date ? "date" : "number"));
    }
    const std::string_view lit = s_.substr(pos_, e - pos_);
    if (date) {
      const auto d = parse_date(lit);
      if (!d)
        return error(
            t, pos_,
            fmt::format("invalid date '{}': dates are written YYYY-MM-DD and must exist (years 1900-2200)",
                        lit));
      t.kind = Tok::kDate;
      t.num = d->days;
    } else {
      std::int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(lit.data(), lit.data() + lit.size(), v);
      if (ec != std::errc{} || ptr != lit.data() + lit.size())
        return error(t, pos_, fmt::format("integer literal '{}' is too large", lit));
      t.kind = Tok::kInt;
      t.num = v;
    }
    pos_ = e;
    t.end = e;
    return std::move(t);
  }

  Token word(Token& t) {
    std::size_t e = pos_;
    while (e < s_.size() && is_ident_char(s_[e])) ++e;
    const std::string_view w = s_.substr(pos_, e - pos_);
    if (w == "and")
      t.kind = Tok::kAnd;
    else if (w == "or")
      t.kind = Tok::kOr;
    else if (w == "not")
      t.kind = Tok::kNot;
    else if (w == "in")
      t.kind = Tok::kIn;
    else if (w == "true")
      t.kind = Tok::kTrue;
    else if (w == "false")
      t.kind = Tok::kFalse;
    else
      t.kind = Tok::kIdent;
    pos_ = e;
    t.end = e;
    return std::move(t);
  }

  Token string(Token& t) {
    std::string out;
    std::size_t i = pos_ + 1;
    for (;;) {
      if (i >= s_.size()) return error(t, t.begin, "unterminated string: missing closing '\"'");
      const char c = s_[i];
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 >= s_.size()) return error(t, t.begin, "unterminated string: missing closing '\"'");
        const char e = s_[i + 1];
        if (e != '"' && e != '\\') {
          const auto ue = static_cast<unsigned char>(e);
          return error(
              t, i,
              ue >= 0x20 && ue < 0x7F
                  ? fmt::format("unknown escape '\\{}' in string (only \\\" and \\\\ are allowed)", e)
                  : std::string("unknown escape in string (only \\\" and \\\\ are allowed)"));
        }
        out.push_back(e);
        i += 2;
        continue;
      }
      out.push_back(c);
      ++i;
    }
    if (!is_valid_utf8(out)) return error(t, t.begin, "string is not valid UTF-8");
    t.kind = Tok::kString;
    t.text = std::move(out);
    pos_ = i + 1;
    t.end = pos_;
    return std::move(t);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Types.

enum class Type : std::uint8_t { kInt, kBool, kDate, kText, kEnum };

const char* type_name(Type t) {
  switch (t) {
    case Type::kInt:
      return "int";
    case Type::kBool:
      return "bool";
    case Type::kDate:
      return "date";
    case Type::kText:
      return "text";
    case Type::kEnum:
      return "enum";
  }
  return "?";
}

// What a parsed operand looks like, for error messages and enum-literal conversion.
enum class Shape : std::uint8_t { kOther, kField, kLiteral, kStringLiteral };

constexpr int kMaxDepth = 64;
constexpr unsigned kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};  // Feb 29 is rejected

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// The compiler: parser + type checker.

struct Compiler {
  // A parsed, type-checked subexpression plus what the checker needs to know about it.
  struct Typed {
    Node node;
    Type type = Type::kBool;
    Shape shape = Shape::kOther;
    const FieldSpec* spec = nullptr;  // kEnum: the field's spec (valid during compilation only)
    std::string_view name;            // kField: the field name
    std::string literal;              // kStringLiteral: the decoded text
    std::size_t begin = 0, end = 0;
  };

  // Fills `out` with a finished node spanning [begin, the end of the last token read]; returns true.
  bool emit(Typed& out, Node node, Type type, std::size_t begin) {
    out = Typed{};
    out.node = std::move(node);
    out.type = type;
    out.begin = begin;
    out.end = prev_end_;
    return true;
  }

  Compiler(std::string_view source, const Schema& schema) : src_(source), schema_(schema), lex_(source) {}

  void run(CompileResult& r) {
    std::size_t first = 0;
    while (first < src_.size() && is_space(src_[first])) ++first;
    if (first == src_.size()) {
      fail(0, "the expression is empty");
    } else {
      advance();
      Typed root;
      if (parse_or(root)) {
        if (tok_.kind != Tok::kEnd) {
          if (tok_.kind == Tok::kRParen)
            fail_token("unmatched ')'");
          else
            fail_token("unexpected " + describe_token() +
                       " after the end of the expression (missing 'and' or 'or'?)");
        } else if (root.type != Type::kBool) {
          fail(root.begin, fmt::format("the expression must be bool, got {}", type_name(root.type)));
        } else {
          r.expr.root_ = std::make_shared<const Node>(std::move(root.node));
          r.expr.fields_ = std::move(fields_);
          r.expr.source_ = std::string(src_);
          r.ok = true;
          return;
        }
      }
    }
    r.ok = false;
    r.error = std::move(error_);
  }

 private:
  // --- Errors
  // -------------------------------------------------------------------------------------------------

  bool fail(std::size_t pos, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_.column = static_cast<int>(pos + 1);
      error_.message = std::move(message);
    }
    return false;
  }

  // Fails at the current token. A lexical error there takes precedence: it says what is really wrong.
  bool fail_token(std::string message) {
    if (tok_.kind == Tok::kError) return fail(tok_.error_pos, tok_.text);
    return fail(tok_.begin, std::move(message));
  }

  std::string describe_token() const {
    switch (tok_.kind) {
      case Tok::kEnd:
        return "end of input";
      case Tok::kString:
        return std::string(slice(tok_.begin, tok_.end));
      default:
        return fmt::format("'{}'", slice(tok_.begin, tok_.end));
    }
  }

  std::string_view slice(std::size_t b, std::size_t e) const { return src_.substr(b, e - b); }

  std::string describe_range(std::size_t b, std::size_t e) const {
    std::string_view s = slice(b, e);
    if (s.size() > 40) return fmt::format("'{}...'", s.substr(0, 37));
    return fmt::format("'{}'", s);
  }

  std::string describe(const Typed& t) const {
    switch (t.shape) {
      case Shape::kField:
        return fmt::format("'{}'", t.name);
      case Shape::kLiteral:
      case Shape::kStringLiteral: {
        std::string_view s = slice(t.begin, t.end);
        if (s.size() > 40) return fmt::format("{}...", s.substr(0, 37));
        return std::string(s);
      }
      case Shape::kOther:
        break;
    }
    return describe_range(t.begin, t.end);
  }

  // --- Tokens and nesting
  // -------------------------------------------------------------------------------------

  void advance() {
    prev_end_ = tok_.end;
    tok_ = lex_.next();
  }

  struct DepthGuard {
    int& depth;
    ~DepthGuard() { --depth; }
  };

  bool enter(std::size_t pos) {
    if (++depth_ > kMaxDepth)
      return fail(pos, fmt::format("the expression is nested too deeply (more than {} levels)", kMaxDepth));
    return true;
  }

  // --- Grammar
  // ------------------------------------------------------------------------------------------------

  bool require_bool(const Typed& t, const char* op) {
    if (t.type == Type::kBool) return true;
    return fail(t.begin,
                fmt::format("'{}' needs bool operands, but {} is {}", op, describe(t), type_name(t.type)));
  }

  // or := and ("or" and)*      and := not ("and" not)*      (flattened into one n-ary node)
  bool parse_or(Typed& out) { return parse_chain(out, Tok::kOr, Op::kOr, "or"); }

  bool parse_chain(Typed& out, Tok tok, Op op, const char* word) {
    Typed first;
    if (!(tok == Tok::kOr ? parse_chain(first, Tok::kAnd, Op::kAnd, "and") : parse_not(first))) return false;
    if (tok_.kind != tok) {
      out = std::move(first);
      return true;
    }
    if (!require_bool(first, word)) return false;
    Node node;
    node.op = op;
    const std::size_t begin = first.begin;
    node.kids.push_back(std::move(first.node));
    while (tok_.kind == tok) {
      advance();
      Typed next;
      if (!(tok == Tok::kOr ? parse_chain(next, Tok::kAnd, Op::kAnd, "and") : parse_not(next))) return false;
      if (!require_bool(next, word)) return false;
      node.kids.push_back(std::move(next.node));
    }
    return emit(out, std::move(node), Type::kBool, begin);
  }

  // not := "not" not | cmp
  bool parse_not(Typed& out) {
    if (tok_.kind != Tok::kNot) return parse_cmp(out);
    const std::size_t pos = tok_.begin;
    if (!enter(pos)) return false;
    DepthGuard guard{depth_};
    advance();
    Typed inner;
    if (!parse_not(inner)) return false;
    if (inner.type != Type::kBool)
      return fail(inner.begin, fmt::format("'not' needs a bool operand, but {} is {}", describe(inner),
                                           type_name(inner.type)));
    Node node;
    node.op = Op::kNot;
    node.kids.push_back(std::move(inner.node));
    return emit(out, std::move(node), Type::kBool, pos);
  }

  static bool is_comparison(Tok k) {
    return k == Tok::kEq || k == Tok::kNe || k == Tok::kLt || k == Tok::kLe || k == Tok::kGt || k == Tok::kGe;
  }

  // cmp := sum (op sum)? | sum "not"? "in" "[" literal ("," literal)* "]"
  bool parse_cmp(Typed& out) {
    Typed lhs;
    if (!parse_sum(lhs)) return false;
    if (is_comparison(tok_.kind)) {
      const Tok op = tok_.kind;
      const std::size_t op_pos = tok_.begin;
      const std::string_view op_text = slice(tok_.begin, tok_.end);
      advance();
      Typed rhs;
      if (!parse_sum(rhs)) return false;
      if (!build_comparison(op, op_pos, op_text, lhs, rhs, out)) return false;
      if (is_comparison(tok_.kind))
        return fail_token("comparisons cannot be chained; combine them with 'and'");
      return true;
    }
    bool negate = false;
    if (tok_.kind == Tok::kNot) {
      advance();
      if (tok_.kind != Tok::kIn)
        return fail_token("expected 'in' after 'not' (as in: x not in [...]), found " + describe_token());
      negate = true;
    }
    if (tok_.kind == Tok::kIn) {
      advance();
      return parse_list(lhs, negate, out);
    }
    out = std::move(lhs);
    return true;
  }

  // Looks up an enum literal; fails at `pos` when it is not a declared value.
  bool enum_index(const Typed& e, std::string_view value, std::size_t pos, std::int64_t& index) {
    const auto& values = e.spec->enum_values;
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] == value) {
        index = static_cast<std::int64_t>(i);
        return true;
      }
    return fail(pos, fmt::format("enum '{}' has no value \"{}\" (values: {})", e.name, value,
                                 fmt::join(values, ", ")));
  }

  std::string enum_hint(const Typed& e) const {
    if (e.spec->enum_values.empty()) return "";
    return fmt::format("; compare it with one of its values in quotes, e.g. \"{}\"",
                       e.spec->enum_values.front());
  }

  // Rewrites "field op literal" (either order) and "field in [...]" into one fused node.
  static void fuse(Node& n) {
    static constexpr Op kFused[] = {Op::kFieldEq, Op::kFieldNe, Op::kFieldLt,
                                    Op::kFieldLe, Op::kFieldGt, Op::kFieldGe};
    static constexpr Op kMirrored[] = {Op::kFieldEq, Op::kFieldNe, Op::kFieldGt,
                                       Op::kFieldGe, Op::kFieldLt, Op::kFieldLe};
    if (n.op >= Op::kNumEq && n.op <= Op::kNumGe) {
      const auto i = static_cast<std::size_t>(n.op) - static_cast<std::size_t>(Op::kNumEq);
      const Node& a = n.kids[0];
      const Node& b = n.kids[1];
      if (a.op == Op::kField && b.op == Op::kConst) {
        n.op = kFused[i];
        n.field = a.field;
        n.num = b.num;
      } else if (a.op == Op::kConst && b.op == Op::kField) {
        n.op = kMirrored[i];
        n.field = b.field;
        n.num = a.num;
      } else {
        return;
      }
      n.kids.clear();
    } else if ((n.op == Op::kNumIn || n.op == Op::kNumNotIn) && n.kids[0].op == Op::kField) {
      n.field = n.kids[0].field;
      n.op = n.op == Op::kNumIn ? Op::kFieldIn : Op::kFieldNotIn;
      n.kids.clear();
    }
  }

  bool build_comparison(Tok op, std::size_t op_pos, std::string_view op_text, Typed& lhs, Typed& rhs,
                        Typed& out) {
    const bool ordering = op != Tok::kEq && op != Tok::kNe;
    Node node;
    if (lhs.type == Type::kEnum || rhs.type == Type::kEnum) {
      if (lhs.type == Type::kEnum && rhs.type == Type::kEnum) {
        if (lhs.spec->enum_values != rhs.spec->enum_values)
          return fail(rhs.begin,
                      fmt::format("{} and {} are enums with different values and cannot be compared",
                                  describe(lhs), describe(rhs)));
      } else {
        Typed& e = lhs.type == Type::kEnum ? lhs : rhs;
        Typed& o = lhs.type == Type::kEnum ? rhs : lhs;
        if (o.shape != Shape::kStringLiteral)
          return fail(o.begin, fmt::format("{} is enum but {} is {}{}", describe(e), describe(o),
                                           type_name(o.type), enum_hint(e)));
        std::int64_t index = 0;
        if (!enum_index(e, o.literal, o.begin, index)) return false;
        o.node = Node{};
        o.node.op = Op::kConst;
        o.node.num = index;
        o.type = Type::kEnum;
      }
      if (ordering)
        return fail(op_pos, fmt::format("'{}' does not apply to enum values; use ==, != or 'in'", op_text));
    } else if (lhs.type != rhs.type) {
      return fail(rhs.begin, fmt::format("{} is {} but {} is {}", describe(lhs), type_name(lhs.type),
                                         describe(rhs), type_name(rhs.type)));
    } else if (ordering && (lhs.type == Type::kText || lhs.type == Type::kBool)) {
      return fail(op_pos, fmt::format("'{}' does not apply to {} values; use == or !=", op_text,
                                      type_name(lhs.type)));
    }
    const bool is_text = lhs.type == Type::kText;
    switch (op) {
      case Tok::kEq:
        node.op = is_text ? Op::kTextEq : Op::kNumEq;
        break;
      case Tok::kNe:
        node.op = is_text ? Op::kTextNe : Op::kNumNe;
        break;
      case Tok::kLt:
        node.op = Op::kNumLt;
        break;
      case Tok::kLe:
        node.op = Op::kNumLe;
        break;
      case Tok::kGt:
        node.op = Op::kNumGt;
        break;
      case Tok::kGe:
        node.op = Op::kNumGe;
        break;
      default:
        return fail(op_pos, "internal error: unknown comparison");
    }
    const std::size_t begin = lhs.begin;
    node.kids.push_back(std::move(lhs.node));
    node.kids.push_back(std::move(rhs.node));
    fuse(node);
    return emit(out, std::move(node), Type::kBool, begin);
  }

  static bool is_literal(Tok k) {
    return k == Tok::kInt || k == Tok::kDate || k == Tok::kString || k == Tok::kTrue || k == Tok::kFalse;
  }

  static Type literal_type(Tok k) {
    switch (k) {
      case Tok::kInt:
        return Type::kInt;
      case Tok::kDate:
        return Type::kDate;
      case Tok::kString:
        return Type::kText;
      default:
        return Type::kBool;
    }
  }

  bool parse_list(Typed& lhs, bool negate, Typed& out) {
    if (tok_.kind != Tok::kLBracket) return fail_token("expected '[' after 'in', found " + describe_token());
    advance();
    const bool is_text = lhs.type == Type::kText;
    Node node;
    node.op = is_text ? (negate ? Op::kTextNotIn : Op::kTextIn) : (negate ? Op::kNumNotIn : Op::kNumIn);
    for (;;) {
      if (!is_literal(tok_.kind)) {
        if (tok_.kind == Tok::kRBracket && node.nums.empty() && node.texts.empty())
          return fail_token("the list after 'in' is empty");
        std::string msg = "expected a literal value in the list, found " + describe_token();
        if (tok_.kind == Tok::kIdent || tok_.kind == Tok::kLParen || tok_.kind == Tok::kMinus)
          msg += " (list items must be plain literals)";
        return fail_token(std::move(msg));
      }
      const Type item_type = literal_type(tok_.kind);
      const std::string_view item_src = slice(tok_.begin, tok_.end);
      if (lhs.type == Type::kEnum) {
        if (tok_.kind != Tok::kString)
          return fail(tok_.begin, fmt::format("{} is enum but {} is {}{}", describe(lhs), item_src,
                                              type_name(item_type), enum_hint(lhs)));
        std::int64_t index = 0;
        if (!enum_index(lhs, tok_.text, tok_.begin, index)) return false;
        node.nums.push_back(index);
      } else if (item_type != lhs.type) {
        return fail(tok_.begin, fmt::format("{} is {} but {} is {}", describe(lhs), type_name(lhs.type),
                                            item_src, type_name(item_type)));
      } else if (is_text) {
        node.texts.push_back(std::move(tok_.text));
      } else {
        node.nums.push_back(tok_.kind == Tok::kTrue ? 1 : tok_.kind == Tok::kFalse ? 0 : tok_.num);
      }
      advance();
      if (tok_.kind == Tok::kComma) {
        advance();
        continue;
      }
      if (tok_.kind == Tok::kRBracket) {
        advance();
        break;
      }
      return fail_token("expected ',' or ']' in the list, found " + describe_token());
    }
    const std::size_t begin = lhs.begin;
    node.kids.push_back(std::move(lhs.node));
    fuse(node);
    return emit(out, std::move(node), Type::kBool, begin);
  }

  // sum := primary (("+" | "-") primary)*      (flattened into one n-ary node)
  bool parse_sum(Typed& out) {
    Typed first;
    if (!parse_primary(first)) return false;
    if (tok_.kind != Tok::kPlus && tok_.kind != Tok::kMinus) {
      out = std::move(first);
      return true;
    }
    const std::size_t begin = first.begin;
    Type acc = first.type;
    Node node;
    node.op = Op::kSum;
    node.kids.push_back(std::move(first.node));
    node.nums.push_back(1);
    while (tok_.kind == Tok::kPlus || tok_.kind == Tok::kMinus) {
      const bool plus = tok_.kind == Tok::kPlus;
      const std::size_t op_pos = tok_.begin;
      const std::size_t acc_end = prev_end_;
      advance();
      Typed term;
      if (!parse_primary(term)) return false;
      Type result;
      if (acc == Type::kInt && term.type == Type::kInt)
        result = Type::kInt;
      else if (acc == Type::kDate && term.type == Type::kInt)
        result = Type::kDate;
      else if (acc == Type::kDate && term.type == Type::kDate && !plus)
        result = Type::kInt;
      else
        return fail(op_pos, fmt::format("'{}' cannot combine {} ({}) with {} ({}); arithmetic is int + int, "
                                        "int - int, date + int, date - int (days) or date - date",
                                        plus ? '+' : '-', describe_range(begin, acc_end), type_name(acc),
                                        describe(term), type_name(term.type)));
      acc = result;
      node.kids.push_back(std::move(term.node));
      node.nums.push_back(plus ? 1 : -1);
    }
    return emit(out, std::move(node), acc, begin);
  }

  bool parse_primary(Typed& out) {
    out = Typed{};
    out.begin = tok_.begin;
    switch (tok_.kind) {
      case Tok::kInt:
      case Tok::kDate:
      case Tok::kTrue:
      case Tok::kFalse:
        out.node.op = Op::kConst;
        out.node.num = tok_.kind == Tok::kTrue ? 1 : tok_.kind == Tok::kFalse ? 0 : tok_.num;
        out.type = literal_type(tok_.kind);
        out.shape = Shape::kLiteral;
        advance();
        out.end = prev_end_;
        return true;
      case Tok::kString:
        out.node.op = Op::kTextConst;
        out.node.text = tok_.text;
        out.literal = std::move(tok_.text);
        out.type = Type::kText;
        out.shape = Shape::kStringLiteral;
        advance();
        out.end = prev_end_;
        return true;
      case Tok::kLParen: {
        const std::size_t pos = tok_.begin;
        if (!enter(pos)) return false;
        DepthGuard guard{depth_};
        advance();
        if (!parse_or(out)) return false;
        if (tok_.kind != Tok::kRParen)
          return fail_token(
              fmt::format("expected ')' to close the '(' at column {}, found {}", pos + 1, describe_token()));
        advance();
        out.begin = pos;
        out.end = prev_end_;
        return true;
      }
      case Tok::kIdent:
        return parse_name(out);
      default: {
        std::string msg =
            "expected a value (a number, date, \"string\", true, false, field name or '('), found " +
            describe_token();
        if (tok_.kind == Tok::kMinus) msg += " (there is no unary minus: write 0 - 1)";
        return fail_token(std::move(msg));
      }
    }
  }

  static constexpr const char* kCycleEndUsage =
      "latest_cycle_end expects 2 int literals (month 1-12, day 1-31), e.g. latest_cycle_end(11, 15)";

  bool parse_name(Typed& out) {
    const std::size_t pos = tok_.begin;
    const std::string_view name = slice(tok_.begin, tok_.end);
    advance();
    if (tok_.kind == Tok::kLParen) {
      if (name == "today") return fail(pos, "'today' is not a function; write it without parentheses");
      if (name != "latest_cycle_end") return fail(pos, fmt::format("unknown function '{}'", name));
      return parse_latest_cycle_end(pos, out);
    }
    if (name == "today") {
      out.node.op = Op::kToday;
      out.type = Type::kDate;
      out.end = prev_end_;
      return true;
    }
    if (name == "latest_cycle_end") return fail(pos, kCycleEndUsage);
    FieldId id;
    const FieldSpec* spec = schema_.find(name, &id);
    if (spec == nullptr || !id.valid()) return fail(pos, fmt::format("unknown field '{}'", name));
    switch (spec->type) {
      case FieldType::kInt:
        out.type = Type::kInt;
        break;
      case FieldType::kBool:
        out.type = Type::kBool;
        break;
      case FieldType::kDate:
        out.type = Type::kDate;
        break;
      case FieldType::kText:
        out.type = Type::kText;
        break;
      case FieldType::kEnum:
        out.type = Type::kEnum;
        break;
    }
    out.node.op = out.type == Type::kText ? Op::kTextField : Op::kField;
    out.node.field = id.value;
    out.shape = Shape::kField;
    out.spec = spec;
    out.name = name;
    out.end = prev_end_;
    bool seen = false;
    for (const FieldId f : fields_)
      if (f == id) {
        seen = true;
        break;
      }
    if (!seen) fields_.push_back(id);
    return true;
  }

  // At `(`, just after the name.
  bool parse_latest_cycle_end(std::size_t pos, Typed& out) {
    advance();
    std::vector<Typed> args;
    if (tok_.kind != Tok::kRParen) {
      for (;;) {
        if (!enter(tok_.begin)) return false;
        DepthGuard guard{depth_};
        Typed arg;
        if (!parse_or(arg)) return false;
        args.push_back(std::move(arg));
        if (tok_.kind != Tok::kComma) break;
        advance();
      }
    }
    if (tok_.kind != Tok::kRParen)
      return fail_token("expected ')' to close the arguments of latest_cycle_end, found " + describe_token());
    advance();
    for (const Typed& a : args)
      if (a.shape != Shape::kLiteral || a.type != Type::kInt) return fail(a.begin, kCycleEndUsage);
    if (args.size() != 2) return fail(pos, kCycleEndUsage);
    const std::int64_t m = args[0].node.num, d = args[1].node.num;
    if (m < 1 || m > 12) return fail(args[0].begin, kCycleEndUsage);
    if (d < 1 || d > 31) return fail(args[1].begin, kCycleEndUsage);
    if (m == 2 && d == 29)
      return fail(args[1].begin,
                  "latest_cycle_end(2, 29) is not supported: February 29 does not occur every year");
    if (static_cast<unsigned>(d) > kDaysInMonth[m - 1])
      return fail(args[1].begin,
                  fmt::format("latest_cycle_end: month {} has only {} days, so day {} never occurs", m,
                              kDaysInMonth[m - 1], d));
    out.node = Node{};
    out.node.op = Op::kLatestCycleEnd;
    out.node.num = march_day_of_year(static_cast<unsigned>(m), static_cast<unsigned>(d));
    out.type = Type::kDate;
    out.shape = Shape::kOther;
    out.begin = pos;
    out.end = prev_end_;
    return true;
  }

  std::string_view src_;
  const Schema& schema_;
  Lexer lex_;
  Token tok_;
  std::size_t prev_end_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  CompileError error_;
  std::vector<FieldId> fields_;
};

bool Expr::eval(const Env& env) const { return root_ != nullptr && test(*root_, env); }

namespace {

bool reads_field(Op op) {
  switch (op) {
    case Op::kField:
    case Op::kFieldEq:
    case Op::kFieldNe:
    case Op::kFieldLt:
    case Op::kFieldLe:
    case Op::kFieldGt:
    case Op::kFieldGe:
    case Op::kFieldIn:
    case Op::kFieldNotIn:
    case Op::kTextField:
      return true;
    default:
      return false;
  }
}

// The first field read anywhere in `n` that has no value; -1 when every read field has one.
int first_missing(const Node& n, const Env& env) {
  if (reads_field(n.op) && !field_value(env, n.field).present()) return n.field;
  for (const Node& k : n.kids)
    if (int f = first_missing(k, env); f >= 0) return f;
  return -1;
}

using Truth = Expr::Truth;

Truth tri(const Node& n, const Env& env, int& missing) {
  switch (n.op) {
    case Op::kAnd:
    case Op::kOr: {
      const bool is_and = n.op == Op::kAnd;
      Truth acc = is_and ? Truth::kTrue : Truth::kFalse;
      for (const Node& k : n.kids) {
        const Truth t = tri(k, env, missing);
        if (t == (is_and ? Truth::kFalse : Truth::kTrue)) return t;  // decided whatever the others are
        if (t == Truth::kUnknown) acc = Truth::kUnknown;
      }
      return acc;
    }
    case Op::kNot: {
      const Truth t = tri(n.kids[0], env, missing);
      return t == Truth::kUnknown ? t : (t == Truth::kTrue ? Truth::kFalse : Truth::kTrue);
    }
    default: {
      if (int f = first_missing(n, env); f >= 0) {
        if (missing < 0) missing = f;
        return Truth::kUnknown;
      }
      return test(n, env) ? Truth::kTrue : Truth::kFalse;
    }
  }
}

}  // namespace

Expr::Truth Expr::eval3(const Env& env, FieldId* missing) const {
  if (root_ == nullptr) return Truth::kFalse;
  int first = -1;
  const Truth t = tri(*root_, env, first);
  if (t == Truth::kUnknown && missing != nullptr) *missing = FieldId{static_cast<std::uint16_t>(first)};
  return t;
}

CompileResult compile(std::string_view source, const Schema& schema) {
  CompileResult r;
  try {
    Compiler c(source, schema);
    c.run(r);
  } catch (...) {  // only std::bad_alloc can get here
    r = CompileResult{};
    r.error.column = 1;
    r.error.message = "internal error: out of memory while compiling the expression";
  }
  return r;
}

}  // namespace hoso::expr
