// Compiling workflows: every validation rule reports file:line:col, and valid tables are built right.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>

#include "adapters/yaml/loader.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/diagram.hpp"

using namespace hoso;

namespace {

const std::string kCatalogueFile = std::string(HOSO_SOURCE_DIR) + "/config/awards.yaml";

std::string catalogue_source() {
  auto text = yaml::read_text_file(kCatalogueFile);
  REQUIRE(text.ok());
  return *text;
}

// A minimal valid workflow; tests splice lines into it.
const std::string kHeader = R"(workflow: mini
title: "Thử"
awards: [giay_khen_xa, bang_khen_tinh]
origins: [unit]
create_roles: [clerk]
fields:
  n: {type: int, min: 0}
  flag: {type: bool}
  grade: {type: enum, values: [tot, kha]}
)";

CompileOutcome compile(const std::string& body) {
  return yaml::compile_sources("mini.yaml", kHeader + body, kCatalogueFile, catalogue_source());
}

std::string all(const CompileOutcome& o) {
  std::string s;
  for (const auto& d : o.diagnostics) s += d.format() + "\n";
  return s;
}

const std::string kStates = R"(states:
  draft: {title: "T", initial: true, holder: origin}
  review: {title: "T", holder: {of: commune_police, within: commune}}
  done: {title: "T", terminal: true}
)";

}  // namespace

TEST_CASE("a valid mini workflow compiles into a typed table", "[definition]") {
  auto o = compile(kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk], guards: [{id: big, expr: "n >= 3", message: "nhỏ"}]}
)");
  INFO(all(o));
  REQUIRE(o.definition);
  const Definition& d = *o.definition;
  CHECK(d.name() == "mini");
  CHECK(d.states().size() == 3);
  CHECK(d.state(d.initial()).key == "draft");
  auto submit = d.find_action("submit");
  REQUIRE(submit);
  REQUIRE(d.candidates(d.initial(), *submit).size() == 1);
  CHECK(d.state(d.transition(d.candidates(d.initial(), *submit)[0]).to).key == "review");
  CHECK(d.hash().size() == 64);
  CHECK(to_mermaid(d).find("draft --> review: submit") != std::string::npos);
  CHECK(to_dot(d).find("\"review\" -> \"done\"") != std::string::npos);
  CHECK(to_json(d).find("\"name\":\"mini\"") != std::string::npos);
}

TEST_CASE("the route table: which award, entry and origin can reach an approved decision", "[definition]") {
  const std::string states = R"(states:
  draft: {title: "T", initial: true, holder: origin}
  review: {title: "T", holder: {of: commune_police, within: commune}}
  approved: {title: "T", terminal: true, outcome: approved}
  rejected: {title: "T", terminal: true, outcome: rejected}
)";
  // Only a commune-chair award entering at the commune has a path to "approved".
  auto o = compile(states + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}
  - {action: decide, kind: decide, from: review, to: approved, roles: [clerk], when: {entry: [commune], authority: [commune_chair]}}
  - {action: reject, kind: reject, from: review, to: rejected, roles: [clerk]}
)");
  INFO(all(o));
  REQUIRE(o.definition);
  const Definition& d = *o.definition;
  auto xa = d.find_award("giay_khen_xa"), tinh = d.find_award("bang_khen_tinh");
  REQUIRE(xa);
  REQUIRE(tinh);
  CHECK(d.routable(*xa, Entry::kCommune, OrgKind::kUnit));
  CHECK_FALSE(d.routable(*xa, Entry::kProvince, OrgKind::kUnit));
  CHECK_FALSE(d.routable(*tinh, Entry::kCommune, OrgKind::kUnit));
  CHECK_FALSE(d.routable(AwardId{}, Entry::kCommune, OrgKind::kUnit));
  // An origin kind the `when` excludes.
  auto by_origin = compile(states + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}
  - {action: decide, kind: decide, from: review, to: approved, roles: [clerk], when: {origin: [department]}}
  - {action: reject, kind: reject, from: review, to: rejected, roles: [clerk]}
)");
  INFO(all(by_origin));
  REQUIRE(by_origin.definition);
  CHECK_FALSE(by_origin.definition->routable(*xa, Entry::kCommune, OrgKind::kUnit));
  CHECK(by_origin.definition->routable(*xa, Entry::kCommune, OrgKind::kDepartment));
  // No state with outcome "approved": nothing to reach, every creation has its route.
  auto plain = compile(kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk], when: {entry: [commune]}}
)");
  INFO(all(plain));
  REQUIRE(plain.definition);
  CHECK(plain.definition->routable(*xa, Entry::kProvince, OrgKind::kUnit));
}

