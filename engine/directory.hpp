// The org tree and the people in it, as loaded from config/. Immutable once built.
#pragma once
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/ids.hpp"
#include "engine/records.hpp"
#include "engine/result.hpp"
#include "engine/time.hpp"

namespace hoso {

// Kinds of org (DOMAIN.md §1). Stored on disk by name: never rename.
// Level kinds (kCentral, kProvince, kCommune) group the agencies of one administrative level.
enum class OrgKind : std::uint8_t {
  kCentral,                   // trung ương (root)
  kMinistry,                  // Bộ Công an, Bộ Nội vụ
  kCentralEmulation,          // Ban Thi đua - Khen thưởng Trung ương
  kGovernmentOffice,          // Văn phòng Chính phủ (Thủ tướng)
  kPresidentOffice,           // Văn phòng Chủ tịch nước
  kProvince,                  // tỉnh (level node)
  kProvincePolice,            // Công an tỉnh
  kHomeAffairs,               // Sở Nội vụ (hosts the Hội đồng TĐKT tỉnh)
  kProvincePeoplesCommittee,  // UBND tỉnh
  kDepartment,                // sở, ban, ngành
  kCommune,                   // xã, phường, đặc khu (level node)
  kCommunePolice,             // Công an xã
  kCommuneCulture,            // Phòng Văn hóa - Xã hội
  kCommunePeoplesCommittee,   // UBND xã
  kUnit,  // thôn, tổ dân phố, cơ quan, trường học, doanh nghiệp, hộ gia đình
};
inline constexpr int kOrgKindCount = 15;

// Administrative levels, used to locate an org relative to a dossier's origin.
enum class Level : std::uint8_t { kCentral, kProvince, kCommune };

const char* org_kind_name(OrgKind k);
// Whether an org of kind `k` serves its own subtree (a unit, a department, a level node); an agency serves
// its parent level node's (Directory::jurisdiction_of).
bool serves_own_subtree(OrgKind k);
std::optional<OrgKind> parse_org_kind(std::string_view name);
const char* role_name(Role r);
std::optional<Role> parse_role(std::string_view name);
const char* level_name(Level l);
std::optional<Level> parse_level(std::string_view name);

struct Org {
  OrgId id;
  std::string key;   // stable external id, e.g. "ca-tinh-lao-cai"
  std::string name;  // Vietnamese display name
  OrgKind kind = OrgKind::kUnit;
  OrgId parent;  // invalid for the root
};

// Who may act on a user's behalf while they are away, and when (Vietnam dates, both days included).
struct Delegation {
  UserId deputy;
  Date from, until;
  std::string reason;  // "Nghỉ phép", "Đi công tác", … (for people; not checked)
  bool covers(Date day) const { return from <= day && day <= until; }
};

struct User {
  UserId id;
  std::string key;   // login id, e.g. "lc.catinh.canbo"
  std::string name;  // Vietnamese full name
  std::string email;
  OrgId org;
  std::vector<Role> roles;
  bool active = true;  // an inactive user stays for history but may not act or read
  std::vector<Delegation> delegates;  // who may act for this user, in config order
  bool has_role(Role r) const;
};

// Input to Directory::build, as read from config.
struct OrgSpec {
  std::string key, name, kind, parent;
};
using DelegationSpec = DelegationRecord;  // as config and the store write it
struct UserSpec {
  std::string key, name, email, org;
  std::vector<std::string> roles;
  bool active = true;
  std::vector<DelegationSpec> delegates{};
};

// The org tree with precomputed ancestry, and the users. Lookups are O(1).
class Directory {
 public:
  // Builds and validates (unique keys, known kinds/roles, parents exist, one root, no cycles; delegates that
  // are known users other than the delegator, listed once, with real dates, from <= until).
  // Fails with kInvalidDefinition whose message names the offending key.
  static Result<Directory> build(const std::vector<OrgSpec>& orgs, const std::vector<UserSpec>& users);

  const std::vector<Org>& orgs() const { return orgs_; }
  const std::vector<User>& users() const { return users_; }
  const Org& org(OrgId id) const { return orgs_[id.value]; }
  const User& user(UserId id) const { return users_[id.value]; }
  // The store's directory_version this directory was read at (0 for one built from config).
  std::int64_t version() const { return version_; }
  void set_version(std::int64_t v) { version_ = v; }
  std::optional<OrgId> find_org(std::string_view key) const;
  std::optional<UserId> find_user(std::string_view key) const;

  // The nearest ancestor-or-self of `org` that is the given level node; invalid when none.
  OrgId level_of(OrgId org, Level level) const { return level_anchor_[org.value][static_cast<int>(level)]; }
  // The child of `parent` with the given kind (the first, in config order); invalid when none.
  OrgId child_of_kind(OrgId parent, OrgKind kind) const;
  // True when `ancestor` is `org` or one of its ancestors.
  bool is_within(OrgId org, OrgId ancestor) const;
  // Active users at `org` holding `role`, in config order.
  std::vector<UserId> users_with_role(OrgId org, Role role) const;
  // The root of the subtree a user of `org` may read: the org itself for units and departments,
  // else the enclosing level node (an agency of a commune reads the whole commune).
  OrgId jurisdiction_of(OrgId org) const;

 private:
  std::int64_t version_ = 0;
  std::vector<Org> orgs_;
  std::vector<User> users_;
  // Transparent hashing: lookups by string_view allocate nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, OrgId, KeyHash, std::equal_to<>> org_by_key_;
  std::unordered_map<std::string, UserId, KeyHash, std::equal_to<>> user_by_key_;
  std::vector<std::array<OrgId, 3>> level_anchor_;
  std::vector<std::array<OrgId, kOrgKindCount>> child_by_kind_;
};

}  // namespace hoso
