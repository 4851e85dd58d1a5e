// Workflow definitions: the YAML is read into a *Spec (strings + source locations) by an adapter,
// then compiled here, once, into an immutable, validated transition table with typed ids.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/directory.hpp"
#include "engine/expr.hpp"
#include "engine/ids.hpp"
#include "engine/time.hpp"
#include "engine/value.hpp"

namespace hoso {

// ---------------------------------------------------------------------------------------------
// Diagnostics
struct SourceLoc {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int col = 0;   // 1-based
};

struct Diagnostic {
  SourceLoc loc;
  std::string message;
  // "file:line:col: error: message" (the format editors and CI understand).
  std::string format() const;
};

template <typename T>
struct Located {
  T value{};
  SourceLoc loc;
};
using Str = Located<std::string>;

// ---------------------------------------------------------------------------------------------
// Specs (uncompiled, as written)
struct DocKindSpec {
  Str key;
  Str name;
};

struct AwardSpec {
  Str key, name, authority, legal_basis, effective_from, effective_to, round;
  std::vector<Str> required_docs;
  SourceLoc loc;
};

// A processing time limit (config/awards.yaml, `deadlines:`): how many working days the levels it names
// have, from receipt of the complete dossier, for the awards it names, under the law in force between
// its effective dates.

struct DeadlineSpec {
  Str id;
  std::vector<Str> levels;  // org kinds of the holders it applies to
  std::vector<Str> awards;  // empty: every award
  Located<std::int64_t> working_days, remind_before;
  Str on_resume;            // continue (default) | restart: the clock after a return for supplementation
  Str escalate_of, escalate_within;  // the level above, told when the limit passes (holder syntax)
  Str legal_basis, effective_from, effective_to;
  SourceLoc loc;
};

struct CatalogueSpec {
  std::vector<DocKindSpec> documents;
  std::vector<AwardSpec> awards;
  std::vector<DeadlineSpec> deadlines;
};

struct FieldDeclSpec {
  Str key, type, label;
  std::vector<Str> values;
  std::optional<Located<std::int64_t>> min, max, max_length;
  std::optional<Str> not_after;  // date fields: "today" (a date that has happened, e.g. a decision's signing)
  bool required = false;  // must be provided at creation
  SourceLoc loc;
};

struct HolderSpec {
  Str of;      // "origin" or an org kind
  Str within;  // "" for origin, else a level: commune | province | central
  SourceLoc loc;
};

struct EffectSpec {
  Str kind;       // notify | start_timer | cancel_timer | pause_timer
  Str to;         // notify: holder | origin | previous_holder
  Str template_;  // notify: template key
  Str timer;      // timers: name
  Str after;      // start_timer: e.g. "10 working_days", or "deadline" (the level's processing limit)
  Str on;         // start_timer instead of after: a date field; due at `hour` (Vietnam time) of that day
  Located<std::int64_t> hour;
  SourceLoc loc;
};

struct VoteSpec {
  Str role;                                            // who votes, at the holder org (council_member)
  Located<std::int64_t> threshold_percent;             // yes votes needed, as % of the denominator
  Str denominator;                                     // members | present
  Located<std::int64_t> quorum_percent;                // ballots cast needed, as % of members
  Str pass, fail;                                      // target states
  Str close_role;                                      // who may close the vote early (at the holder)
  std::vector<EffectSpec> pass_effects, fail_effects;  // effects of the event that decides the vote
  SourceLoc loc;
};

struct StateSpec {
  Str key, title, outcome;
  bool initial = false, terminal = false;
  bool overdue = false;  // a dossier in this state is past its deadline (a report not sent in time)
  std::optional<HolderSpec> holder;
  std::optional<VoteSpec> vote;
  SourceLoc loc;
};

struct ClauseSpec {
  Str id, expr, message;
  Str applies_if;  // optional precondition: the clause is checked only when this holds
  SourceLoc loc;
};

struct WhenSpec {
  std::vector<Str> authority;  // award deciding authorities
  std::vector<Str> entry;      // commune | province: where the origin enters the path
  std::vector<Str> awards;     // specific award kinds
  std::vector<Str> origin;     // org kinds of the proposer
};

struct TransitionSpec {
  Str action, kind, to, title, at;
  Str timer;  // kind timeout: the timer whose firing takes it (no roles: the system takes it)
  std::vector<Str> from;  // state keys, or "*" for every non-terminal state
  WhenSpec when;
  std::vector<Str> roles;
  std::vector<ClauseSpec> guards;
  bool eligibility = false;      // apply the workflow's eligibility clauses for the dossier's award
  bool award_documents = false;  // require the award's required documents
  std::vector<Str> requires_docs;
  std::vector<Str> requires_fields;
  std::vector<Str> accepts_fields;
  bool accepts_all = false;
  std::vector<std::pair<Str, Str>> set;  // field ← literal
  std::optional<bool> note_required;     // default: true for return and reject
  std::vector<EffectSpec> effects;
  SourceLoc loc;
};

struct WorkflowSpec {
  std::string file;
  Str name, title;
  std::vector<Str> awards;        // award kinds this workflow serves
  std::vector<Str> origin_kinds;  // org kinds that may propose
  std::vector<Str> create_roles;
  std::vector<FieldDeclSpec> fields;
  std::vector<StateSpec> states;
  std::vector<TransitionSpec> transitions;
  std::vector<std::pair<Str, std::vector<ClauseSpec>>> eligibility;  // award → clauses
  std::vector<EffectSpec> on_create;  // effects of the DossierCreated event
};

// ---------------------------------------------------------------------------------------------
// Compiled definition

// Who decides an award (Luật TĐKT 2022 Điều 77–80). Stored on disk by name.
enum class Authority : std::uint8_t {
  kCommuneChair,
  kDepartmentHead,
  kProvinceChair,
  kPrimeMinister,
  kPresident,
  kNone,  // not an award but a report: nobody decides it (the report workflow)
};
inline constexpr int kAuthorityCount = 6;
const char* authority_name(Authority a);
std::optional<Authority> parse_authority(std::string_view s);

// Where the origin enters the path: through its commune, or directly at the province (departments).
enum class Entry : std::uint8_t { kCommune, kProvince };

// Semantic kind of a transition; it names the event written (stored on disk: never reuse).
enum class TransitionKind : std::uint8_t {
  kSubmit,
  kAccept,
  kAppraise,
  kForward,
  kReturn,
  kResubmit,
  kReject,
  kDecide,
  kWithdraw,
  kVote,
  kCloseVote,
  kTimeout,  // taken by the system when the transition's timer fires
};
std::optional<TransitionKind> parse_transition_kind(std::string_view s);
const char* transition_kind_name(TransitionKind k);

enum class Relation : std::uint8_t { kHolder, kOrigin };

struct DocKind {
  DocKindId id;
  std::string key, name;
};

struct Award {
  AwardId id;
  std::string key, name, legal_basis, round;
  Authority authority = Authority::kCommuneChair;
  std::vector<DocKindId> required_docs;
  std::optional<Date> effective_from, effective_to;  // inclusive bounds, Vietnam dates
  bool in_force(Date d) const {
    return (!effective_from || d >= *effective_from) && (!effective_to || d <= *effective_to);
  }
};

struct FieldDecl {
  FieldId id;
  std::string key, label;
  FieldSpec spec;
  bool required = false;
};

struct HolderRule {
  bool origin = false;             // the proposing org itself
  Level within = Level::kCommune;  // else: the org of `kind` directly under the origin's level node
  OrgKind kind = OrgKind::kUnit;
};

// The processing time limit of some levels for some awards (see DeadlineSpec).
struct DeadlineRule {
  std::string id, legal_basis;
  std::vector<OrgKind> levels;
  std::vector<AwardId> awards;  // empty: every award
  int working_days = 0, remind_before = 0;
  bool restart_on_resume = false;
  std::optional<HolderRule> escalate_to;
  std::optional<Date> effective_from, effective_to;  // inclusive, Vietnam dates
  bool applies(OrgKind level, AwardId award, Date as_of) const;
};

struct Effect {
  // kPauseTimer: the clock of the timer stops (a return for supplementation) and keeps what is left.
  enum class Kind : std::uint8_t { kNotify, kStartTimer, kCancelTimer, kPauseTimer };
  Kind kind = Kind::kNotify;
  std::string to;         // notify target relation: holder | origin | previous_holder | field:NAME
  std::string template_;  // notify template key
  std::string timer;      // timer name
  std::string after;      // start_timer: "<N> working_days|days|hours" or "deadline" (the time layer reads it)
  FieldId to_field;       // notify to field:NAME: a text field holding org keys, separated by commas
  FieldId on_field;       // start_timer instead of after: due on the date this field holds, at `hour`
  int hour = 0;           // (Vietnam time)
};

struct VoteRule {
  Role role = Role::kCouncilMember;
  int threshold_percent = 50;
  bool denominator_present = false;  // false: all members
  int quorum_percent = 0;
  StateId pass, fail;
  Role close_role = Role::kClerk;
  std::vector<Effect> pass_effects, fail_effects;  // effects of the event that decides the vote
};

struct State {
  StateId id;
  std::string key, title, outcome;
  bool initial = false, terminal = false, overdue = false;
  HolderRule holder;
  std::optional<VoteRule> vote;
};

struct Clause {
  std::string id, message;
  expr::Expr expr;
  std::optional<expr::Expr> applies_if;
};

struct When {
  std::uint32_t authority_mask = ~0u;  // bit per Authority
  std::uint32_t entry_mask = ~0u;      // bit per Entry
  std::vector<AwardId> awards;         // empty: any
  std::uint32_t origin_mask = ~0u;     // bit per OrgKind of the proposer
  bool matches(const Award& a, Entry e, OrgKind origin) const;
};

struct Transition {
  TransitionId id;
  ActionId action;
  TransitionKind kind = TransitionKind::kSubmit;
  std::string title;
  std::vector<StateId> from;
  StateId to;
  When when;
  std::uint32_t roles_mask = 0;  // bit per Role
  Relation at = Relation::kHolder;
  std::vector<Clause> guards;
  bool eligibility = false;
  bool award_documents = false;
  std::vector<DocKindId> requires_docs;
  std::vector<FieldId> requires_fields;
  std::vector<FieldId> accepts_fields;
  bool accepts_all = false;
  std::vector<std::pair<FieldId, Value>> set;
  bool note_required = false;
  std::vector<Effect> effects;
  std::string timer;  // kTimeout: the timer whose firing takes it
};

// An immutable, validated workflow. One instance is shared by every dossier pinned to it.
class Definition {
 public:
  const std::string& name() const { return name_; }
  const std::string& title() const { return title_; }
  // Content hash of the sources it was compiled from (set by whoever loaded it).
  const std::string& hash() const { return hash_; }
  void set_hash(std::string h) { hash_ = std::move(h); }

