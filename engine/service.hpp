// The command service: turns raw requests (strings, from the CLI or HTTP) into core commands, runs the
// pure core, and appends the outcome through the Store in one transaction. Also the read side:
// show, inbox, history, replay and the audit of the hash chain. Knows only interfaces.
#pragma once
#include <algorithm>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/calendar.hpp"
#include "engine/codec.hpp"
#include "engine/core.hpp"
#include "engine/records.hpp"
#include "engine/store.hpp"
#include "engine/templates.hpp"

namespace hoso {

// Where compiled definitions come from (by content hash, or the current one of a workflow name).
class DefinitionRegistry {
 public:
  virtual ~DefinitionRegistry() = default;
  virtual Result<std::shared_ptr<const Definition>> by_hash(const std::string& hash) = 0;
  virtual Result<std::shared_ptr<const Definition>> current(const std::string& workflow) = 0;
};

// A document as the edge sees it: kind key and the file's metadata.
struct RawDocument {
  std::string kind, filename, sha256;
  std::int64_t size = 0;
};

// A request before it is typed against a definition.
struct RawInput {
  std::vector<std::pair<std::string, std::string>> fields;  // key, text value
  std::vector<RawDocument> documents;
  std::string note;
  std::string ballot;  // "", yes, no, abstain
  std::optional<std::int64_t> expected_version;
  std::string on_behalf_of;  // "" or the key of the user the caller acts for, as their delegate
};

struct Outcome {
  DossierId id = 0;
  std::int64_t version = 0;
  std::string state;
  std::vector<EventRecord> events;  // as appended, with hashes
};

// A dossier as read, decoded against its pinned definition.
struct DossierView {
  std::shared_ptr<const Definition> definition;
  DossierState state;
  DossierRecord record;
  bool overdue = false;  // the running legal clock's limit has passed (see LegalClock)
};

// What a listing asks for: every filter optional; pages from 1.
struct DossierQuery {
  std::vector<std::string> workflows;  // empty: every workflow
  std::optional<std::string> state, holder, award;
  std::optional<std::string> text;     // in the fields' text, or the dossier's number
  std::optional<bool> overdue;
  std::optional<OrgId> within;         // origin or holder inside this org's subtree
  std::int64_t page = 1, per_page = 20;
};
struct DossierPage {
  std::int64_t total = 0;          // the dossiers that match, on every page
  std::vector<DossierView> items;  // this page's, in id order
};

// A dossier the system opens for `origin` (see CommandService::open_all).
struct OpenRequest {
  std::string award, origin;
  RawInput input;
};

// What fire_due did.
struct FireReport {
  int fired = 0;
  // Rows their dossier does not list (timers cancelled or paused before they came due, or rows written
  // behind the engine's back): removed, never fired.
  std::vector<TimerRecord> dropped;
  // Due rows whose dossier could not be read or failed its head check (a projection forged behind the log's
  // back): left as they are, not fired, each with why; the timers due after them were still fired.
  std::vector<std::pair<TimerRecord, Error>> failed;
};

// What the history records of a notice on one channel (its NotificationDelivered / Failed / DeadLettered
// events).
struct ChannelProgress {
  bool settled = false;        // delivered or dead-lettered: never tried again on this channel
  bool dead_lettered = false;
  std::int64_t failures = 0;   // attempts that failed, the dead letter's included
  std::optional<Timestamp> retry_at;  // when the last failure said to try again
  std::string last_error;
};

// A notice an event recorded, rendered for delivery.
struct Notification {
  std::int64_t gseq = 0, n = 0;  // its key (NoticeKey): notice n of the event at gseq
  DossierId dossier = 0;
  std::int64_t event_seq = 0;
  std::string to_org, to_org_name, template_key, subject, body, created_at;
  // Of the active users of the target org who may act next on the dossier (else of its clerks).
  std::vector<std::string> emails;
  std::map<std::string, ChannelProgress> progress;  // by channel name: what became of earlier attempts
  std::string id() const { return std::to_string(gseq) + "." + std::to_string(n); }
};

// A notice passed over because it cannot be rendered for its dossier (kVerifyFailed: the dossier's projection
// fails its head check, or the notice is not in its dossier's chain): not sent, since its delivery could not
// be recorded in that dossier, and reported with why, so that it holds up no other notice.
struct HeldNotice {
  NoticeKey key;
  DossierId dossier = 0;
  Error why;
  bool sent = false;  // a dispatcher's: it went out, but its delivery could not be recorded
};

// One attempt at sending a notice by one channel, as the dispatcher reports it.
enum class DeliveryOutcome : std::uint8_t { kDelivered, kFailed, kDeadLettered };
struct DeliveryAttempt {
  std::string channel;
  DeliveryOutcome outcome = DeliveryOutcome::kDelivered;
  std::int64_t attempt = 1;  // from 1: the failures the history records for this channel, plus one
  std::string error;         // why it failed (failed, dead-lettered)
  std::optional<Timestamp> retry_at;  // failed: when the next attempt is due
  // With this record the notice is settled on every channel the dispatcher sends by (the dispatch cursor
  // moves to it if it is the next notice). Only a delivery or a dead letter settles.
  bool settles = true;
  std::string
      left_out;  // delivered: the recipients refused for good, with the receiver's replies ("" when none)
};

struct VerifyReport {
  bool ok = true;
  std::int64_t events = 0;
  std::int64_t dossiers = 0;
  std::string failure;           // first problem found, for people
  DossierId failed_dossier = 0;  // 0 when none
  std::int64_t failed_seq = 0;
};

// The org and user keys that the stored history names (actors, holders, origins, electorates, creators),
// each with the first dossier naming it. A directory that drops one of them would make that history
// unreadable, so loading config refuses it.
struct ReferencedKeys {
  std::map<std::string, DossierId> orgs, users;
};
Result<ReferencedKeys> referenced_directory_keys(Store& store);

class CommandService {
 public:
  CommandService(Store& store, Clock& clock, DefinitionRegistry& definitions, const Directory& directory)
      : store_(store), clock_(clock), defs_(definitions), dir_(directory) {}

