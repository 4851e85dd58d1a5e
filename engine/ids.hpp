// Typed identifiers: strings are converted once at the edges; inside the engine everything is an index.
#pragma once
#include <cstdint>
#include <functional>

namespace hoso {

template <typename Tag, typename Rep = std::uint32_t>
struct TypedId {
  static constexpr Rep kInvalid = static_cast<Rep>(-1);
  Rep value = kInvalid;
  constexpr TypedId() = default;
  constexpr explicit TypedId(Rep v) : value(v) {}
  constexpr bool valid() const { return value != kInvalid; }
  friend constexpr bool operator==(TypedId a, TypedId b) { return a.value == b.value; }
  friend constexpr auto operator<=>(TypedId a, TypedId b) { return a.value <=> b.value; }
};

using StateId = TypedId<struct StateTag, std::uint16_t>;
using TransitionId = TypedId<struct TransitionTag, std::uint16_t>;
using ActionId = TypedId<struct ActionTag, std::uint16_t>;
using FieldId = TypedId<struct FieldTag, std::uint16_t>;
using AwardId = TypedId<struct AwardTag, std::uint16_t>;
using DocKindId = TypedId<struct DocKindTag, std::uint16_t>;
using OrgId = TypedId<struct OrgTag>;
using UserId = TypedId<struct UserTag>;

// Dossier ids are assigned by the store and are stable forever (stored on disk).
using DossierId = std::int64_t;

// Roles a person can hold at an org (DOMAIN.md §1). Stored on disk by name.
enum class Role : std::uint8_t { kClerk, kAppraiser, kSigner, kCouncilMember, kAuditor, kAdmin };
inline constexpr int kRoleCount = 6;

}  // namespace hoso

template <typename Tag, typename Rep>
struct std::hash<hoso::TypedId<Tag, Rep>> {
  std::size_t operator()(hoso::TypedId<Tag, Rep> id) const noexcept { return std::hash<Rep>{}(id.value); }
};