TEST_CASE("validation errors name the file, line and column", "[definition]") {
  // Lines of kHeader: 1..9; kStates starts at line 10.
  SECTION("unknown state") {
    auto o =
        compile(kStates +
                "transitions:\n  - {action: submit, kind: submit, from: draft, to: nowhere, roles: [clerk]}\n"
                "  - {action: decide, kind: decide, from: draft, to: done, roles: [clerk]}\n");
    CHECK_THAT(all(o), Catch::Contains("mini.yaml:15:") && Catch::Contains("unknown state 'nowhere'"));
  }
  SECTION("unknown role, unknown field, unknown award") {
    auto o = compile(kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [boss], accepts_fields: [colour]}
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk], when: {awards: [huy_chuong]}}
)");
    const std::string s = all(o);
    CHECK_THAT(s, Catch::Contains("mini.yaml:15:") && Catch::Contains("unknown role 'boss'"));
    CHECK_THAT(s, Catch::Contains("unknown field 'colour'"));
    CHECK_THAT(s, Catch::Contains("mini.yaml:16:") && Catch::Contains("unknown award 'huy_chuong'"));
  }
  SECTION("unreachable state") {
    auto o = compile(R"(states:
  draft: {title: "T", initial: true, holder: origin}
  island: {title: "T", holder: origin}
  done: {title: "T", terminal: true}
transitions:
  - {action: decide, kind: decide, from: draft, to: done, roles: [clerk]}
  - {action: decide, kind: decide, from: island, to: done, roles: [clerk]}
)");
    CHECK_THAT(all(o), Catch::Contains("mini.yaml:12:3: error: state 'island' is unreachable"));
  }
  SECTION("a non-terminal state with no path to a terminal state") {
    auto o = compile(R"(states:
  draft: {title: "T", initial: true, holder: origin}
  limbo: {title: "T", holder: origin}
  done: {title: "T", terminal: true}
transitions:
  - {action: submit, kind: submit, from: draft, to: limbo, roles: [clerk]}
  - {action: decide, kind: decide, from: draft, to: done, roles: [clerk]}
)");
    CHECK_THAT(all(o),
               Catch::Contains("mini.yaml:12:3: error: state 'limbo' has no path to a terminal state"));
  }
  SECTION("two transitions that can fire on the same action at once") {
    auto o = compile(kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}
  - {action: submit, kind: submit, from: draft, to: done, roles: [clerk], when: {authority: [commune_chair]}}
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk]}
)");
    CHECK_THAT(all(o), Catch::Contains("mini.yaml:16:") && Catch::Contains("can both fire") &&
                           Catch::Contains("line 15"));
  }
  SECTION("disjoint when conditions do not conflict") {
    auto o = compile(kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk], when: {authority: [province_chair]}}
  - {action: submit, kind: submit, from: draft, to: done, roles: [clerk], when: {authority: [commune_chair]}}
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk]}
)");
    INFO(all(o));
    CHECK(o.definition);
  }
  SECTION("type errors in guards point into the expression") {
    auto o = compile(kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}
  - action: decide
    kind: decide
    from: review
    to: done
    roles: [clerk]
    guards:
      - {id: bad, expr: "n == true", message: "sai"}
      - id: enum
        expr: grade == "xuat_sac"
        message: "sai"
)");
    const std::string s = all(o);
    CHECK_THAT(s, Catch::Contains("mini.yaml:22:31: error: in guard 'bad'"));
    CHECK_THAT(s, Catch::Contains("mini.yaml:24:24: error: in guard 'enum'") && Catch::Contains("xuat_sac"));
  }
  SECTION("a set literal of the wrong type, and a terminal state with a holder") {
    auto o = compile(R"(states:
  draft: {title: "T", initial: true, holder: origin}
  done: {title: "T", terminal: true, holder: origin}
transitions:
  - {action: decide, kind: decide, from: draft, to: done, roles: [clerk], set: {n: "many"}}
)");
    const std::string s = all(o);
    CHECK_THAT(s, Catch::Contains("terminal state 'done' has no holder"));
    CHECK_THAT(s, Catch::Contains("mini.yaml:14:") && Catch::Contains("set n"));
  }
  SECTION("not_after: only 'today', and only on date fields") {
    const std::string header = R"(workflow: mini
title: "Thử"
awards: [giay_khen_xa, bang_khen_tinh]
origins: [unit]
create_roles: [clerk]
fields:
  signed: {type: date, not_after: today}
)";
    const std::string rest = R"(states:
  draft: {title: "T", initial: true, holder: origin}
  done: {title: "T", terminal: true}