  const std::vector<State>& states() const { return states_; }
  const std::vector<Transition>& transitions() const { return transitions_; }
  const std::vector<FieldDecl>& fields() const { return fields_; }
  const std::vector<Award>& awards() const { return awards_; }
  const std::vector<DocKind>& documents() const { return documents_; }
  const std::vector<std::string>& actions() const { return actions_; }
  const State& state(StateId id) const { return states_[id.value]; }
  const Transition& transition(TransitionId id) const { return transitions_[id.value]; }
  const FieldDecl& field(FieldId id) const { return fields_[id.value]; }
  const Award& award(AwardId id) const { return awards_[id.value]; }
  const DocKind& document(DocKindId id) const { return documents_[id.value]; }
  const std::string& action_name(ActionId id) const { return actions_[id.value]; }
  StateId initial() const { return initial_; }
  const std::vector<OrgKind>& origin_kinds() const { return origin_kinds_; }
  std::uint32_t create_roles_mask() const { return create_roles_mask_; }
  // Effects of every DossierCreated event (`on_create:`).
  const std::vector<Effect>& on_create() const { return on_create_; }
  bool serves(AwardId a) const;
  // True when a dossier for award `a` from an org of kind `origin` entering the path at `entry` can reach a
  // decision: a path from the initial state to a terminal state with outcome "approved" along transitions
  // whose `when` holds for it (always true when no state has that outcome). Computed once, at compilation.
  bool routable(AwardId a, Entry entry, OrgKind origin) const;
  // Eligibility clauses for an award (empty when none).
  const std::vector<Clause>& eligibility(AwardId a) const;
  // Transitions leaving `s` on `a`, in declaration order.
  const std::vector<TransitionId>& candidates(StateId s, ActionId a) const;

