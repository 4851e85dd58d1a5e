#include "engine/diagram.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

namespace hoso {

namespace {

std::string holder_text(const State& s) {
  if (s.terminal) return "";
  if (s.holder.origin) return "origin";
  return fmt::format("{}@{}", org_kind_name(s.holder.kind), level_name(s.holder.within));
}


// Appends `item` to a `sep`-separated list.
void append_item(std::string& list, char sep, std::string_view item) {
  if (!list.empty()) list += sep;
  list += item;
}

std::string roles_text(std::uint32_t mask) {
  std::string out;
  for (int i = 0; i < kRoleCount; ++i)
    if (mask & (1u << i)) append_item(out, ',', role_name(static_cast<Role>(i)));
  return out;
}

std::string when_text(const Definition& def, const When& w) {
  std::string out;
  if (w.authority_mask != ~0u) {
    std::string a;
    for (int i = 0; i < kAuthorityCount; ++i)
      if (w.authority_mask & (1u << i))
        append_item(a, ',', authority_name(static_cast<Authority>(i)));
    out += "authority=" + a;
  }
  if (w.entry_mask != ~0u) {
    out += out.empty() ? "" : " ";
    out += "entry=";
    out += (w.entry_mask & 1u) ? ((w.entry_mask & 2u) ? "commune,province" : "commune") : "province";
  }
  if (w.origin_mask != ~0u) {
    std::string o;
    for (int i = 0; i < kOrgKindCount; ++i)
      if (w.origin_mask & (1u << i))
        append_item(o, ',', org_kind_name(static_cast<OrgKind>(i)));
    append_item(out, ' ', "origin=" + o);
  }
  if (!w.awards.empty()) {
    std::string a;
    for (AwardId id : w.awards) append_item(a, ',', def.award(id).key);
    append_item(out, ' ', "awards=" + a);
  }
  return out;
}

// Each drawn edge: from, to, label.
template <typename Fn>
void for_each_edge(const Definition& def, Fn fn) {
  for (const auto& t : def.transitions()) {
    if (t.kind == TransitionKind::kVote || t.kind == TransitionKind::kCloseVote) continue;
    const std::string w = when_text(def, t.when);
    const std::string label = def.action_name(t.action) + (w.empty() ? "" : " [" + w + "]");
    for (StateId from : t.from) fn(def.state(from), def.state(t.to), label);
  }
  for (const auto& s : def.states()) {
    if (!s.vote) continue;
    fn(s, def.state(s.vote->pass), fmt::format("vote pass (>= {}%)", s.vote->threshold_percent));
    fn(s, def.state(s.vote->fail), "vote fail");
  }
}

}  // namespace

std::string to_mermaid(const Definition& def) {
  std::string out = "stateDiagram-v2\n";
  out += fmt::format("  %% {} — {}\n", def.name(), def.title());
  for (const auto& s : def.states()) out += fmt::format("  {}: {}\n", s.key, s.title);
  out += fmt::format("  [*] --> {}\n", def.state(def.initial()).key);
  for_each_edge(def, [&](const State& a, const State& b, const std::string& label) {
    out += fmt::format("  {} --> {}: {}\n", a.key, b.key, label);
  });
  for (const auto& s : def.states())
    if (s.terminal) out += fmt::format("  {} --> [*]\n", s.key);
  return out;
}

std::string to_dot(const Definition& def) {
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  };
  std::string out =
      fmt::format("digraph {} {{\n  rankdir=TB;\n  label={};\n", quote(def.name()), quote(def.title()));
  for (const auto& s : def.states())
    out += fmt::format("  {} [label={}, shape={}];\n", quote(s.key), quote(s.title + "\\n" + holder_text(s)),
                       s.terminal  ? "doublecircle"
                       : s.initial ? "box"
                       : s.vote    ? "hexagon"
                                   : "ellipse");
  for_each_edge(def, [&](const State& a, const State& b, const std::string& label) {
    out += fmt::format("  {} -> {} [label={}];\n", quote(a.key), quote(b.key), quote(label));
  });
  return out + "}\n";
}

std::string to_json(const Definition& def) {
  namespace json = boost::json;
  json::array states;
  for (const auto& s : def.states()) {
    json::object o{{"id", s.key},
                   {"title", s.title},
                   {"initial", s.initial},
                   {"terminal", s.terminal},
                   {"holder", holder_text(s)}};
    if (!s.outcome.empty()) o["outcome"] = s.outcome;
    if (s.vote)
      o["vote"] = json::object{{"role", role_name(s.vote->role)},
                               {"threshold_percent", s.vote->threshold_percent},
                               {"denominator", s.vote->denominator_present ? "present" : "members"},
                               {"quorum_percent", s.vote->quorum_percent},
                               {"pass", def.state(s.vote->pass).key},
                               {"fail", def.state(s.vote->fail).key}};
    states.push_back(std::move(o));
  }
  json::array transitions;
  for (const auto& t : def.transitions()) {
    json::array from;
    for (StateId s : t.from) from.push_back(json::string(def.state(s).key));
    transitions.push_back(json::object{{"action", def.action_name(t.action)},
                                       {"kind", transition_kind_name(t.kind)},
                                       {"title", t.title},
                                       {"from", std::move(from)},
                                       {"to", def.state(t.to).key},
                                       {"roles", roles_text(t.roles_mask)},
                                       {"at", t.at == Relation::kHolder ? "holder" : "origin"},
                                       {"when", when_text(def, t.when)}});
  }
  json::array awards;
  for (const auto& a : def.awards())
    if (def.serves(a.id)) awards.push_back(json::string(a.key));
  return json::serialize(json::object{{"name", def.name()},
                                      {"title", def.title()},
                                      {"hash", def.hash()},
                                      {"awards", std::move(awards)},
                                      {"states", std::move(states)},
                                      {"transitions", std::move(transitions)}});
}

}  // namespace hoso