transitions:
  - {action: decide, kind: decide, from: draft, to: done, roles: [clerk], requires_fields: [signed]}
)";
    auto ok = yaml::compile_sources("mini.yaml", header + rest, kCatalogueFile, catalogue_source());
    INFO(all(ok));
    REQUIRE(ok.definition);
    const Definition& d = *ok.definition;
    CHECK(d.field(*d.find_field("signed")).spec.not_after_today);
    auto bad = yaml::compile_sources("mini.yaml",
                                     header + "  label: {type: text, not_after: today}\n" +
                                         "  when: {type: date, not_after: tomorrow}\n" + rest,
                                     kCatalogueFile, catalogue_source());
    const std::string s = all(bad);
    CHECK_FALSE(bad.definition);
    CHECK_THAT(s, Catch::Contains("mini.yaml:8:") && Catch::Contains("not_after applies to date fields only"));
    CHECK_THAT(s, Catch::Contains("mini.yaml:9:") && Catch::Contains("not_after must be 'today', not 'tomorrow'"));
  }
  SECTION("malformed YAML") {
    auto o = compile("states: [unclosed\n");
    REQUIRE_FALSE(o.definition);
    CHECK_THAT(all(o), Catch::Contains("mini.yaml:"));
  }
}

TEST_CASE("the seed workflows and config load without diagnostics", "[definition]") {
  auto p = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config",
                              std::string(HOSO_SOURCE_DIR) + "/workflows");
  std::string s;
  for (const auto& d : p.diagnostics) s += d.format() + "\n";
  INFO(s);
  REQUIRE(p.ok());
  REQUIRE(p.workflows.size() == 3);
  for (const auto& w : p.workflows) {
    const Definition& d = *w.definition;
    // The same sources always pin to the same hash; a change of one byte pins elsewhere.
    CHECK(d.hash() == yaml::definition_hash(w.source, p.catalogue_source));
    CHECK(d.hash() != yaml::definition_hash(w.source + " ", p.catalogue_source));
  }
}

TEST_CASE("timeout transitions: taken by the system when their timer fires, checked at load", "[definition]") {
  const std::string base = kStates + R"(transitions:
  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk], effects: [{start_timer: w, after: "2 days"}]}
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk]}
)";
  SECTION("a valid one") {
    auto o = compile(base + "  - {action: back, kind: timeout, timer: w, from: review, to: draft}\n");
    INFO(all(o));
    REQUIRE(o.definition);
    const auto back = o.definition->find_action("back");
    REQUIRE(back);
    const auto& t = o.definition->transition(o.definition->candidates(*o.definition->find_state("review"), *back)[0]);
    CHECK(t.kind == TransitionKind::kTimeout);
    CHECK(t.timer == "w");
    CHECK(t.roles_mask == 0);
  }
  SECTION("without its timer") {
    auto o = compile(base + "  - {action: back, kind: timeout, from: review, to: draft}\n");
    INFO(all(o));
    CHECK(all(o).find("mini.yaml:17:5: error: timeout transition 'back' needs 'timer'") != std::string::npos);
  }
  SECTION("with roles") {
    auto o = compile(base + "  - {action: back, kind: timeout, timer: w, from: review, to: draft, roles: [clerk]}\n");
    INFO(all(o));
    CHECK(all(o).find("mini.yaml:17:78: error: timeout transition 'back' is taken by the system") != std::string::npos);
  }
  SECTION("a timer on another kind") {
    auto o = compile(base + "  - {action: back, kind: return, timer: w, from: review, to: draft, roles: [clerk]}\n");
    CHECK(all(o).find("'timer' belongs to timeout transitions only") != std::string::npos);
  }
}