  std::optional<StateId> find_state(std::string_view key) const;
  std::optional<ActionId> find_action(std::string_view key) const;
  std::optional<FieldId> find_field(std::string_view key) const;
  std::optional<AwardId> find_award(std::string_view key) const;
  std::optional<DocKindId> find_document(std::string_view key) const;

  const std::vector<DeadlineRule>& deadlines() const { return deadlines_; }
  // The deadline rule for a holder of `level` and `award` in force on `as_of`; nullptr when none is.
  // When several are, the one declared last wins (a later rule amends an earlier one).
  const DeadlineRule* deadline_for(OrgKind level, AwardId award, Date as_of) const;

 private:
  friend class DefinitionCompiler;
  std::string name_, title_, hash_;
  std::vector<State> states_;
  std::vector<Transition> transitions_;
  std::vector<FieldDecl> fields_;
  std::vector<Award> awards_;
  std::vector<DocKind> documents_;
  std::vector<DeadlineRule> deadlines_;
  std::vector<std::string> actions_;
  std::vector<Effect> on_create_;
  std::vector<OrgKind> origin_kinds_;
  std::uint32_t create_roles_mask_ = 0;
  std::vector<bool> serves_;
  std::vector<bool> routable_;  // [(award * 2 + entry) * kOrgKindCount + origin]
  std::vector<std::vector<Clause>> eligibility_;
  std::vector<std::vector<TransitionId>> table_;  // [state * actions + action]
  StateId initial_;
};

// Either a compiled definition or every diagnostic found (not just the first).
struct CompileOutcome {
  std::shared_ptr<const Definition> definition;
  std::vector<Diagnostic> diagnostics;
};

// Compiles and validates a workflow against the award catalogue: unknown states, roles, fields,
// awards and documents; unreachable states; non-terminal states with no path to a terminal state;
// two transitions that can fire on the same action at once; type errors in guards.
CompileOutcome compile_definition(const WorkflowSpec& workflow, const CatalogueSpec& catalogue);

// Validates the award catalogue on its own (used by `hoso workflows check` and config loading).
std::vector<Diagnostic> check_catalogue(const CatalogueSpec& catalogue);

}  // namespace hoso
