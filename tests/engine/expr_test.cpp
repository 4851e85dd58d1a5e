#include "engine/expr.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace hoso;
using namespace hoso::expr;

namespace {

class TestSchema : public Schema {
 public:
  FieldId add(std::string name, FieldSpec spec) {
    const FieldId id{static_cast<std::uint16_t>(fields_.size())};
    fields_.emplace(std::move(name), std::make_pair(id, std::move(spec)));
    return id;
  }
  const FieldSpec* find(std::string_view name, FieldId* id) const override {
    const auto it = fields_.find(std::string(name));
    if (it == fields_.end()) return nullptr;
    *id = it->second.first;
    return &it->second.second;
  }
  std::size_t size() const { return fields_.size(); }

 private:
  std::map<std::string, std::pair<FieldId, FieldSpec>> fields_;
};

FieldSpec spec(FieldType t, std::vector<std::string> values = {}) {
  FieldSpec s;
  s.type = t;
  s.enum_values = std::move(values);
  return s;
}

Date ymd(int y, unsigned m, unsigned d) { return Date{days_from_civil(y, m, d)}; }

struct Fixture {
  TestSchema schema;
  FieldId leads_cluster, provincial_merits, grade, prev_grade, sector, cert_end, start_date, note, title,
      years, veteran;
  std::vector<Value> values;
  Date today = ymd(2025, 11, 15);

  Fixture() {
    const std::vector<std::string> grades = {"xuat_sac", "tot", "kha"};
    leads_cluster = schema.add("leads_cluster", spec(FieldType::kBool));
    provincial_merits = schema.add("provincial_merits", spec(FieldType::kInt));
    grade = schema.add("grade", spec(FieldType::kEnum, grades));
    prev_grade = schema.add("prev_grade", spec(FieldType::kEnum, grades));
    sector = schema.add("sector", spec(FieldType::kEnum, {"a", "b"}));
    cert_end = schema.add("cert_end", spec(FieldType::kDate));
    start_date = schema.add("start_date", spec(FieldType::kDate));
    note = schema.add("note", spec(FieldType::kText));
    title = schema.add("title", spec(FieldType::kText));
    years = schema.add("years", spec(FieldType::kInt));
    veteran = schema.add("veteran", spec(FieldType::kBool));
    values.resize(schema.size());
    set(leads_cluster, Value::boolean(true));
    set(provincial_merits, Value::integer(3));
    set(grade, Value::enumeration(1));       // tot
    set(prev_grade, Value::enumeration(0));  // xuat_sac
    set(sector, Value::enumeration(1));      // b
    set(cert_end, Value::date(ymd(2025, 1, 10)));
    set(start_date, Value::date(ymd(2024, 12, 31)));
    set(note, Value::string("Nguyễn Văn A"));
    set(title, Value::string("Chiến sĩ thi đua"));
    set(years, Value::integer(10));
    set(veteran, Value::boolean(false));
  }

  void set(FieldId id, Value v) { values[id.value] = std::move(v); }

  bool eval(std::string_view src) {
    const CompileResult r = compile(src, schema);
    INFO("source: " << src);
    INFO("error: col " << r.error.column << ": " << r.error.message);
    REQUIRE(r.ok);
    const Env env{&values, today};
    return r.expr.eval(env);
  }

  void expect_error(std::string_view src, int column, const std::string& part) {
    const CompileResult r = compile(src, schema);
    INFO("source: " << src);
    INFO("error: col " << r.error.column << ": " << r.error.message);
    REQUIRE_FALSE(r.ok);
    CHECK(r.error.column == column);
    CHECK_THAT(r.error.message, Catch::Contains(part));
  }
};

}  // namespace