  // Creates a dossier of `award` under the current definition of `workflow`, proposed by `user`.
  Result<Outcome> create(const std::string& workflow, const std::string& award, const std::string& user,
                         const RawInput& input);
  // Opens, in one transaction, a dossier under the current definition of `workflow` for each request, as
  // the system (report obligations): the creation's checks but the creator's role. Nothing is written
  // when one is refused (the error names its org).
  // A request for which `already_open(existing, request)` holds for an existing dossier of the workflow
  // (read inside the same write transaction, so two openers cannot both open it) is skipped: its outcome
  // is nullopt.
  Result<std::vector<std::optional<Outcome>>> open_all(
      const std::string& workflow, const std::vector<OpenRequest>& requests,
      const std::function<bool(const DossierView&, const OpenRequest&)>& already_open);
  // Takes `action` on dossier `id` as `user`.
  Result<Outcome> act(DossierId id, const std::string& action, const std::string& user,
                      const RawInput& input);

  // Reads one dossier; when `user` is given, refuses (kNotPermitted) if they may not read it.
  Result<DossierView> show(DossierId id, const std::optional<std::string>& user);
  // The dossiers waiting for `user`: held by their org, with an action their roles may take now. With
  // `on_behalf_of`, those waiting for that user, whose current delegate `user` must be (else the
  // refusal of check_delegation), leaving out those where only a ballot waits (a delegate casts none).
  Result<std::vector<DossierView>> inbox(const std::string& user, const std::string& on_behalf_of = "");
  // Every dossier of `workflow` (any definition version), in id order, each checked against its chain
  // head like `show`; an operator's view, for reports.
  // With `reader`, only those the reader may read (judged from the stored row first).
  Result<std::vector<DossierView>> dossiers_of(const std::string& workflow,
                                               std::optional<UserId> reader = std::nullopt);
  // The dossiers `user` may read that match `q`, one page of them, in one snapshot. Filters are judged on
  // the stored projections without decoding them; only the page's dossiers (and, with `overdue`, the
  // candidates) are decoded, each checked against its chain head like `show`.
  Result<DossierPage> find_dossiers(const DossierQuery& q, UserId user);
  // The events of a dossier, in order (read permission checked when `user` is given).
  Result<std::vector<EventRecord>> history(DossierId id, const std::optional<std::string>& user);
  // Rebuilds the dossier from its events under its pinned definition, checking the hash chain, and
  // compares with the stored projection.
  Result<VerifyReport> replay(DossierId id);
  // Replays every dossier in one pass over the log in append order.
  Result<VerifyReport> replay_all();
  // Recomputes every event hash and chain link, and checks each projection's last hash and version.
  Result<VerifyReport> audit_verify();

