// Dossiers, the commands that act on them, and the events that record what happened.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/definition.hpp"
#include "engine/ids.hpp"
#include "engine/time.hpp"
#include "engine/value.hpp"

namespace hoso {

// Event type tags. Stored on disk by name: never rename, never reuse.
enum class EventType : std::uint8_t {
  kDossierCreated,
  kDossierSubmitted,
  kDossierAccepted,
  kDossierAppraised,
  kDossierForwarded,
  kDossierReturned,
  kDossierResubmitted,
  kDossierRejected,
  kDossierDecided,
  kDossierWithdrawn,
  kVoteCast,
  kVoteClosed,
  kTimerFired,              // recorded by the system, not a person: a pending timer came due
  kNotificationDelivered,   // recorded by the system: a notice an event recorded went out (by one channel)
  kNotificationFailed,      // recorded by the system: an attempt to send a notice by one channel failed
  kNotificationDeadLettered,  // recorded by the system: a notice given up on for one channel
};
// The three events that record what became of a notice on one channel.
inline bool is_notification_event(EventType t) {
  return t == EventType::kNotificationDelivered || t == EventType::kNotificationFailed ||
         t == EventType::kNotificationDeadLettered;
}
const char* event_type_name(EventType t);
std::optional<EventType> parse_event_type(std::string_view s);
EventType event_type_for(TransitionKind k);

// The actor_user and actor_role recorded for events the system makes (a fired timer). Stored on disk.
inline constexpr const char* kSystemActor = "system";

// Schema version of event payloads written by this build. Stored on disk.
inline constexpr int kEventSchemaVersion = 1;
// Longest note accepted, in bytes.
inline constexpr std::size_t kMaxNoteBytes = 16 * 1024;

// Who acts: the person, the role they act in, and their org at the time. Acting on another's behalf
// (Event::on_behalf_of), the role and org are the delegator's.
struct Actor {
  UserId user;
  Role role = Role::kClerk;
  OrgId org;
};

// A document attached to a dossier: metadata and checksum only.
struct DocumentRef {
  DocKindId kind;
  std::string filename;
  std::string sha256;  // lowercase hex
  std::int64_t size = 0;
  friend bool operator==(const DocumentRef&, const DocumentRef&) = default;
};

struct FieldChange {
  FieldId field;
  Value value;
  friend bool operator==(const FieldChange&, const FieldChange&) = default;
};

enum class Ballot : std::uint8_t { kNone, kYes, kNo, kAbstain };
const char* ballot_name(Ballot b);
std::optional<Ballot> parse_ballot(std::string_view s);

struct VoteTally {
  std::vector<UserId> electorate;  // members entitled to vote, fixed when the vote opened
  std::vector<UserId> voted;
  int yes = 0, no = 0, abstain = 0;
  friend bool operator==(const VoteTally&, const VoteTally&) = default;
};

// A timer of a dossier that has not fired yet. Deadline clocks use two: the limit itself (named after
// the timer) and its reminder ("<name>.remind").
struct PendingTimer {
  std::string name;
  Timestamp due;
  friend bool operator==(const PendingTimer&, const PendingTimer&) = default;
};

// The legal clock of one level: its processing time limit in working days, counted from the day after
// receipt of the complete dossier (Bộ luật Dân sự 2015, Điều 147–148), stopped while the dossier is
// returned for supplementation.
struct LegalClock {
  std::string timer;       // the workflow timer that runs it
  OrgKind level = OrgKind::kUnit;  // the kind of org whose time it is
  std::string rule;        // the deadline rule applied (config id)
  int working_days = 0;    // the period
  int remind_before = 0;   // working days before the due date the holder is reminded
  Date due;                // last day of the period, while running
  int remaining = 0;       // working days left when it was paused
  bool running = false;    // false: paused
  bool overdue = false;    // the limit passed while this level held the dossier
  friend bool operator==(const LegalClock&, const LegalClock&) = default;
};

// One recorded fact. Events are the source of truth; the projection is a fold over them.
struct Event {
  EventType type = EventType::kDossierCreated;
  std::int64_t seq = 0;  // 1-based, per dossier
  Timestamp at;
  Actor actor;
  // The user the actor stood in for (a delegation); invalid when they acted for themself.
  UserId on_behalf_of;
  ActionId action;   // invalid for DossierCreated
  StateId from, to;  // from is invalid for DossierCreated
  OrgId holder;      // holder after the event
  std::string note;
  std::vector<FieldChange> changes;
  std::vector<DocumentRef> documents;
  // DossierCreated only
  AwardId award;
  OrgId origin;
  // Votes: the ballot of a VoteCast; the electorate when the event enters a vote state.
  Ballot ballot = Ballot::kNone;
  std::vector<UserId> electorate;
  // Effects requested by the transition, recorded for the audit trail.
  std::vector<Effect> effects;
  // Set when the event changes them: the dossier's pending timers and legal clocks afterwards, computed
  // once (with the calendar of the day) and recorded, so replay never recomputes a due date.
  std::optional<std::vector<PendingTimer>> timers;
  std::optional<std::vector<LegalClock>> clocks;
  // TimerFired: which timer, and whether it fired later than due (the process was down).
  std::string timer;
  bool late = false;
  // Who the event tells (resolved from its notify effects): notice n of this event is notices[n].
  struct Notice {
    std::string to, template_key;
    friend bool operator==(const Notice&, const Notice&) = default;
  };
  std::vector<Notice> notices;
  // NotificationDelivered / Failed / DeadLettered: which notice ("<gseq>.<n>"), by which channel, to which
  // org, which text; for a failure, which attempt (from 1), why, and when the next attempt is due (none for
  // a dead letter).
  struct Delivery {
    std::string notification, channel, to, template_key;
    std::int64_t attempt = 0;  // 0: not recorded (a delivery at the first attempt, or written before retries)
    std::string error;
    std::string retry_at;  // UTC text, "" when none
    // Delivered: the recipients the receiver refused for good, each with its reply ("; " between them), when
    // the others got it ("" when none): the history says who was not told.
    std::string left_out;
    friend bool operator==(const Delivery&, const Delivery&) = default;
  };
  std::optional<Delivery> delivery;
  // Filled by the codec: the digest of the projection this event produced (projection_digest), and for
  // DossierCreated the hash of the definition the dossier is pinned to.
  std::string state_digest;
  std::string definition_hash;
};

// The current state of one dossier (the projection).
struct DossierState {
  DossierId id = 0;
  std::string definition_hash;
  AwardId award;
  OrgId origin;
  StateId state;
  OrgId holder;
  OrgId previous_holder;
  bool closed = false;
  std::int64_t version = 0;   // = number of events
  std::vector<Value> fields;  // indexed by FieldId
  std::vector<DocumentRef> documents;
  VoteTally vote;
  UserId created_by;
  Timestamp created_at, updated_at;
  std::optional<Timestamp> submitted_at;  // the first DossierSubmitted; eligibility is judged as of its day
  std::vector<PendingTimer> timers;
  std::vector<LegalClock> clocks;  // at most one running
  friend bool operator==(const DossierState&, const DossierState&) = default;
};

// A request to create a dossier.
struct CreateCommand {
  UserId on_behalf_of;  // valid: the user acts for this one, as their delegate
  AwardId award;
  std::vector<FieldChange> fields;
  std::vector<DocumentRef> documents;
  std::string note;
};

// A request to take an action on a dossier.
struct ActCommand {
  UserId on_behalf_of;  // valid: the user acts for this one, as their delegate
  ActionId action;
  std::vector<FieldChange> fields;
  std::vector<DocumentRef> documents;
  std::string note;
  Ballot ballot = Ballot::kNone;
  std::optional<std::int64_t> expected_version;
};

// What the core decided: events to append (and the effects they carry).
struct Decision {
  std::vector<Event> events;
};

// Why the core refused; `reason` is stable and machine-readable, `subject` names the clause,
// document, field or state concerned. The Error message is Vietnamese for the clerk.
struct Refusal {
  Error error;
  // not_permitted | not_a_delegate | delegation_expired | delegation_not_started | vote_not_delegable |
  // guard_failed | document_missing | field_missing | no_such_action | dossier_closed | version_conflict |
  // invalid_input | award_not_in_force | ...
  std::string reason;
  std::string subject;
};

}  // namespace hoso