TEST_CASE("int comparisons", "[expr]") {
  Fixture f;  // provincial_merits = 3, years = 10
  CHECK(f.eval("provincial_merits == 3"));
  CHECK_FALSE(f.eval("provincial_merits == 4"));
  CHECK(f.eval("provincial_merits != 4"));
  CHECK_FALSE(f.eval("provincial_merits != 3"));
  CHECK(f.eval("provincial_merits < 4"));
  CHECK_FALSE(f.eval("provincial_merits < 3"));
  CHECK(f.eval("provincial_merits <= 3"));
  CHECK_FALSE(f.eval("provincial_merits <= 2"));
  CHECK(f.eval("provincial_merits > 2"));
  CHECK_FALSE(f.eval("provincial_merits > 3"));
  CHECK(f.eval("provincial_merits >= 3"));
  CHECK_FALSE(f.eval("provincial_merits >= 4"));
  CHECK(f.eval("years > provincial_merits"));
  CHECK_FALSE(f.eval("years < provincial_merits"));
  CHECK(f.eval("3 == provincial_merits"));
  CHECK(f.eval("1 < 2"));
  CHECK_FALSE(f.eval("2 < 1"));
  // Literal on the left (the comparison is mirrored internally).
  CHECK(f.eval("9 < years"));
  CHECK_FALSE(f.eval("10 < years"));
  CHECK(f.eval("10 <= years"));
  CHECK_FALSE(f.eval("11 <= years"));
  CHECK(f.eval("11 > years"));
  CHECK_FALSE(f.eval("10 > years"));
  CHECK(f.eval("10 >= years"));
  CHECK_FALSE(f.eval("9 >= years"));
  CHECK(f.eval("9 != years"));
  CHECK_FALSE(f.eval("10 != years"));
  CHECK(f.eval("years in [1, 10, 100]"));
  CHECK_FALSE(f.eval("years in [1, 100]"));
  CHECK(f.eval("years not in [1, 100]"));
  CHECK_FALSE(f.eval("years not in [10]"));
  CHECK(f.eval("years + 0 in [10]"));
  CHECK_FALSE(f.eval("years + 1 in [10]"));
  CHECK(f.eval("years + 1 not in [10]"));

  SECTION("values change between evaluations") {
    const CompileResult r = compile("provincial_merits >= 5", f.schema);
    REQUIRE(r.ok);
    CHECK_FALSE(r.expr.eval(Env{&f.values, f.today}));
    f.set(f.provincial_merits, Value::integer(5));
    CHECK(r.expr.eval(Env{&f.values, f.today}));
  }
}

TEST_CASE("int arithmetic", "[expr]") {
  Fixture f;  // provincial_merits = 3, years = 10
  CHECK(f.eval("years + provincial_merits == 13"));
  CHECK_FALSE(f.eval("years + provincial_merits == 12"));
  CHECK(f.eval("years - provincial_merits == 7"));
  CHECK(f.eval("years - 1 + 2 == 11"));  // left-associative
  CHECK(f.eval("years - (1 + 2) == 7"));
  CHECK_FALSE(f.eval("years - (1 + 2) == 11"));
  CHECK(f.eval("5-3 == 2"));  // two digit groups are a subtraction, not a date
  CHECK(f.eval("years+1>10"));
  CHECK(f.eval("0 - 5 < 0"));
}

TEST_CASE("dates: literals, arithmetic, comparisons", "[expr]") {
  Fixture f;  // cert_end = 2025-01-10, start_date = 2024-12-31, today = 2025-11-15
  CHECK(f.eval("cert_end == 2025-01-10"));
  CHECK_FALSE(f.eval("cert_end == 2025-01-11"));
  CHECK(f.eval("cert_end != 2025-01-11"));
  CHECK(f.eval("cert_end > start_date"));
  CHECK_FALSE(f.eval("cert_end < start_date"));
  CHECK(f.eval("cert_end >= 2025-01-10"));
  CHECK_FALSE(f.eval("cert_end >= 2025-01-11"));
  CHECK(f.eval("cert_end <= 2025-01-10"));
  CHECK_FALSE(f.eval("cert_end <= 2025-01-09"));
  CHECK(f.eval("start_date + 1 == 2025-01-01"));
  CHECK_FALSE(f.eval("start_date + 1 == 2024-12-30"));
  CHECK(f.eval("cert_end - 10 == start_date"));
  CHECK(f.eval("cert_end - start_date == 10"));
  CHECK_FALSE(f.eval("cert_end - start_date == 9"));
  CHECK(f.eval("start_date - cert_end == 0 - 10"));
  CHECK(f.eval("cert_end - start_date + 5 == 15"));  // (date - date) + int
  CHECK(f.eval("2025-03-01 - 2025-02-28 == 1"));
  CHECK(f.eval("2024-03-01 - 2024-02-28 == 2"));  // leap year
  CHECK(f.eval("cert_end in [2025-01-10, 2025-01-11]"));
  CHECK_FALSE(f.eval("cert_end in [2025-01-09, 2025-01-11]"));
  CHECK(f.eval("cert_end not in [2025-01-09]"));
  CHECK_FALSE(f.eval("cert_end not in [2025-01-10]"));
}