  // Fires, one transaction each, every pending timer due at or before `until`, earliest first, and
  // returns how many fired. With `virtual_clock` each firing is recorded at its due time (or the
  // dossier's last event, if later) and the stored virtual clock moves there in the same transaction;
  // otherwise at the clock's now, and a firing more than a minute after its due time is marked late.
  // A timer row the dossier does not list (cancelled or paused before its due time, or written behind
  // the engine's back) is removed and reported in `dropped`, never fired.
  Result<FireReport> fire_due(Timestamp until, bool virtual_clock);
  // The pending timers, earliest first, at most `limit`: the rows of the timers table their dossier
  // lists (not those of cancelled timers waiting to be dropped).
  Result<std::vector<TimerRecord>> pending_timers(std::size_t limit);

  // The next notices the log recorded after the dispatch cursor, in log order, at most `limit`, with their
  // texts rendered from `templates` and what their history records of earlier attempts, leaving out those
  // `skip` names (a dispatcher's notices settled ahead or waiting for a retry: they are not rendered again);
  // `cursor_out`, when given, gets the cursor they follow. Fails with kInvalidDefinition when a template is
  // missing, and with kVerifyFailed at a notice that cannot be rendered for its dossier (not in its dossier's
  // chain, or the dossier fails its head check), after returning those before it — unless `held` is given:
  // such a notice is then added to it and passed over, and the notices after it are returned.
  Result<std::vector<Notification>> pending_notifications(int limit,
                                                          const std::vector<NotificationTemplate>& templates,
                                                          const std::function<bool(NoticeKey)>& skip = {},
                                                          NoticeKey* cursor_out = nullptr,
                                                          std::vector<HeldNotice>* held = nullptr);
  // Records an attempt at sending `n` (a notice after the dispatch cursor) by one channel as a
  // NotificationDelivered, NotificationFailed or NotificationDeadLettered event by the system, and moves the
  // cursor to `n` when the attempt settles it and it is the next notice, in one transaction. Notices settle
  // independently: one waiting for a retry never holds up the notices after it. Fails (kVersionConflict) when
  // the cursor is already past `n` or the attempt number is not the next for its channel (someone else
  // recorded it), and (kVerifyFailed) when the history already settled `n` on that channel: a notice never
  // goes out twice.
  Status record_attempt(const Notification& n, const DeliveryAttempt& attempt);
  // Moves the dispatch cursor over the notices right after it that `settled` names (settled ahead of one that
  // waited, on every channel the dispatcher sends by), each checked against its dossier's history (a notice of
  // the chain, settled by a channel, as the audit requires), in one transaction; stops at the first one not
  // named. Returns where the cursor is. Fails (kVerifyFailed) when the history does not show a named notice
  // settled, moving nothing.
  Result<NoticeKey> advance_dispatch_cursor(const std::set<NoticeKey>& settled);
  // record_attempt of a delivery at the first attempt that settles `n`.
  Status record_delivered(const Notification& n, const std::string& channel);

  // Runs `work`, whose commands (create, act, …) become durable together: one transaction and one flush
  // for all of them (Store::group); each command still succeeds or fails on its own. When the group fails
  // to commit, none of its commands is kept and the error is returned: the callers must not report any of
  // them done.
  Status group(const std::function<Status()>& work);

  // How many parts replay --all splits the log into (the adapter knows the machine; default 1).
  void set_parallelism(unsigned parts) { parts_ = parts; }

  // The business calendar deadlines are counted with; without one, a deadline effect fails.
  void set_calendar(std::shared_ptr<const BusinessCalendar> calendar) { calendar_ = std::move(calendar); }
  // The directory it was given was replaced in place (App::refresh): the states it remembers name users and
  // orgs by their place in the old one, so they are forgotten.
  void directory_replaced() { forget_written(); }
  // How many dossiers' states it remembers at most (kRemembered unless set; at least 1); forgets them all.
  void set_remembered(std::size_t dossiers) {
    remembered_ = std::max<std::size_t>(dossiers, 1);
    forget_written();
  }

  const Directory& directory() const { return dir_; }

  // The state this service remembers writing for dossier `id` (what its next command starts from when the
  // stored projection is still the one written), if any: for the tests of that memory.
  std::optional<DossierState> remembered_state(DossierId id) const {
    auto known = written_.find(id);
    return known == written_.end() ? std::nullopt : std::optional<DossierState>(known->second.state);
  }

 private:
  Result<UserId> find_user(const std::string& key) const;
  // The user `key` names, or an invalid id for "" (a command nobody delegated); fails with kInvalidInput
  // (unknown_user, subject on_behalf_of) when the directory has no such user.
  Result<UserId> find_principal(const std::string& key) const;
  // `content`: the encoded fields and documents of `state`'s projection, when this service wrote it (an event
  // that changes neither reuses them).
  Result<Outcome> commit(WriteTx& tx, const Definition& def, DossierState& state,
                         std::int64_t expected_version, std::string last_hash, const Decision& decision,
                         EncodedContent content = {});

