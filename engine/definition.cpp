#include "engine/definition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>

namespace hoso {

std::string Diagnostic::format() const {
  return fmt::format("{}:{}:{}: error: {}", loc.file.empty() ? "<input>" : loc.file, loc.line, loc.col,
                     message);
}

namespace {
constexpr const char* kAuthorityNames[kAuthorityCount] = {"commune_chair",  "department_head", "province_chair",
                                                          "prime_minister", "president",       "none"};
constexpr const char* kTransitionKindNames[] = {"submit",   "accept",   "appraise",  "forward",
                                                "return",   "resubmit", "reject",    "decide",
                                                "withdraw", "vote",     "close_vote", "timeout"};
constexpr int kTransitionKindCount = 12;
const std::vector<TransitionId> kNoTransitions;
const std::vector<Clause> kNoClauses;
}  // namespace

const char* authority_name(Authority a) { return kAuthorityNames[static_cast<int>(a)]; }
std::optional<Authority> parse_authority(std::string_view s) {
  for (int i = 0; i < kAuthorityCount; ++i)
    if (s == kAuthorityNames[i]) return static_cast<Authority>(i);
  return std::nullopt;
}
const char* transition_kind_name(TransitionKind k) { return kTransitionKindNames[static_cast<int>(k)]; }
std::optional<TransitionKind> parse_transition_kind(std::string_view s) {
  for (int i = 0; i < kTransitionKindCount; ++i)
    if (s == kTransitionKindNames[i]) return static_cast<TransitionKind>(i);
  return std::nullopt;
}

bool When::matches(const Award& a, Entry e, OrgKind origin) const {
  if (!(authority_mask & (1u << static_cast<int>(a.authority)))) return false;
  if (!(origin_mask & (1u << static_cast<int>(origin)))) return false;
  if (!(entry_mask & (1u << static_cast<int>(e)))) return false;
  if (!awards.empty() && std::find(awards.begin(), awards.end(), a.id) == awards.end()) return false;
  return true;
}

bool Definition::serves(AwardId a) const { return a.valid() && a.value < serves_.size() && serves_[a.value]; }

namespace {
std::size_t route_index(AwardId a, Entry entry, OrgKind origin) {
  return (static_cast<std::size_t>(a.value) * 2 + static_cast<std::size_t>(entry)) * kOrgKindCount +
         static_cast<std::size_t>(origin);
}
}  // namespace

bool Definition::routable(AwardId a, Entry entry, OrgKind origin) const {
  const std::size_t i = route_index(a, entry, origin);
  return a.valid() && i < routable_.size() && routable_[i];
}

const std::vector<Clause>& Definition::eligibility(AwardId a) const {
  return a.valid() && a.value < eligibility_.size() ? eligibility_[a.value] : kNoClauses;
}

const std::vector<TransitionId>& Definition::candidates(StateId s, ActionId a) const {
  if (!s.valid() || !a.valid() || s.value >= states_.size() || a.value >= actions_.size())
    return kNoTransitions;
  return table_[s.value * actions_.size() + a.value];
}

namespace {
template <typename V>
auto find_key(const V& v, std::string_view key) -> std::optional<decltype(v[0].id)> {
  for (const auto& x : v)
    if (x.key == key) return x.id;
  return std::nullopt;
}
}  // namespace

bool DeadlineRule::applies(OrgKind level, AwardId award, Date as_of) const {
  if (std::find(levels.begin(), levels.end(), level) == levels.end()) return false;
  if (!awards.empty() && std::find(awards.begin(), awards.end(), award) == awards.end()) return false;
  if (effective_from && as_of < *effective_from) return false;
  if (effective_to && *effective_to < as_of) return false;
  return true;
}

const DeadlineRule* Definition::deadline_for(OrgKind level, AwardId award, Date as_of) const {
  const DeadlineRule* found = nullptr;
  for (const auto& r : deadlines_)
    if (r.applies(level, award, as_of)) found = &r;
  return found;
}

std::optional<StateId> Definition::find_state(std::string_view key) const { return find_key(states_, key); }
std::optional<FieldId> Definition::find_field(std::string_view key) const { return find_key(fields_, key); }
std::optional<AwardId> Definition::find_award(std::string_view key) const { return find_key(awards_, key); }
std::optional<DocKindId> Definition::find_document(std::string_view key) const {
  return find_key(documents_, key);
}
std::optional<ActionId> Definition::find_action(std::string_view key) const {
  for (std::size_t i = 0; i < actions_.size(); ++i)
    if (actions_[i] == key) return ActionId{static_cast<std::uint16_t>(i)};
  return std::nullopt;
}

// Builds a Definition, collecting every problem it finds.
class DefinitionCompiler {
 public:
  DefinitionCompiler(const WorkflowSpec& w, const CatalogueSpec& c)
      : w_(w), c_(c), def_(std::make_shared<Definition>()) {}