TEST_CASE("today and latest_cycle_end", "[expr]") {
  Fixture f;
  SECTION("today") {
    f.today = ymd(2025, 11, 15);
    CHECK(f.eval("today == 2025-11-15"));
    CHECK_FALSE(f.eval("today == 2025-11-16"));
    CHECK(f.eval("today - cert_end > 300"));
  }
  SECTION("on the anniversary the cycle ending today is not yet closed") {
    f.today = ymd(2025, 11, 15);
    CHECK(f.eval("latest_cycle_end(11, 15) == 2024-11-15"));
    CHECK_FALSE(f.eval("latest_cycle_end(11, 15) == 2025-11-15"));
  }
  SECTION("the day after, it is") {
    f.today = ymd(2025, 11, 16);
    CHECK(f.eval("latest_cycle_end(11, 15) == 2025-11-15"));
    CHECK_FALSE(f.eval("latest_cycle_end(11, 15) == 2024-11-15"));
  }
  SECTION("the day before") {
    f.today = ymd(2025, 11, 14);
    CHECK(f.eval("latest_cycle_end(11, 15) == 2024-11-15"));
  }
  SECTION("year boundaries") {
    f.today = ymd(2025, 12, 31);
    CHECK(f.eval("latest_cycle_end(12, 31) == 2024-12-31"));
    CHECK(f.eval("latest_cycle_end(1, 1) == 2025-01-01"));
    f.today = ymd(2026, 1, 1);
    CHECK(f.eval("latest_cycle_end(12, 31) == 2025-12-31"));
    CHECK(f.eval("latest_cycle_end(1, 1) == 2025-01-01"));
    f.today = ymd(2026, 1, 2);
    CHECK(f.eval("latest_cycle_end(1, 1) == 2026-01-01"));
  }
  SECTION("Feb 28 across a leap day") {
    f.today = ymd(2024, 2, 29);
    CHECK(f.eval("latest_cycle_end(2, 28) == 2024-02-28"));
    CHECK(f.eval("latest_cycle_end(3, 1) == 2023-03-01"));
    f.today = ymd(2024, 3, 1);
    CHECK(f.eval("latest_cycle_end(2, 28) == 2024-02-28"));
  }
  SECTION("in a guard") {
    f.set(f.cert_end, Value::date(ymd(2024, 11, 15)));
    f.today = ymd(2025, 11, 15);
    CHECK(f.eval("cert_end >= latest_cycle_end(11, 15)"));
    f.today = ymd(2025, 11, 16);
    CHECK_FALSE(f.eval("cert_end >= latest_cycle_end(11, 15)"));
    CHECK(f.eval("latest_cycle_end(11, 15) - 365 == cert_end"));
  }
}

TEST_CASE("latest_cycle_end agrees with days_from_civil/civil_from_days on every day of 1600-2401",
          "[expr]") {
  Fixture f;
  const std::vector<std::pair<unsigned, unsigned>> cycles = {{1, 1},  {1, 31},  {2, 1},  {2, 28},
                                                             {3, 1},  {3, 31},  {4, 30}, {6, 15},
                                                             {9, 30}, {11, 15}, {12, 1}, {12, 31}};
  for (const auto& [month, day] : cycles) {
    const std::string src =
        "latest_cycle_end(" + std::to_string(month) + ", " + std::to_string(day) + ") == cert_end";
    const CompileResult r = compile(src, f.schema);
    REQUIRE(r.ok);
    long mismatches = 0, off_by_one_matches = 0;
    for (std::int32_t t = days_from_civil(1600, 1, 1); t <= days_from_civil(2401, 12, 31); ++t) {
      int y;
      unsigned m, d;
      civil_from_days(t, y, m, d);
      std::int32_t expected = days_from_civil(y, month, day);
      if (expected >= t) expected = days_from_civil(y - 1, month, day);
      f.values[f.cert_end.value] = Value::date(Date{expected});
      if (!r.expr.eval(Env{&f.values, Date{t}})) ++mismatches;
      f.values[f.cert_end.value] = Value::date(Date{expected + 1});
      if (r.expr.eval(Env{&f.values, Date{t}})) ++off_by_one_matches;
    }
    INFO(src);
    CHECK(mismatches == 0);
    CHECK(off_by_one_matches == 0);
  }
}

