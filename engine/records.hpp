// Persisted forms. The store sees only these (strings and numbers), never definitions or ids,
// so a store needs no knowledge of workflows and can be implemented on SQLite or PostgreSQL alike.
// Every field here is stored on disk: never change a meaning.
#pragma once
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/ids.hpp"

namespace hoso {

// One row of the append-only event log.
struct EventRecord {
  DossierId dossier = 0;
  std::int64_t seq = 0;
  std::string type;  // EventType name
  std::string at;    // UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ"
  std::string actor_user, actor_role, actor_org;
  std::string action, from_state, to_state, holder;
  std::string note;
  std::string payload;  // canonical JSON: changes, documents, ballot, electorate, effects, award, origin
  int schema_version = 1;
  std::string prev_hash;  // hash of the dossier's previous event; "" for the first
  std::string hash;       // sha256 hex over canonical_event_bytes(*this)
  friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

// The projection of one dossier's current state (one row, updated with every event).
struct DossierRecord {
  DossierId id = 0;
  std::string workflow, definition_hash, award, origin, state, holder, previous_holder;
  bool closed = false;
  std::int64_t version = 0;
  std::string fields;     // JSON object, field key → canonical text value
  std::string documents;  // JSON array
  std::string vote;       // JSON object
  std::string created_by, created_at, updated_at;
  std::string last_hash;     // hash of the latest event
  std::string submitted_at;  // first submission, UTC; "" before it (eligibility is judged as of that day)
  std::string timing;        // JSON {"timers": [...], "clocks": [...]}; "" when the dossier has neither
  friend bool operator==(const DossierRecord&, const DossierRecord&) = default;
};

// An event with its place in the log.
struct LoggedEvent {
  std::int64_t gseq = 0;
  EventRecord record;
};

// An event's payload with its place in the log: what the outbox is scanned by (the notices an event lists are
// in its payload), without reading the rest of each event.
struct LoggedPayload {
  std::int64_t gseq = 0;
  std::string payload;
};

// A notice's place in the log: notice n (from 0) of the event at gseq. The log is the outbox: the notices an
// event records are delivered in log order, and the dispatch cursor is the key of the last one gone out
// ({0, -1} before the first).
struct NoticeKey {
  std::int64_t gseq = 0, n = -1;
  friend auto operator<=>(const NoticeKey&, const NoticeKey&) = default;
};

// A workflow definition pinned by the hash of its sources.
struct DefinitionRecord {
  std::string hash, name, workflow_file, workflow_source, catalogue_file, catalogue_source, loaded_at;
};

// One config file as loaded: its path (for messages) and its text.
struct SourceFile {
  std::string file, text;
  friend bool operator==(const SourceFile&, const SourceFile&) = default;
};

// A set of config files stored in the database under a name, by content hash: "calendar" (the rules
// first, then the yearly announcements), "templates" (the notification texts), "reports" (the report plan).
struct ConfigSources {
  std::string name, hash;
  std::vector<SourceFile> files;
  std::string loaded_at;
};

// Where a database's "now" comes from: the system clock, or a virtual clock stored in the database
// (a simulation) with its current time (UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ").
struct ClockRecord {
  std::string kind = "system";  // system | virtual
  std::string at;               // virtual only
  friend bool operator==(const ClockRecord&, const ClockRecord&) = default;
};

// An API bearer token, kept only as the SHA-256 of its text. A revoked one stays (so its use is told
// apart from an unknown one).
struct TokenRecord {
  std::string hash;        // SHA-256 hex of the token
  std::string user;        // user key
  std::string created_at;  // UTC
  std::string revoked_at;  // UTC; "" while valid
  std::string expires_at;  // UTC: refused from then on; "" when it never expires
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

// A pending timer: when it is due (UTC, sortable text), whose, and which.
struct TimerRecord {
  std::string due_at;
  DossierId dossier = 0;
  std::string name;
  friend bool operator==(const TimerRecord&, const TimerRecord&) = default;
};

// Directory rows (the current org tree and users).
struct OrgRecord {
  std::string key, name, kind, parent;
  friend bool operator==(const OrgRecord&, const OrgRecord&) = default;
};
// Who may act for a user while they are away: the delegate's user key, the first and last day
// ("YYYY-MM-DD", Vietnam dates, both included) and why.
struct DelegationRecord {
  std::string user, from, until, reason;
  friend bool operator==(const DelegationRecord&, const DelegationRecord&) = default;
};
struct UserRecord {
  std::string key, name, email, org;
  std::vector<std::string> roles;
  bool active = true;
  std::vector<DelegationRecord> delegates{};  // who may act for this user, and when
  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

}  // namespace hoso