  // Only the award catalogue's own checks.
  std::vector<Diagnostic> run_catalogue() {
    catalogue();
    return std::move(diags_);
  }

  CompileOutcome run() {
    catalogue();
    header();
    fields();
    states();
    transitions();
    compile_effects(w_.on_create, d().on_create_);
    eligibility();
    if (diags_.empty()) graph_checks();
    if (diags_.empty()) routes();
    CompileOutcome out;
    out.diagnostics = std::move(diags_);
    if (out.diagnostics.empty()) out.definition = std::move(def_);
    return out;
  }

  // The expression compiler sees the workflow's fields.
  class FieldSchema : public expr::Schema {
   public:
    explicit FieldSchema(const Definition& d) : d_(d) {}
    const FieldSpec* find(std::string_view name, FieldId* id) const override {
      auto f = d_.find_field(name);
      if (!f) return nullptr;
      if (id) *id = *f;
      return &d_.field(*f).spec;
    }

   private:
    const Definition& d_;
  };

 private:
  void error(const SourceLoc& loc, std::string msg) { diags_.push_back(Diagnostic{loc, std::move(msg)}); }
  Definition& d() { return *def_; }

  std::optional<Date> date_of(const Str& s, const char* what) {
    if (s.value.empty()) return std::nullopt;
    auto dt = parse_date(s.value);
    if (!dt) error(s.loc, fmt::format("{} '{}' is not a date (YYYY-MM-DD)", what, s.value));
    return dt;
  }

  void catalogue() {
    for (const auto& doc : c_.documents) {
      if (d().find_document(doc.key.value)) {
        error(doc.key.loc, fmt::format("duplicate document kind '{}'", doc.key.value));
        continue;
      }
      d().documents_.push_back(DocKind{DocKindId{static_cast<std::uint16_t>(d().documents_.size())},
                                       doc.key.value, doc.name.value});
    }
    for (const auto& a : c_.awards) {
      if (d().find_award(a.key.value)) {
        error(a.key.loc, fmt::format("duplicate award '{}'", a.key.value));
        continue;
      }
      Award award;
      award.id = AwardId{static_cast<std::uint16_t>(d().awards_.size())};
      award.key = a.key.value;
      award.name = a.name.value;
      award.legal_basis = a.legal_basis.value;
      award.round = a.round.value;
      if (auto au = parse_authority(a.authority.value))
        award.authority = *au;
      else
        error(a.authority.loc, fmt::format("unknown authority '{}' (expected commune_chair, department_head, "
                                           "province_chair, prime_minister, president or none)",
                                           a.authority.value));
      for (const auto& doc : a.required_docs) {
        if (auto id = d().find_document(doc.value))
          award.required_docs.push_back(*id);
        else
          error(doc.loc,
                fmt::format("award '{}' requires unknown document kind '{}'", a.key.value, doc.value));
      }
      award.effective_from = date_of(a.effective_from, "effective_from");
      award.effective_to = date_of(a.effective_to, "effective_to");
      if (award.effective_from && award.effective_to && *award.effective_to < *award.effective_from)
        error(a.effective_to.loc, fmt::format("award '{}' ends before it starts", a.key.value));
      d().awards_.push_back(std::move(award));
    }
    deadlines();
  }