TEST_CASE("bool fields and logic", "[expr]") {
  Fixture f;  // leads_cluster = true, veteran = false
  CHECK(f.eval("leads_cluster"));
  CHECK_FALSE(f.eval("veteran"));
  CHECK(f.eval("true"));
  CHECK_FALSE(f.eval("false"));
  CHECK(f.eval("not veteran"));
  CHECK_FALSE(f.eval("not leads_cluster"));
  CHECK(f.eval("not not leads_cluster"));
  CHECK(f.eval("leads_cluster == true"));
  CHECK_FALSE(f.eval("leads_cluster == false"));
  CHECK(f.eval("leads_cluster != veteran"));
  CHECK_FALSE(f.eval("leads_cluster == veteran"));
  CHECK(f.eval("leads_cluster in [true]"));
  CHECK_FALSE(f.eval("leads_cluster in [false]"));
  CHECK(f.eval("veteran not in [true]"));
  CHECK(f.eval("(years > 5) == leads_cluster"));
  CHECK_FALSE(f.eval("(years > 50) == leads_cluster"));

  CHECK(f.eval("leads_cluster and not veteran"));
  CHECK_FALSE(f.eval("leads_cluster and veteran"));
  CHECK_FALSE(f.eval("veteran and leads_cluster"));
  CHECK(f.eval("leads_cluster or veteran"));
  CHECK(f.eval("veteran or leads_cluster"));
  CHECK_FALSE(f.eval("veteran or false"));
  CHECK(f.eval("leads_cluster and leads_cluster and leads_cluster and true"));
  CHECK_FALSE(f.eval("leads_cluster and leads_cluster and veteran and true"));
  CHECK(f.eval("veteran or veteran or false or leads_cluster"));
}

TEST_CASE("precedence", "[expr]") {
  Fixture f;  // leads_cluster = true, veteran = false
  // a or b and c == a or (b and c): true; (a or b) and c would be false.
  CHECK(f.eval("leads_cluster or veteran and false"));
  CHECK_FALSE(f.eval("(leads_cluster or veteran) and false"));
  // a and b or c == (a and b) or c
  CHECK(f.eval("veteran and false or leads_cluster"));
  CHECK_FALSE(f.eval("veteran and (false or leads_cluster)"));
  // not binds looser than comparison, tighter than and/or.
  CHECK(f.eval("not years == 3"));  // not (years == 3)
  CHECK_FALSE(f.eval("not years == 10"));
  CHECK(f.eval("not veteran and leads_cluster"));       // (not veteran) and leads_cluster
  CHECK_FALSE(f.eval("not leads_cluster or veteran"));  // (not leads_cluster) or veteran
  CHECK(f.eval("not grade in [\"kha\"]"));              // not (grade in [...])
  CHECK_FALSE(f.eval("not grade in [\"tot\"]"));
  // arithmetic binds tighter than comparison.
  CHECK(f.eval("years + 1 > 10 and years - 1 < 10"));
  CHECK(f.eval("((((leads_cluster))))"));
}