  // "Now" for a command: the clock, read once; refused (kRefused, clock_behind) when it is earlier than
  // the last event in the log, so the log's times never go backwards whatever the clock (or its stored
  // setting) says.
  Result<Timestamp> command_time(WriteTx& tx);
  // The first notice the log recorded after `after`, if any.
  Result<std::optional<NoticeKey>> next_notice(NoticeKey after);
  // Notice `key` of `logged` (the event at key.gseq), checked against its dossier's chain, with its texts.
  Result<Notification> render_notification(NoticeKey key, const EventRecord& logged,
                                           const std::vector<NotificationTemplate>& templates);
  // Remembers what the last successful command of this service wrote for a dossier.
  void remember();

  // The dossier of `record` decoded against its pinned definition (after checking its head against the
  // chain when `check_head`), with its overdue flag as of now.
  Result<DossierView> view_of(DossierRecord record, bool check_head);
  Result<CreateCommand> create_command(const Definition& d, const std::string& award, const RawInput& input);
  // Writes a decided creation as a new dossier (or returns the refusal).
  Result<Outcome> commit_created(WriteTx& tx, const Definition& d, const Decided& decided);
  // The dossier `id` as of its projection, checked against the chain unless this service wrote it.
  // A dossier as a command starts from: its chain head and its state.
  struct Current {
    std::int64_t version = 0;
    std::string last_hash;
    DossierState state;
    EncodedContent content;  // its projection's, when remembered (not known when decoded from the store)
  };
  // Dossier `id` for a command, nullopt when there is none: the state this service remembers writing when the
  // store vouches that its projection is still the stored one (nothing read); else the stored projection,
  // refused unless it matches the dossier's latest event, with the remembered state when it is the one
  // remembered, else decoded. A remembered state is taken out, not copied: remember() puts the command's back
  // once its write commits; after a refusal or a rollback the next command reads the stored projection.
  Result<std::optional<Current>> current(WriteTx& tx, DossierId id);
  // Fires `timer`, which `state` (of `record`) lists, and commits the TimerFired event.
  Status fire_listed(WriteTx& tx, const Current& record, const Definition& def, DossierState& state,
                     PendingTimer timer, bool virtual_clock);

  Store& store_;
  Clock& clock_;
  DefinitionRegistry& defs_;
  const Directory& dir_;
  std::shared_ptr<const BusinessCalendar> calendar_;
  unsigned parts_ = 1;

  // The state this service last wrote for each dossier, with the head of its chain then. A command on one of
  // them starts from it (see current()): without reading the projection when the store vouches it is still
  // the stored one, else after the head check without decoding it. Bounded: once full, the dossier written
  // longest ago is forgotten for each new one (~5 KiB each with the projection's encoded fields and
  // documents: up to ~160 MiB); not thread-safe (a
  // service serves one thread).
  static constexpr std::size_t kRemembered = 32768;
  std::size_t remembered_ = kRemembered;
  struct Written {
    std::string last_hash;
    DossierState state;
    std::list<DossierId>::iterator age;  // its place in written_order_
    EncodedContent content;              // the fields and documents of the projection written
  };
  std::unordered_map<DossierId, Written> written_;
  std::list<DossierId> written_order_;  // the dossiers of written_, most recently written first
  std::optional<Written> pending_;      // set by commit(), remembered once the write has committed
  // The remembered state at `known`, taken out of the memory (current()).
  Current take_written(std::unordered_map<DossierId, Written>::iterator known);
  void forget_written() {
    written_.clear();
    written_order_.clear();
    pending_.reset();
  }

  // What find_dossiers filters on, for every dossier, as of log position listed_through_ (-1: not read
  // yet): a listing reads the whole projection table once, and after that only the dossiers that events
  // appended since then belong to (a projection changes only with an event of its dossier). The page's
  // dossiers are read whole, and head-checked, as before. Whether a dossier is overdue also depends on the
  // time: what it depends on is kept (see is_overdue), or why that could not be read from the projection
  // (answered only to a listing by overdue, as reading the dossier itself would answer it).
  struct Listed {
    std::string workflow, state, holder, award, origin, fields;
    bool overdue_marked = false;            // an overdue state, or a running clock recorded overdue
    std::optional<Timestamp> overdue_from;  // else overdue from then on: its running clocks' earliest limit
    std::optional<Error> overdue_unknown;
  };
  Listed listed_of(const DossierRecord& r);
  std::map<DossierId, Listed> listed_;
  std::int64_t listed_through_ = -1;
  Status refresh_listing();
};

}  // namespace hoso