  void deadlines() {
    for (const auto& spec : c_.deadlines) {
      DeadlineRule rule;
      rule.id = spec.id.value;
      rule.legal_basis = spec.legal_basis.value;
      if (rule.id.empty()) error(spec.loc, "a deadline needs an 'id'");
      for (const auto& other : d().deadlines_)
        if (other.id == rule.id) error(spec.id.loc, fmt::format("duplicate deadline '{}'", rule.id));
      if (spec.levels.empty()) error(spec.loc, fmt::format("deadline '{}' names no levels", rule.id));
      for (const auto& l : spec.levels) {
        if (auto kind = parse_org_kind(l.value))
          rule.levels.push_back(*kind);
        else
          error(l.loc, fmt::format("deadline '{}': unknown org kind '{}'", rule.id, l.value));
      }
      for (const auto& a : spec.awards) {
        if (auto id = d().find_award(a.value))
          rule.awards.push_back(*id);
        else
          error(a.loc, fmt::format("deadline '{}': unknown award '{}'", rule.id, a.value));
      }
      if (spec.working_days.value < 1 || spec.working_days.value > 365)
        error(spec.working_days.loc,
              fmt::format("deadline '{}': working_days must be 1–365, not {}", rule.id, spec.working_days.value));
      if (spec.remind_before.value < 0 || spec.remind_before.value >= spec.working_days.value)
        error(spec.remind_before.loc,
              fmt::format("deadline '{}': remind_before must be at least 0 and less than working_days", rule.id));
      rule.working_days = static_cast<int>(spec.working_days.value);
      rule.remind_before = static_cast<int>(spec.remind_before.value);
      if (spec.on_resume.value == "restart")
        rule.restart_on_resume = true;
      else if (!spec.on_resume.value.empty() && spec.on_resume.value != "continue")
        error(spec.on_resume.loc,
              fmt::format("deadline '{}': on_resume must be 'continue' or 'restart', not '{}'", rule.id,
                          spec.on_resume.value));
      if (!spec.escalate_of.value.empty()) {
        auto kind = parse_org_kind(spec.escalate_of.value);
        auto level = parse_level(spec.escalate_within.value);
        if (!kind) error(spec.escalate_of.loc, fmt::format("deadline '{}': unknown org kind '{}'", rule.id,
                                                          spec.escalate_of.value));
        if (!level)
          error(spec.escalate_within.loc.line ? spec.escalate_within.loc : spec.escalate_of.loc,
                fmt::format("deadline '{}': escalate_to needs 'within: commune|province|central'", rule.id));
        if (kind && level) rule.escalate_to = HolderRule{false, *level, *kind};
      }
      if (rule.legal_basis.empty()) error(spec.loc, fmt::format("deadline '{}' needs a legal_basis", rule.id));
      rule.effective_from = date_of(spec.effective_from, "effective_from");
      rule.effective_to = date_of(spec.effective_to, "effective_to");
      if (rule.effective_from && rule.effective_to && *rule.effective_to < *rule.effective_from)
        error(spec.effective_to.loc, fmt::format("deadline '{}' ends before it starts", rule.id));
      d().deadlines_.push_back(std::move(rule));
    }
  }

  std::uint32_t roles_mask(const std::vector<Str>& roles, const char* where) {
    std::uint32_t mask = 0;
    for (const auto& r : roles) {
      if (auto role = parse_role(r.value))
        mask |= 1u << static_cast<int>(*role);
      else
        error(r.loc,
              fmt::format("unknown role '{}' in {} (expected clerk, appraiser, signer, council_member, "
                          "auditor or admin)",
                          r.value, where));
    }
    return mask;
  }

  void header() {
    d().name_ = w_.name.value;
    d().title_ = w_.title.value;
    if (w_.name.value.empty()) error(SourceLoc{w_.file, 1, 1}, "the workflow has no name ('workflow:')");
    d().serves_.assign(d().awards_.size(), false);
    for (const auto& a : w_.awards) {
      if (auto id = d().find_award(a.value))
        d().serves_[id->value] = true;
      else
        error(a.loc, fmt::format("unknown award '{}'", a.value));
    }
    if (w_.awards.empty()) error(w_.name.loc, "the workflow serves no award ('awards:')");
    for (const auto& k : w_.origin_kinds) {
      if (auto kind = parse_org_kind(k.value))
        d().origin_kinds_.push_back(*kind);
      else
        error(k.loc, fmt::format("unknown org kind '{}' in origins", k.value));
    }
    if (w_.origin_kinds.empty()) error(w_.name.loc, "the workflow has no origins ('origins:')");
    d().create_roles_mask_ = roles_mask(w_.create_roles, "create_roles");
    // An empty list is allowed: dossiers of the workflow are opened by the system only (reports).
  }

  void fields() {
    for (const auto& f : w_.fields) {
      if (d().find_field(f.key.value)) {
        error(f.key.loc, fmt::format("duplicate field '{}'", f.key.value));
        continue;
      }
      FieldDecl decl;
      decl.id = FieldId{static_cast<std::uint16_t>(d().fields_.size())};
      decl.key = f.key.value;
      decl.label = f.label.value.empty() ? f.key.value : f.label.value;
      decl.required = f.required;
      auto type = parse_field_type(f.type.value);
      if (!type) {
        error(f.type.loc,
              fmt::format("field '{}' has unknown type '{}' (expected int, bool, enum, date or text)",
                          f.key.value, f.type.value));
        continue;
      }
      decl.spec.type = *type;
      if (*type == FieldType::kEnum) {
        if (f.values.empty())
          error(f.key.loc, fmt::format("enum field '{}' declares no values", f.key.value));
        std::set<std::string> seen;
        for (const auto& v : f.values) {
          if (!seen.insert(v.value).second)
            error(v.loc, fmt::format("enum field '{}' repeats value '{}'", f.key.value, v.value));
          decl.spec.enum_values.push_back(v.value);
        }
      } else if (!f.values.empty()) {
        error(f.values.front().loc,
              fmt::format("field '{}' is {}: only enum fields take values", f.key.value, f.type.value));
      }
      if ((f.min || f.max) && *type != FieldType::kInt)
        error((f.min ? f.min->loc : f.max->loc),
              fmt::format("field '{}': min/max apply to int fields only", f.key.value));
      if (f.min) decl.spec.min = f.min->value;
      if (f.max) decl.spec.max = f.max->value;
      if (f.min && f.max && f.max->value < f.min->value)
        error(f.max->loc, fmt::format("field '{}': max < min", f.key.value));
      if (f.max_length) {
        if (*type != FieldType::kText)
          error(f.max_length->loc,
                fmt::format("field '{}': max_length applies to text fields only", f.key.value));
        else if (f.max_length->value <= 0 || f.max_length->value > 1'000'000)
          error(f.max_length->loc, fmt::format("field '{}': max_length must be 1..1000000", f.key.value));
        else
          decl.spec.max_length = static_cast<std::size_t>(f.max_length->value);
      }
      if (f.not_after) {
        if (*type != FieldType::kDate)
          error(f.not_after->loc, fmt::format("field '{}': not_after applies to date fields only", f.key.value));
        else if (f.not_after->value != "today")
          error(f.not_after->loc,
                fmt::format("field '{}': not_after must be 'today', not '{}'", f.key.value, f.not_after->value));
        else
          decl.spec.not_after_today = true;
      }
      d().fields_.push_back(std::move(decl));
    }
  }