TEST_CASE("deadline rules in the catalogue: each mistake is located", "[definition][deadlines]") {
  const std::string base = catalogue_source();  // ends inside its `deadlines:` list
  const int next = static_cast<int>(std::count(base.begin(), base.end(), '\n')) + 1;
  auto problems = [&](const std::string& item) {
    CatalogueSpec c;
    std::string text = base + item;
    auto diags = yaml::parse_catalogue(text, "awards.yaml", c);
    if (diags.empty()) diags = check_catalogue(c);
    std::string s;
    for (const auto& d : diags) s += d.format() + "\n";
    return s;
  };
  auto at = [&](int line, int col, const std::string& msg) {
    return fmt::format("awards.yaml:{}:{}: error: {}", next + line, col, msg);
  };
  const std::string head = "  - id: x\n    levels: [commune_police]\n";
  CHECK(problems(head + "    working_days: 5\n    legal_basis: \"b\"\n").empty());
  CHECK_THAT(problems(head + "    working_days: 0\n    legal_basis: \"b\"\n"),
             Catch::Contains(at(2, 19, "deadline 'x': working_days must be 1–365, not 0")));
  CHECK_THAT(problems(head + "    working_days: 5\n    remind_before: 5\n    legal_basis: \"b\"\n"),
             Catch::Contains(at(3, 20, "deadline 'x': remind_before must be at least 0 and less than working_days")));
  CHECK_THAT(problems("  - id: x\n    levels: [commune_polise]\n    working_days: 5\n    legal_basis: \"b\"\n"),
             Catch::Contains(at(1, 14, "deadline 'x': unknown org kind 'commune_polise'")));
  CHECK_THAT(problems(head + "    awards: [giay_khen_xyz]\n    working_days: 5\n    legal_basis: \"b\"\n"),
             Catch::Contains(at(2, 14, "deadline 'x': unknown award 'giay_khen_xyz'")));
  CHECK_THAT(problems(head + "    working_days: 5\n    on_resume: later\n    legal_basis: \"b\"\n"),
             Catch::Contains(at(3, 16, "deadline 'x': on_resume must be 'continue' or 'restart', not 'later'")));
  CHECK_THAT(problems(head + "    working_days: 5\n    legal_basis: \"b\"\n    effective_from: 2026-02-30\n"),
             Catch::Contains(at(4, 21, "effective_from '2026-02-30' is not a date (YYYY-MM-DD)")));
  CHECK_THAT(problems(head + "    working_days: 5\n    legal_basis: \"b\"\n    effective_from: 2026-02-01\n"
                             "    effective_to: 2026-01-01\n"),
             Catch::Contains(at(5, 19, "deadline 'x' ends before it starts")));
  CHECK_THAT(problems(head + "    working_days: 5\n    legal_basis: \"b\"\n    escalate_to: {of: province_police}\n"),
             Catch::Contains("missing key 'within'"));
  CHECK_THAT(problems(head + "    working_days: 5\n"), Catch::Contains("missing key 'legal_basis'"));
  CHECK_THAT(problems(head + "    working_days: 5\n    legal_basis: \"b\"\n    reminder: 2\n"),
             Catch::Contains("unknown key 'reminder'"));
  CHECK_THAT(problems("  - id: cap_xa\n    levels: [commune_police]\n    working_days: 5\n    legal_basis: \"b\"\n"),
             Catch::Contains(at(0, 9, "duplicate deadline 'cap_xa'")));
}

TEST_CASE("timers on a date field, notices to the orgs a field names, creation effects: checked at load",
          "[definition][reports]") {
  const std::string base = kStates + R"(transitions:
  - {action: decide, kind: decide, from: review, to: done, roles: [clerk]}
)";
  auto submit = [&](const std::string& effect) {
    return compile(base + "  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk], effects: [" +
                   effect + "]}\n");
  };
  CHECK(all(submit("{start_timer: x, on: n}")).find("start_timer on: field 'n' must be a date") != std::string::npos);
  CHECK(all(submit("{start_timer: x, on: nope}")).find("start_timer on: unknown field 'nope'") != std::string::npos);
  CHECK(all(submit("{notify: 'field:n', template: t}")).find("field 'n' must be text (org ids)") != std::string::npos);
  CHECK(all(submit("{notify: 'field:nope', template: t}")).find("unknown field 'nope'") != std::string::npos);
  CHECK(all(submit("{notify: somebody, template: t}")).find("holder, origin, previous_holder or field:NAME") !=
        std::string::npos);
  // Creation effects are compiled like a transition's.
  auto o = compile(base + "  - {action: submit, kind: submit, from: draft, to: review, roles: [clerk]}\n" +
                   "on_create:\n  - {notify: holder, template: t}\n  - {start_timer: x, after: \"2 days\"}\n");
  INFO(all(o));
  REQUIRE(o.definition);
  REQUIRE(o.definition->on_create().size() == 2);
  CHECK(o.definition->on_create()[1].kind == Effect::Kind::kStartTimer);
  auto bad = compile(base + "on_create:\n  - {start_timer: x, on: grade}\n");
  CHECK(all(bad).find("field 'grade' must be a date") != std::string::npos);
}