TEST_CASE("text", "[expr]") {
  Fixture f;  // note = "Nguyễn Văn A", title = "Chiến sĩ thi đua"
  CHECK(f.eval("note == \"Nguyễn Văn A\""));
  CHECK_FALSE(f.eval("note == \"Nguyễn Văn B\""));
  CHECK_FALSE(f.eval("note == \"Nguyễn Văn\""));  // prefix only
  CHECK(f.eval("note != \"x\""));
  CHECK_FALSE(f.eval("note != \"Nguyễn Văn A\""));
  CHECK(f.eval("\"Nguyễn Văn A\" == note"));
  CHECK(f.eval("note != title"));
  CHECK_FALSE(f.eval("note == title"));
  CHECK(f.eval("title in [\"x\", \"Chiến sĩ thi đua\"]"));
  CHECK_FALSE(f.eval("title in [\"x\", \"y\"]"));
  CHECK(f.eval("title not in [\"x\", \"y\"]"));
  CHECK_FALSE(f.eval("title not in [\"Chiến sĩ thi đua\"]"));
  CHECK(f.eval("\"a\" == \"a\""));
  CHECK_FALSE(f.eval("\"a\" == \"b\""));

  SECTION("escapes") {
    f.set(f.note, Value::string("say \"hi\" \\ bye"));
    CHECK(f.eval(R"(note == "say \"hi\" \\ bye")"));
    CHECK_FALSE(f.eval(R"(note == "say \"hi\" \\\\ bye")"));
  }
  SECTION("empty text") {
    f.set(f.note, Value::string(""));
    CHECK(f.eval("note == \"\""));
    CHECK_FALSE(f.eval("note != \"\""));
  }
}

TEST_CASE("enums", "[expr]") {
  Fixture f;  // grade = tot, prev_grade = xuat_sac, sector = b
  CHECK(f.eval("grade == \"tot\""));
  CHECK_FALSE(f.eval("grade == \"kha\""));
  CHECK(f.eval("grade != \"kha\""));
  CHECK_FALSE(f.eval("grade != \"tot\""));
  CHECK(f.eval("\"tot\" == grade"));
  CHECK(f.eval("grade in [\"tot\", \"xuat_sac\"]"));
  CHECK_FALSE(f.eval("grade in [\"kha\", \"xuat_sac\"]"));
  CHECK(f.eval("grade not in [\"kha\"]"));
  CHECK_FALSE(f.eval("grade not in [\"kha\", \"tot\"]"));
  CHECK(f.eval("grade != prev_grade"));
  CHECK_FALSE(f.eval("grade == prev_grade"));
  f.set(f.prev_grade, Value::enumeration(1));
  CHECK(f.eval("grade == prev_grade"));
  CHECK(f.eval("sector == \"b\""));
  CHECK(f.eval("(grade) == \"tot\""));

  SECTION("literal validation") {
    f.expect_error("grade == \"Tot\"", 10, "enum 'grade' has no value \"Tot\" (values: xuat_sac, tot, kha)");
    f.expect_error("\"gioi\" == grade", 1, "enum 'grade' has no value \"gioi\"");
    f.expect_error("grade in [\"tot\", \"gioi\"]", 18, "enum 'grade' has no value \"gioi\"");
    f.expect_error("grade == 1", 10, "'grade' is enum but 1 is int");
    f.expect_error("grade in [1]", 11, "'grade' is enum but 1 is int");
    f.expect_error("grade == note", 10, "'grade' is enum but 'note' is text");
    f.expect_error("grade == sector", 10, "'grade' and 'sector' are enums with different values");
    f.expect_error("grade < \"tot\"", 7, "'<' does not apply to enum values");
    f.expect_error("grade >= prev_grade", 7, "'>=' does not apply to enum values");
    f.expect_error("grade + 1 == 2", 7, "'+' cannot combine 'grade' (enum) with 1 (int)");
    f.expect_error("grade", 1, "the expression must be bool, got enum");
  }
}

TEST_CASE("fields() is deduplicated in order of first use", "[expr]") {
  Fixture f;
  const CompileResult r = compile(
      "grade == \"tot\" and (years > 1 or grade == prev_grade) and not veteran and years < 40 and today > "
      "cert_end",
      f.schema);
  REQUIRE(r.ok);
  const std::vector<FieldId> expected = {f.grade, f.years, f.prev_grade, f.veteran, f.cert_end};
  CHECK(r.expr.fields() == expected);

  const CompileResult c = compile("true and today > 2020-01-01 and latest_cycle_end(1, 2) < today", f.schema);
  REQUIRE(c.ok);
  CHECK(c.expr.fields().empty());
}

TEST_CASE("Expr copies share the compiled form, default Expr is false", "[expr]") {
  Fixture f;
  const std::string src = "leads_cluster and provincial_merits >= 3";
  Expr copy;
  {
    const CompileResult r = compile(src, f.schema);
    REQUIRE(r.ok);
    copy = r.expr;
  }
  CHECK(copy.source() == src);
  CHECK(copy.eval(Env{&f.values, f.today}));
  f.set(f.provincial_merits, Value::integer(2));
  CHECK_FALSE(copy.eval(Env{&f.values, f.today}));
  const Expr second = copy;
  CHECK(second.fields() == copy.fields());
  CHECK_FALSE(second.eval(Env{&f.values, f.today}));

  const Expr empty;
  CHECK_FALSE(empty.eval(Env{&f.values, f.today}));
}

TEST_CASE("the 4-clause guard", "[expr]") {
  Fixture f;
  const std::string src =
      "leads_cluster and provincial_merits >= 3 and grade in [\"tot\", \"xuat_sac\"] and "
      "cert_end >= latest_cycle_end(11, 15)";
  f.set(f.cert_end, Value::date(ymd(2024, 11, 20)));
  CHECK(f.eval(src));
  f.set(f.grade, Value::enumeration(2));  // kha
  CHECK_FALSE(f.eval(src));
  f.set(f.grade, Value::enumeration(0));
  CHECK(f.eval(src));
  f.set(f.cert_end, Value::date(ymd(2024, 11, 14)));
  CHECK_FALSE(f.eval(src));
}

TEST_CASE("compile errors: lexical", "[expr][errors]") {
  Fixture f;
  f.expect_error("", 1, "empty");
  f.expect_error("   \t\n ", 1, "empty");
  f.expect_error("note == \"abc", 9, "unterminated string");
  f.expect_error("note == \"abc\\\"", 9, "unterminated string");
  f.expect_error("note == \"a\\nb\"", 11, "unknown escape '\\n'");
  f.expect_error("note == \"\xC3\x28\"", 9, "not valid UTF-8");
  f.expect_error("điểm > 3", 1, "non-ASCII byte 0xC4");
  f.expect_error("years > 3 and đ", 15, "non-ASCII");
  f.expect_error("years @ 3", 7, "unexpected character '@'");
  f.expect_error("years = 3", 7, "use '=='");
  f.expect_error("!veteran", 1, "use 'not'");
  f.expect_error("veteran && leads_cluster", 9, "use 'and'");
  f.expect_error("veteran || leads_cluster", 9, "use 'or'");
  f.expect_error("note == 'abc'", 9, "double quotes");
  f.expect_error("years > 99999999999999999999", 9, "too large");
  f.expect_error("years > 3x", 9, "'3x' is not a valid number");
  f.expect_error("cert_end > 2025-13-01", 12, "invalid date '2025-13-01'");
  f.expect_error("cert_end > 2025-02-29", 12, "invalid date");
  f.expect_error("cert_end > 2025-1-5", 12, "YYYY-MM-DD");
  f.expect_error("years > 3\x01", 10, "control character");
}

TEST_CASE("compile errors: syntax", "[expr][errors]") {
  Fixture f;
  f.expect_error("(years > 3", 11, "expected ')' to close the '(' at column 1, found end of input");
  f.expect_error("(years > 3 veteran", 12, "expected ')'");
  f.expect_error("years > 3)", 10, "unmatched ')'");
  f.expect_error("years > 3 veteran", 11, "unexpected 'veteran' after the end of the expression");
  f.expect_error("veteran \"x\"", 9, "after the end");
  f.expect_error("years >", 8, "expected a value");
  f.expect_error("years > and", 9, "found 'and'");
  f.expect_error("()", 2, "found ')'");
  f.expect_error("veteran and", 12, "found end of input");
  f.expect_error("1 < years < 5", 11, "cannot be chained");
  f.expect_error("grade not [\"tot\"]", 11, "expected 'in' after 'not'");
  f.expect_error("grade in \"tot\"", 10, "expected '[' after 'in'");
  f.expect_error("grade in []", 11, "the list after 'in' is empty");
  f.expect_error("years in [1, years]", 14, "expected a literal value in the list");
  f.expect_error("years in [1, 2", 15, "expected ',' or ']'");
  f.expect_error("years in [1,]", 13, "expected a literal value");
  f.expect_error("years in [1 2]", 13, "expected ',' or ']'");
  f.expect_error("veteran ==", 11, "expected a value");
  f.expect_error("years > -1", 9, "no unary minus");
  // A lexical error is reported where it is, not as a generic syntax error.
  f.expect_error("(years > 3 @", 12, "unexpected character '@'");
  // The earliest problem wins: a type error before a later lexical error.
  f.expect_error("years == \"a\" @", 10, "'years' is int but \"a\" is text");
}

TEST_CASE("compile errors: names and types", "[expr][errors]") {
  Fixture f;
  f.expect_error("leads_clustr", 1, "unknown field 'leads_clustr'");
  f.expect_error("years > 3 and leads_clustr", 15, "unknown field 'leads_clustr'");
  f.expect_error("foo(1)", 1, "unknown function 'foo'");
  f.expect_error("years > 1 and years(2) > 1", 15, "unknown function 'years'");
  f.expect_error("today() > cert_end", 1, "'today' is not a function");
  f.expect_error("provincial_merits == \"abc\"", 22, "'provincial_merits' is int but \"abc\" is text");
  f.expect_error("cert_end > 3", 12, "'cert_end' is date but 3 is int");
  f.expect_error("note == 3", 9, "'note' is text but 3 is int");
  f.expect_error("veteran == 1", 12, "'veteran' is bool but 1 is int");
  f.expect_error("years + 1 == cert_end", 14, "'years + 1' is int but 'cert_end' is date");
  f.expect_error("years in [1, \"x\"]", 14, "'years' is int but \"x\" is text");
  f.expect_error("cert_end in [3]", 14, "'cert_end' is date but 3 is int");
  f.expect_error("note < \"b\"", 6, "'<' does not apply to text values");
  f.expect_error("veteran > false", 9, "'>' does not apply to bool values");
  f.expect_error("years", 1, "the expression must be bool, got int");
  f.expect_error("  cert_end + 1", 3, "the expression must be bool, got date");
  f.expect_error("note", 1, "the expression must be bool, got text");
  f.expect_error("years and veteran", 1, "'and' needs bool operands, but 'years' is int");
  f.expect_error("veteran or cert_end - 1", 12, "'or' needs bool operands, but 'cert_end - 1' is date");
  f.expect_error("not years", 5, "'not' needs a bool operand, but 'years' is int");
  f.expect_error("note + 1 == 2", 6, "'+' cannot combine 'note' (text) with 1 (int)");
  f.expect_error("years + cert_end > 1", 7, "'+' cannot combine 'years' (int) with 'cert_end' (date)");
  f.expect_error("cert_end + start_date > 1", 10, "'+' cannot combine");
  f.expect_error("years - 1 - cert_end > 1", 11,
                 "'-' cannot combine 'years - 1' (int) with 'cert_end' (date)");
  f.expect_error("veteran + 1 > 1", 9, "'+' cannot combine 'veteran' (bool)");
}

TEST_CASE("compile errors: latest_cycle_end", "[expr][errors]") {
  Fixture f;
  const std::string usage = "latest_cycle_end expects 2 int literals (month 1-12, day 1-31)";
  f.expect_error("cert_end > latest_cycle_end", 12, usage);
  f.expect_error("cert_end > latest_cycle_end()", 12, usage);
  f.expect_error("cert_end > latest_cycle_end(11)", 12, usage);
  f.expect_error("cert_end > latest_cycle_end(11, 15, 1)", 12, usage);
  f.expect_error("cert_end > latest_cycle_end(years, 15)", 29, usage);
  f.expect_error("cert_end > latest_cycle_end(11, 10 + 5)", 33, usage);
  f.expect_error("cert_end > latest_cycle_end(\"11\", 15)", 29, usage);
  f.expect_error("cert_end > latest_cycle_end(0, 15)", 29, usage);
  f.expect_error("cert_end > latest_cycle_end(13, 15)", 29, usage);
  f.expect_error("cert_end > latest_cycle_end(11, 0)", 33, usage);
  f.expect_error("cert_end > latest_cycle_end(11, 32)", 33, usage);
  f.expect_error("cert_end > latest_cycle_end(4, 31)", 32, "month 4 has only 30 days");
  f.expect_error("cert_end > latest_cycle_end(2, 30)", 32, "month 2 has only 28 days");
  f.expect_error("cert_end > latest_cycle_end(2, 29)", 32, "February 29");
  f.expect_error("cert_end > latest_cycle_end(11, 15", 35, "expected ')'");
  f.expect_error("latest_cycle_end(11, 15)", 1, "the expression must be bool, got date");
  // Valid edges compile.
  CHECK(compile("cert_end > latest_cycle_end(1, 31)", f.schema).ok);
  CHECK(compile("cert_end > latest_cycle_end(12, 31)", f.schema).ok);
  CHECK(compile("cert_end > latest_cycle_end(2, 28)", f.schema).ok);
  CHECK(compile("cert_end > latest_cycle_end((11), 15)", f.schema).ok);
}

TEST_CASE("nesting and long inputs", "[expr][errors]") {
  Fixture f;
  SECTION("moderate nesting compiles") {
    const std::string src = std::string(60, '(') + "leads_cluster" + std::string(60, ')');
    CHECK(f.eval(src));
    std::string nots;
    for (int i = 0; i < 60; ++i) nots += "not ";
    CHECK(f.eval(nots + "leads_cluster"));  // even count
  }
  SECTION("absurd nesting is an error, not a crash") {
    const std::string src = std::string(100000, '(') + "leads_cluster" + std::string(100000, ')');
    f.expect_error(src, 65, "nested too deeply");
    std::string nots;
    for (int i = 0; i < 100000; ++i) nots += "not ";
    f.expect_error(nots + "leads_cluster", 64 * 4 + 1, "nested too deeply");
  }
  SECTION("long flat chains are fine") {
    std::string ands = "leads_cluster";
    std::string sum = "0";
    for (int i = 0; i < 100000; ++i) {
      ands += " and leads_cluster";
      sum += " + 1";
    }
    CHECK(f.eval(ands));
    CHECK(f.eval(sum + " == 100000"));
    CHECK_FALSE(f.eval(sum + " == 99999"));
    CHECK_FALSE(f.eval(ands + " and veteran"));
  }
}

TEST_CASE("three-valued evaluation with missing fields", "[expr][eval3]") {
  Fixture f;
  auto tri = [&](std::string_view src, FieldId* missing = nullptr) {
    const CompileResult r = compile(src, f.schema);
    REQUIRE(r.ok);
    const Env env{&f.values, f.today};
    return r.expr.eval3(env, missing);
  };
  using T = Expr::Truth;
  CHECK(tri("leads_cluster and years > 5") == T::kTrue);
  CHECK(tri("leads_cluster and years > 50") == T::kFalse);
  f.set(f.veteran, Value::none());
  FieldId missing;
  // A missing field decides nothing when the other side already does.
  CHECK(tri("years > 50 and veteran") == T::kFalse);
  CHECK(tri("years > 5 or veteran") == T::kTrue);
  // ...and makes the result unknown when it would decide it, naming the field.
  CHECK(tri("years > 5 and veteran", &missing) == T::kUnknown);
  CHECK(missing == f.veteran);
  CHECK(tri("not veteran", &missing) == T::kUnknown);
  CHECK(tri("years > 50 or veteran == false", &missing) == T::kUnknown);
  f.set(f.grade, Value::none());
  CHECK(tri("grade == \"xuat_sac\"", &missing) == T::kUnknown);
  CHECK(missing == f.grade);
  CHECK(tri("leads_cluster or grade == \"xuat_sac\"") == T::kTrue);
  f.set(f.note, Value::none());
  CHECK(tri("note == \"x\" and leads_cluster", &missing) == T::kUnknown);
  CHECK(missing == f.note);
}