  std::optional<StateId> state_ref(const Str& s, const char* what) {
    if (auto id = d().find_state(s.value)) return id;
    error(s.loc, fmt::format("{} refers to unknown state '{}'", what, s.value));
    return std::nullopt;
  }

  void states() {
    int initials = 0;
    for (const auto& s : w_.states) {
      if (d().find_state(s.key.value)) {
        error(s.key.loc, fmt::format("duplicate state '{}'", s.key.value));
        continue;
      }
      State st;
      st.id = StateId{static_cast<std::uint16_t>(d().states_.size())};
      st.key = s.key.value;
      st.title = s.title.value.empty() ? s.key.value : s.title.value;
      st.initial = s.initial;
      st.terminal = s.terminal;
      st.outcome = s.outcome.value;
      st.overdue = s.overdue;
      if (s.overdue && s.terminal) error(s.key.loc, fmt::format("terminal state '{}' cannot be overdue", s.key.value));
      if (s.initial) {
        ++initials;
        d().initial_ = st.id;
      }
      if (s.initial && s.terminal)
        error(s.key.loc, fmt::format("state '{}' cannot be both initial and terminal", s.key.value));
      if (s.terminal && s.holder)
        error(s.holder->loc, fmt::format("terminal state '{}' has no holder", s.key.value));
      if (s.terminal && s.vote)
        error(s.vote->loc, fmt::format("terminal state '{}' cannot hold a vote", s.key.value));
      if (!s.terminal && !s.holder)
        error(s.key.loc, fmt::format("state '{}' has no holder (who holds the dossier here?)", s.key.value));
      if (s.holder) {
        const auto& h = *s.holder;
        if (h.of.value == "origin") {
          st.holder.origin = true;
          if (!h.within.value.empty()) error(h.within.loc, "holder 'origin' takes no 'within'");
        } else {
          auto kind = parse_org_kind(h.of.value);
          auto level = parse_level(h.within.value);
          if (!kind)
            error(h.of.loc,
                  fmt::format("unknown org kind '{}' in holder of state '{}'", h.of.value, s.key.value));
          if (!level)
            error(h.within.loc.line ? h.within.loc : h.loc,
                  fmt::format("holder of state '{}' needs 'within: commune|province|central'", s.key.value));
          if (kind) st.holder.kind = *kind;
          if (level) st.holder.within = *level;
        }
      }
      d().states_.push_back(std::move(st));
    }
    if (initials != 1)
      error(SourceLoc{w_.file, w_.name.loc.line, w_.name.loc.col},
            fmt::format("a workflow needs exactly one initial state, found {}", initials));
    // Votes reference other states, so resolve them once all states exist.
    for (const auto& s : w_.states) {
      if (!s.vote) continue;
      auto id = d().find_state(s.key.value);
      if (!id) continue;
      const auto& v = *s.vote;
      VoteRule rule;
      if (auto r = parse_role(v.role.value))
        rule.role = *r;
      else
        error(v.role.loc, fmt::format("unknown voter role '{}'", v.role.value));
      if (auto r = parse_role(v.close_role.value.empty() ? "clerk" : v.close_role.value))
        rule.close_role = *r;
      else
        error(v.close_role.loc, fmt::format("unknown close_role '{}'", v.close_role.value));
      if (v.threshold_percent.value < 1 || v.threshold_percent.value > 100)
        error(v.threshold_percent.loc, "threshold_percent must be between 1 and 100");
      if (v.quorum_percent.value < 0 || v.quorum_percent.value > 100)
        error(v.quorum_percent.loc, "quorum_percent must be between 0 and 100");
      rule.threshold_percent = static_cast<int>(v.threshold_percent.value);
      rule.quorum_percent = static_cast<int>(v.quorum_percent.value);
      if (v.denominator.value == "present")
        rule.denominator_present = true;
      else if (v.denominator.value != "members")
        error(v.denominator.loc,
              fmt::format("denominator must be 'members' or 'present', not '{}'", v.denominator.value));
      auto pass = state_ref(v.pass, "vote 'pass'");
      auto fail = state_ref(v.fail, "vote 'fail'");
      if (pass) rule.pass = *pass;
      if (fail) rule.fail = *fail;
      compile_effects(v.pass_effects, rule.pass_effects);
      compile_effects(v.fail_effects, rule.fail_effects);
      d().states_[id->value].vote = rule;
    }
  }

