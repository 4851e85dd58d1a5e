// The pure core: (definition, directory, dossier state, command, actor, time) → events, or a refusal.
// Nothing here reads a clock, a file or a database.
#pragma once
#include <variant>

#include "engine/definition.hpp"
#include "engine/directory.hpp"
#include "engine/dossier.hpp"

namespace hoso {

using Decided = std::variant<Decision, Refusal>;

// Decides the creation of a dossier by `user` at `now`. The new dossier's id is assigned by the store.
Decided decide_create(const Definition& def, const Directory& dir, const CreateCommand& cmd, UserId user,
                      Timestamp now);

// Decides the opening of a dossier by the system for `origin` (a report obligation): the same checks as a
// creation but the creator's, and the event is recorded by the system.
Decided decide_open(const Definition& def, const Directory& dir, const CreateCommand& cmd, OrgId origin,
                    Timestamp now);

// Decides an action on `state` by `user` at `now`.
Decided decide_act(const Definition& def, const Directory& dir, const DossierState& state,
                   const ActCommand& cmd, UserId user, Timestamp now);

// Refuses (kNotPermitted: not_a_delegate, delegation_expired, delegation_not_started; kInvalidInput for
// oneself) unless active `acting` is a delegate of active `for_user` on the Vietnam date of `now`.
std::optional<Refusal> check_delegation(const Directory& dir, UserId acting, UserId for_user, Timestamp now);

// Folds one event into the state. Fails (kVerifyFailed) when the event is not one the definition
// could have produced from this state (wrong sequence, unknown transition, field out of range).
Status apply_event(const Definition& def, DossierState& state, const Event& event);

// The actions `user` may take on `state` now (ignoring guards and documents, which depend on input); with
// `by_delegate`, those a delegate may take for them: never a ballot (vote_not_delegable).
std::vector<ActionId> available_actions(const Definition& def, const Directory& dir,
                                        const DossierState& state, UserId user, bool by_delegate = false);

// True when `user` may read the dossier: its origin lies within the user's jurisdiction, or the user's
// org holds it now.
bool may_read(const Directory& dir, const DossierState& state, UserId user);

// Where the origin enters the path: units of a commune through the commune; departments, and a commune
// proposing itself through its UBND xã, directly at the province.
Entry entry_of(const Directory& dir, OrgId origin);

// The org that holds a dossier in `state` (invalid when the tree has no such org).
OrgId resolve_holder(const Directory& dir, const State& state, OrgId origin);

}  // namespace hoso
