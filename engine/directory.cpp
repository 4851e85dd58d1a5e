#include "engine/directory.hpp"

#include <fmt/format.h>

namespace hoso {

namespace {
constexpr const char* kOrgKindNames[kOrgKindCount] = {
    "central",  "ministry",        "central_emulation", "government_office",          "president_office",
    "province", "province_police", "home_affairs",      "province_peoples_committee", "department",
    "commune",  "commune_police",  "commune_culture",   "commune_peoples_committee",  "unit"};
constexpr const char* kRoleNames[kRoleCount] = {"clerk",          "appraiser", "signer",
                                                "council_member", "auditor",   "admin"};
constexpr const char* kLevelNames[3] = {"central", "province", "commune"};

std::optional<Level> level_for_kind(OrgKind k) {
  switch (k) {
    case OrgKind::kCentral:
      return Level::kCentral;
    case OrgKind::kProvince:
      return Level::kProvince;
    case OrgKind::kCommune:
      return Level::kCommune;
    default:
      return std::nullopt;
  }
}
}  // namespace

const char* org_kind_name(OrgKind k) { return kOrgKindNames[static_cast<int>(k)]; }

bool serves_own_subtree(OrgKind k) {
  return k == OrgKind::kUnit || k == OrgKind::kDepartment || level_for_kind(k).has_value();
}
std::optional<OrgKind> parse_org_kind(std::string_view name) {
  for (int i = 0; i < kOrgKindCount; ++i)
    if (name == kOrgKindNames[i]) return static_cast<OrgKind>(i);
  return std::nullopt;
}
const char* role_name(Role r) { return kRoleNames[static_cast<int>(r)]; }
std::optional<Role> parse_role(std::string_view name) {
  for (int i = 0; i < kRoleCount; ++i)
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  return std::nullopt;
}
const char* level_name(Level l) { return kLevelNames[static_cast<int>(l)]; }
std::optional<Level> parse_level(std::string_view name) {
  for (int i = 0; i < 3; ++i)
    if (name == kLevelNames[i]) return static_cast<Level>(i);
  return std::nullopt;
}

bool User::has_role(Role r) const {
  for (Role x : roles)
    if (x == r) return true;
  return false;
}

Result<Directory> Directory::build(const std::vector<OrgSpec>& org_specs,
                                   const std::vector<UserSpec>& user_specs) {
  auto fail = [](std::string msg) { return make_error(ErrorCode::kInvalidDefinition, std::move(msg)); };
  Directory d;
  for (const auto& s : org_specs) {
    auto kind = parse_org_kind(s.kind);
    if (!kind) return fail(fmt::format("org '{}': unknown kind '{}'", s.key, s.kind));
    if (s.key.empty()) return fail("org with an empty id");
    const OrgId id{static_cast<std::uint32_t>(d.orgs_.size())};
    if (!d.org_by_key_.emplace(s.key, id).second) return fail(fmt::format("org '{}': duplicate id", s.key));
    d.orgs_.push_back(Org{id, s.key, s.name, *kind, OrgId{}});
  }
  int roots = 0;
  for (std::size_t i = 0; i < org_specs.size(); ++i) {
    const auto& s = org_specs[i];
    if (s.parent.empty()) {
      ++roots;
      if (d.orgs_[i].kind != OrgKind::kCentral)
        return fail(fmt::format("org '{}': only the central root may have no parent", s.key));
      continue;
    }
    auto p = d.find_org(s.parent);
    if (!p) return fail(fmt::format("org '{}': unknown parent '{}'", s.key, s.parent));
    d.orgs_[i].parent = *p;
  }
  if (roots != 1)
    return fail(fmt::format("the org tree must have exactly one root of kind central, found {}", roots));
  // Ancestry: detect cycles and precompute level anchors.
  d.level_anchor_.assign(d.orgs_.size(), {OrgId{}, OrgId{}, OrgId{}});
  for (auto& org : d.orgs_) {
    OrgId cur = org.id;
    std::size_t steps = 0;
    while (cur.valid()) {
      if (++steps > d.orgs_.size())
        return fail(fmt::format("org '{}': the parent chain has a cycle", org.key));
      if (auto lvl = level_for_kind(d.orgs_[cur.value].kind)) {
        auto& slot = d.level_anchor_[org.id.value][static_cast<int>(*lvl)];
        if (!slot.valid()) slot = cur;
      }
      cur = d.orgs_[cur.value].parent;
    }
  }
  d.child_by_kind_.assign(d.orgs_.size(), {});
  for (auto& row : d.child_by_kind_) row.fill(OrgId{});
  for (const auto& org : d.orgs_) {
    if (!org.parent.valid()) continue;
    auto& slot = d.child_by_kind_[org.parent.value][static_cast<int>(org.kind)];
    if (!slot.valid()) slot = org.id;
  }
  for (const auto& s : user_specs) {
    if (s.key.empty()) return fail("user with an empty id");
    auto org = d.find_org(s.org);
    if (!org) return fail(fmt::format("user '{}': unknown org '{}'", s.key, s.org));
    User u{
        UserId{static_cast<std::uint32_t>(d.users_.size())}, s.key, s.name, s.email, *org, {}, s.active, {}};
    for (const auto& r : s.roles) {
      auto role = parse_role(r);
      if (!role) return fail(fmt::format("user '{}': unknown role '{}'", s.key, r));
      u.roles.push_back(*role);
    }
    if (!d.user_by_key_.emplace(s.key, u.id).second)
      return fail(fmt::format("user '{}': duplicate id", s.key));
    d.users_.push_back(std::move(u));
  }
  // Delegates name users, so they are resolved once every user is known.
  for (std::size_t i = 0; i < user_specs.size(); ++i) {
    User& u = d.users_[i];
    for (const auto& g : user_specs[i].delegates) {
      auto deputy = d.find_user(g.user);
      if (!deputy) return fail(fmt::format("user '{}': unknown delegate '{}'", u.key, g.user));
      if (*deputy == u.id) return fail(fmt::format("user '{}': cannot be their own delegate", u.key));
      if (!d.is_within(u.org, d.jurisdiction_of(d.users_[deputy->value].org)))
        return fail(fmt::format("user '{}': delegate '{}' is of an org whose area does not hold '{}'", u.key,
                                g.user, d.orgs_[u.org.value].key));
      auto from = parse_date(g.from);
      auto until = parse_date(g.until);
      if (!from || !until)
        return fail(fmt::format("user '{}': delegate '{}' has a malformed date", u.key, g.user));
      if (*from > *until)
        return fail(fmt::format("user '{}': delegate '{}' from {} is after until {}", u.key, g.user, g.from,
                                g.until));
      // The same deputy may return for another absence, but not twice for one day.
      for (const auto& other : u.delegates)
        if (other.deputy == *deputy && other.from <= *until && *from <= other.until)
          return fail(
              fmt::format("user '{}': delegate '{}' is listed twice for overlapping periods", u.key, g.user));
      u.delegates.push_back(Delegation{*deputy, *from, *until, g.reason});
    }
  }
  return d;
}

std::optional<OrgId> Directory::find_org(std::string_view key) const {
  auto it = org_by_key_.find(key);
  if (it == org_by_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<UserId> Directory::find_user(std::string_view key) const {
  auto it = user_by_key_.find(key);
  if (it == user_by_key_.end()) return std::nullopt;
  return it->second;
}

OrgId Directory::child_of_kind(OrgId parent, OrgKind kind) const {
  if (!parent.valid()) return OrgId{};
  return child_by_kind_[parent.value][static_cast<int>(kind)];
}

bool Directory::is_within(OrgId org, OrgId ancestor) const {
  for (OrgId cur = org; cur.valid(); cur = orgs_[cur.value].parent)
    if (cur == ancestor) return true;
  return false;
}

std::vector<UserId> Directory::users_with_role(OrgId org, Role role) const {
  std::vector<UserId> out;
  for (const auto& u : users_)
    if (u.org == org && u.active && u.has_role(role)) out.push_back(u.id);
  return out;
}

OrgId Directory::jurisdiction_of(OrgId org) const {
  if (serves_own_subtree(orgs_[org.value].kind)) return org;
  // An agency reads the level it belongs to (its parent level node).
  const Org& o = orgs_[org.value];
  return o.parent.valid() ? o.parent : org;
}

}  // namespace hoso