  ActionId intern_action(const std::string& name) {
    if (auto a = d().find_action(name)) return *a;
    d().actions_.push_back(name);
    return ActionId{static_cast<std::uint16_t>(d().actions_.size() - 1)};
  }

  std::optional<FieldId> field_ref(const Str& s, const char* what) {
    if (auto id = d().find_field(s.value)) return id;
    error(s.loc, fmt::format("{} names unknown field '{}'", what, s.value));
    return std::nullopt;
  }

  void clauses(const std::vector<ClauseSpec>& specs, std::vector<Clause>& out) {
    FieldSchema schema(d());
    std::set<std::string> ids;
    for (const auto& c : specs) {
      if (c.id.value.empty())
        error(c.loc, "a guard clause needs an id");
      else if (!ids.insert(c.id.value).second)
        error(c.id.loc, fmt::format("duplicate clause id '{}'", c.id.value));
      if (c.message.value.empty())
        error(c.loc, fmt::format("clause '{}' needs a message for the clerk", c.id.value));
      auto compiled = expr::compile(c.expr.value, schema);
      if (!compiled.ok) {
        SourceLoc loc = c.expr.loc;
        loc.col += compiled.error.column - 1;
        error(loc, fmt::format("in guard '{}': {}", c.id.value, compiled.error.message));
        continue;
      }
      Clause clause{c.id.value, c.message.value, std::move(compiled.expr), std::nullopt};
      if (!c.applies_if.value.empty()) {
        auto pre = expr::compile(c.applies_if.value, schema);
        if (!pre.ok) {
          SourceLoc loc = c.applies_if.loc;
          loc.col += pre.error.column - 1;
          error(loc, fmt::format("in applies_if of guard '{}': {}", c.id.value, pre.error.message));
          continue;
        }
        clause.applies_if = std::move(pre.expr);
      }
      out.push_back(std::move(clause));
    }
  }

  void compile_effects(const std::vector<EffectSpec>& specs, std::vector<Effect>& out) {
    for (const auto& e : specs) {
      Effect eff;
      if (e.kind.value == "notify") {
        eff.kind = Effect::Kind::kNotify;
        eff.to = e.to.value;
        eff.template_ = e.template_.value;
        if (eff.to.starts_with("field:")) {
          const std::string key = eff.to.substr(6);
          auto id = d().find_field(key);
          if (!id)
            error(e.to.loc, fmt::format("notify target '{}': unknown field '{}'", eff.to, key));
          else if (d().field(*id).spec.type != FieldType::kText)
            error(e.to.loc, fmt::format("notify target '{}': field '{}' must be text (org ids)", eff.to, key));
          else
            eff.to_field = *id;
        } else if (eff.to != "holder" && eff.to != "origin" && eff.to != "previous_holder") {
          error(e.to.loc, fmt::format("notify target must be holder, origin, previous_holder or field:NAME, not '{}'",
                                      eff.to));
        }
        if (eff.template_.empty()) error(e.loc, "notify needs a template");
      } else if (e.kind.value == "start_timer" || e.kind.value == "cancel_timer" || e.kind.value == "pause_timer") {
        eff.kind = e.kind.value == "start_timer"    ? Effect::Kind::kStartTimer
                   : e.kind.value == "cancel_timer" ? Effect::Kind::kCancelTimer
                                                    : Effect::Kind::kPauseTimer;
        eff.timer = e.timer.value;
        eff.after = e.after.value;
        if (eff.timer.empty()) error(e.loc, "a timer effect needs a timer name");
        if (!e.on.value.empty()) {
          auto id = d().find_field(e.on.value);
          if (!id)
            error(e.on.loc, fmt::format("start_timer on: unknown field '{}'", e.on.value));
          else if (d().field(*id).spec.type != FieldType::kDate)
            error(e.on.loc, fmt::format("start_timer on: field '{}' must be a date", e.on.value));
          else
            eff.on_field = *id;
          if (e.hour.value < 0 || e.hour.value > 23)
            error(e.hour.loc, fmt::format("hour {} must be between 0 and 23", e.hour.value));
          eff.hour = static_cast<int>(e.hour.value);
        } else if (eff.kind == Effect::Kind::kStartTimer && !valid_duration(eff.after))
          error(e.after.loc,
                fmt::format("timer duration '{}' must be '<N> working_days', '<N> days', '<N> hours' or "
                            "'deadline'",
                            eff.after));
      } else {
        error(e.kind.loc, fmt::format("unknown effect '{}'", e.kind.value));
      }
      out.push_back(std::move(eff));
    }
  }

  void transitions() {
    // The vote actions are built in.
    for (const auto& st : d().states_) {
      if (!st.vote) continue;
      for (auto kind : {TransitionKind::kVote, TransitionKind::kCloseVote}) {
        Transition t;
        t.id = TransitionId{static_cast<std::uint16_t>(d().transitions_.size())};
        t.kind = kind;
        t.action = intern_action(kind == TransitionKind::kVote ? "vote" : "close_vote");
        t.title = kind == TransitionKind::kVote ? "Bỏ phiếu" : "Kết thúc bỏ phiếu";
        t.from = {st.id};
        t.to = st.id;  // the real target is decided by the tally
        t.roles_mask =
            1u << static_cast<int>(kind == TransitionKind::kVote ? st.vote->role : st.vote->close_role);
        t.at = Relation::kHolder;
        d().transitions_.push_back(std::move(t));
      }
    }
    for (const auto& ts : w_.transitions) {
      Transition t;
      t.id = TransitionId{static_cast<std::uint16_t>(d().transitions_.size())};
      if (ts.action.value.empty()) error(ts.loc, "a transition needs an action");
      if (ts.action.value == "vote" || ts.action.value == "close_vote")
        error(ts.action.loc, fmt::format("'{}' is a built-in action of vote states", ts.action.value));
      t.action = intern_action(ts.action.value);
      t.title = ts.title.value.empty() ? ts.action.value : ts.title.value;
      auto kind = parse_transition_kind(ts.kind.value);
      if (!kind || *kind == TransitionKind::kVote || *kind == TransitionKind::kCloseVote)
        error(ts.kind.loc,
              fmt::format("unknown transition kind '{}' (expected submit, accept, appraise, forward, "
                          "return, resubmit, reject, decide, withdraw or timeout)",
                          ts.kind.value));
      else
        t.kind = *kind;
      for (const auto& f : ts.from) {
        if (f.value == "*") {
          for (const auto& st : d().states_)
            if (!st.terminal) t.from.push_back(st.id);
        } else if (auto id = state_ref(f, "transition 'from'")) {
          t.from.push_back(*id);
        }
      }
      if (ts.from.empty()) error(ts.loc, fmt::format("transition '{}' has no 'from'", ts.action.value));
      if (auto to = state_ref(ts.to, "transition 'to'")) t.to = *to;
      for (const auto& a : ts.when.authority) {
        if (t.when.authority_mask == ~0u) t.when.authority_mask = 0;
        if (auto au = parse_authority(a.value))
          t.when.authority_mask |= 1u << static_cast<int>(*au);
        else
          error(a.loc, fmt::format("unknown authority '{}' in when", a.value));
      }
      for (const auto& e : ts.when.entry) {
        if (t.when.entry_mask == ~0u) t.when.entry_mask = 0;
        if (e.value == "commune")
          t.when.entry_mask |= 1u << static_cast<int>(Entry::kCommune);
        else if (e.value == "province")
          t.when.entry_mask |= 1u << static_cast<int>(Entry::kProvince);
        else
          error(e.loc, fmt::format("unknown entry '{}' in when (expected commune or province)", e.value));
      }
      for (const auto& o : ts.when.origin) {
        if (t.when.origin_mask == ~0u) t.when.origin_mask = 0;
        if (auto org_kind = parse_org_kind(o.value))
          t.when.origin_mask |= 1u << static_cast<int>(*org_kind);
        else
          error(o.loc, fmt::format("unknown org kind '{}' in when.origin", o.value));
      }
      for (const auto& a : ts.when.awards) {
        if (auto id = d().find_award(a.value)) {
          t.when.awards.push_back(*id);
          if (!d().serves(*id))
            error(a.loc, fmt::format("award '{}' is not served by this workflow", a.value));
        } else {
          error(a.loc, fmt::format("unknown award '{}' in when", a.value));
        }
      }
      t.roles_mask = roles_mask(ts.roles, "transition roles");
      t.timer = ts.timer.value;
      if (t.kind == TransitionKind::kTimeout) {
        if (t.timer.empty())
          error(ts.loc, fmt::format("timeout transition '{}' needs 'timer' (the timer whose firing takes it)",
                                    ts.action.value));
        if (!ts.roles.empty())
          error(ts.roles.front().loc,
                fmt::format("timeout transition '{}' is taken by the system when its timer fires: no roles",
                            ts.action.value));
        if (t.to.valid() && d().state(t.to).vote)
          error(ts.to.loc, fmt::format("timeout transition '{}' cannot enter a vote state (who would vote?)",
                                       ts.action.value));
      } else {
        if (!t.timer.empty())
          error(ts.timer.loc, fmt::format("'timer' belongs to timeout transitions only, not to '{}'", ts.kind.value));
        if (ts.roles.empty()) error(ts.loc, fmt::format("transition '{}' names no roles", ts.action.value));
      }
      if (ts.at.value.empty() || ts.at.value == "holder")
        t.at = Relation::kHolder;
      else if (ts.at.value == "origin")
        t.at = Relation::kOrigin;
      else
        error(ts.at.loc, fmt::format("'at' must be holder or origin, not '{}'", ts.at.value));
      clauses(ts.guards, t.guards);
      t.eligibility = ts.eligibility;
      t.award_documents = ts.award_documents;
      for (const auto& doc : ts.requires_docs) {
        if (auto id = d().find_document(doc.value))
          t.requires_docs.push_back(*id);
        else
          error(doc.loc, fmt::format("unknown document kind '{}'", doc.value));
      }
      for (const auto& f : ts.requires_fields)
        if (auto id = field_ref(f, "requires_fields")) t.requires_fields.push_back(*id);
      for (const auto& f : ts.accepts_fields)
        if (auto id = field_ref(f, "accepts_fields")) t.accepts_fields.push_back(*id);
      t.accepts_all = ts.accepts_all;
      for (const auto& [field, literal] : ts.set) {
        auto id = field_ref(field, "set");
        if (!id) continue;
        auto v = parse_value(d().field(*id).spec, literal.value);
        if (!v)
          error(literal.loc, fmt::format("set {}: {}", field.value, v.error().message));
        else
          t.set.emplace_back(*id, std::move(v.value()));
      }
      t.note_required =
          ts.note_required.value_or(t.kind == TransitionKind::kReturn || t.kind == TransitionKind::kReject);
      compile_effects(ts.effects, t.effects);
      d().transitions_.push_back(std::move(t));
    }
  }

  static bool valid_duration(const std::string& s) {
    if (s == "deadline") return true;
    auto sp = s.find(' ');
    if (sp == std::string::npos || sp == 0 || sp > 6) return false;  // at most 999999 units
    for (std::size_t i = 0; i < sp; ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    const std::string unit = s.substr(sp + 1);
    return unit == "working_days" || unit == "days" || unit == "hours";
  }

  void eligibility() {
    d().eligibility_.assign(d().awards_.size(), {});
    for (const auto& [award, specs] : w_.eligibility) {
      auto id = d().find_award(award.value);
      if (!id) {
        error(award.loc, fmt::format("eligibility for unknown award '{}'", award.value));
        continue;
      }
      if (!d().serves(*id))
        error(award.loc,
              fmt::format("eligibility for award '{}', which this workflow does not serve", award.value));
      clauses(specs, d().eligibility_[id->value]);
    }
  }

  const SourceLoc& loc_of_transition(TransitionId id) const {
    // Built-in vote transitions come first and have no spec.
    std::size_t builtin = d_const().transitions_.size() - w_.transitions.size();
    return w_.transitions[id.value - builtin].loc;
  }
  const Definition& d_const() const { return *def_; }

  const SourceLoc& loc_of_state(StateId id) const {
    for (const auto& s : w_.states)
      if (s.key.value == def_->states_[id.value].key) return s.key.loc;
    return w_.name.loc;
  }

  // Can two transitions' `when` conditions hold for the same dossier?
  bool overlap(const When& a, const When& b) const {
    for (const auto& award : d_const().awards_) {
      if (!d_const().serves(award.id)) continue;
      for (Entry e : {Entry::kCommune, Entry::kProvince})
        for (OrgKind origin : d_const().origin_kinds_)
          if (a.matches(award, e, origin) && b.matches(award, e, origin)) return true;
    }
    return false;
  }

  void graph_checks() {
    auto& def = d();
    const std::size_t ns = def.states_.size(), na = def.actions_.size();
    def.table_.assign(ns * na, {});
    for (const auto& t : def.transitions_) {
      for (StateId s : t.from) {
        if (def.states_[s.value].terminal && t.kind != TransitionKind::kVote &&
            t.kind != TransitionKind::kCloseVote) {
          error(loc_of_transition(t.id), fmt::format("transition '{}' leaves terminal state '{}'",
                                                     def.actions_[t.action.value], def.states_[s.value].key));
          continue;
        }
        auto& cell = def.table_[s.value * na + t.action.value];
        for (TransitionId other : cell) {
          if (overlap(def.transitions_[other.value].when, t.when)) {
            const bool builtin = def.transitions_[other.value].kind == TransitionKind::kVote ||
                                 def.transitions_[other.value].kind == TransitionKind::kCloseVote;
            error(
                loc_of_transition(t.id),
                fmt::format(
                    "transitions on '{}' from state '{}' can both fire (their 'when' conditions overlap){}",
                    def.actions_[t.action.value], def.states_[s.value].key,
                    builtin ? "" : fmt::format("; the other is at line {}", loc_of_transition(other).line)));
          }
        }
        cell.push_back(t.id);
      }
    }
    // Successors: transitions plus vote outcomes.
    std::vector<std::vector<StateId>> next(ns);
    for (const auto& t : def.transitions_)
      for (StateId s : t.from) next[s.value].push_back(t.to);
    for (const auto& st : def.states_)
      if (st.vote) {
        next[st.id.value].push_back(st.vote->pass);
        next[st.id.value].push_back(st.vote->fail);
      }
    std::vector<bool> reachable(ns, false);
    std::deque<StateId> queue{def.initial_};
    reachable[def.initial_.value] = true;
    while (!queue.empty()) {
      StateId s = queue.front();
      queue.pop_front();
      for (StateId n : next[s.value])
        if (!reachable[n.value]) {
          reachable[n.value] = true;
          queue.push_back(n);
        }
    }
    std::vector<bool> reaches_end(ns, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& st : def.states_) {
        if (reaches_end[st.id.value]) continue;
        bool ok = st.terminal;
        for (StateId n : next[st.id.value]) ok = ok || reaches_end[n.value];
        if (ok) reaches_end[st.id.value] = changed = true;
      }
    }
    bool any_terminal = false;
    for (const auto& st : def.states_) {
      any_terminal = any_terminal || st.terminal;
      if (!reachable[st.id.value])
        error(loc_of_state(st.id), fmt::format("state '{}' is unreachable from the initial state", st.key));
      else if (!reaches_end[st.id.value])
        error(loc_of_state(st.id), fmt::format("state '{}' has no path to a terminal state", st.key));
    }
    if (!any_terminal) error(w_.name.loc, "the workflow has no terminal state");
  }

  // Whether a dossier of `award`, from an org of kind `origin` entering at `entry`, can reach a terminal
  // state with outcome "approved" (vote outcomes included).
  bool route_exists(const Award& award, Entry entry, OrgKind origin) const {
    const Definition& def = d_const();
    std::vector<bool> seen(def.states_.size(), false);
    std::vector<StateId> todo{def.initial_};
    seen[def.initial_.value] = true;
    auto visit = [&](StateId s) {
      if (!seen[s.value]) {
        seen[s.value] = true;
        todo.push_back(s);
      }
    };
    while (!todo.empty()) {
      const State& st = def.state(todo.back());
      todo.pop_back();
      if (st.terminal && st.outcome == "approved") return true;
      if (st.vote) {
        visit(st.vote->pass);
        visit(st.vote->fail);
      }
      for (const auto& t : def.transitions_)
        if (t.when.matches(award, entry, origin) &&
            std::find(t.from.begin(), t.from.end(), st.id) != t.from.end())
          visit(t.to);
    }
    return false;
  }

  // Definition::routable for every award, entry and origin kind: a creation looks it up instead of
  // searching the graph.
  void routes() {
    auto& def = d();
    bool any_approved = false;
    for (const auto& st : def.states_)
      any_approved = any_approved || (st.terminal && st.outcome == "approved");
    def.routable_.assign(def.awards_.size() * 2 * kOrgKindCount, !any_approved);
    if (!any_approved) return;
    for (const auto& award : def.awards_)
      for (Entry entry : {Entry::kCommune, Entry::kProvince})
        for (int k = 0; k < kOrgKindCount; ++k) {
          const auto origin = static_cast<OrgKind>(k);
          def.routable_[route_index(award.id, entry, origin)] = route_exists(award, entry, origin);
        }
  }

  const WorkflowSpec& w_;
  const CatalogueSpec& c_;
  std::shared_ptr<Definition> def_;
  std::vector<Diagnostic> diags_;
};

CompileOutcome compile_definition(const WorkflowSpec& workflow, const CatalogueSpec& catalogue) {
  return DefinitionCompiler(workflow, catalogue).run();
}

std::vector<Diagnostic> check_catalogue(const CatalogueSpec& catalogue) {
  const WorkflowSpec none;
  return DefinitionCompiler(none, catalogue).run_catalogue();
}

}  // namespace hoso
