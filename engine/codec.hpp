// Converts between the engine's typed structs and the persisted records (names instead of ids,
// JSON payloads). Pure.
#pragma once
#include <functional>
#include <string_view>

#include "engine/definition.hpp"
#include "engine/directory.hpp"
#include "engine/dossier.hpp"
#include "engine/records.hpp"
#include "engine/result.hpp"

namespace hoso {

// The record of `e` for dossier `id`, carrying the digest of the projection it produced (hash and prev_hash
// left empty: the chain is the caller's job). DossierCreated also records def.hash().
EventRecord encode_event(const Definition& def, const Directory& dir, DossierId id, const Event& e,
                         const std::string& state_digest);
// The projection digest an event record carries ("" when it has none or the payload is malformed).
std::string recorded_state_digest(const EventRecord& r);
std::string recorded_state_digest(std::string_view payload);
// The digest read directly from the tail where encode_event writes it, without parsing; "" when the payload
// is not in that shape (then use recorded_state_digest).
std::string_view recorded_state_digest_fast(std::string_view payload);
// The event a record stands for; fails with kVerifyFailed when it names something the definition or
// the directory does not know.
Result<Event> decode_event(const Definition& def, const Directory& dir, const EventRecord& r);
// The same into `out`, reusing its capacity. With `fold_only`, a payload that holds nothing apply_event
// reads (no award, origin, changes, documents, ballot, electorate or definition) is not parsed at all, and
// out.notices, out.effects and out.state_digest stay empty (a parsed payload's notices and effects are checked
// all the same).
Status decode_event_into(const Definition& def, const Directory& dir, const EventRecord& r, Event& out,
                         bool fold_only = false);
// True when decode_event_into reads `payload` without the JSON parser (every payload encode_event writes is;
// any other JSON is parsed, with the same result). For tests.
bool payload_reads_directly(const Definition& def, const Directory& dir, std::string_view payload);

// A projection's fields and documents as encode_dossier writes them (JSON texts), kept by whoever wrote it:
// the next projection of the same dossier whose fields and documents did not change takes them as they are
// instead of encoding them again (most actions change neither). Empty when not known.
struct EncodedContent {
  std::string fields, documents;
  bool known() const { return !fields.empty() && !documents.empty(); }
};

// The projection record of `s`. With `same` (known), the caller vouches that s's fields and documents are the
// ones `same` encodes: its texts are taken instead of encoding them again.
DossierRecord encode_dossier(const Definition& def, const Directory& dir, const DossierState& s,
                             const std::string& last_hash, const EncodedContent* same = nullptr);
// The state a projection record stands for.
// The timers a JSON object lists under "timers" (a projection's `timing`, or an event's payload), as rows
// of `id`; empty when it lists none. Fails on a "timers" that is not a list of {name, due}.
Result<std::vector<TimerRecord>> listed_timer_rows(DossierId id, std::string_view json);
// The same timers passed to `fn` in order, as (name, due time).
Status visit_listed_timers(std::string_view json, const std::function<void(std::string_view name, Timestamp due)>& fn);
// The notices an event's payload records under "notices" (notice n of the event is NoticeKey{gseq, n}), passed
// to `fn` in order, or collected; none when it has none. Fails on a "notices" that is not a list of
// {to, template} strings.
Status visit_listed_notices(std::string_view payload,
                            const std::function<void(std::string_view to, std::string_view template_key)>& fn);
Result<std::vector<Event::Notice>> listed_notices(std::string_view payload);
// What a notification event's payload (NotificationDelivered / Failed / DeadLettered) says of its notice:
// which one (delivery.notification, "<gseq>.<n>"), by which channel, at which attempt, why it failed and when
// the next attempt is due. nullopt when it names no notice in that form or no channel.
struct NoticeOutcome {
  NoticeKey key;
  std::string channel;
  std::int64_t attempt = 0;
  std::string error, retry_at;
};
std::optional<NoticeOutcome> notice_outcome(std::string_view payload);
// "<gseq>.<n>" (Notification::id()) read back; nullopt when it is not two integers around a dot.
std::optional<NoticeKey> parse_notice_key(std::string_view text);

Result<DossierState> decode_dossier(const Definition& def, const Directory& dir, const DossierRecord& r);
// The legal clocks a projection's `timing` records (none when it is empty), read without the rest of the
// projection. Fails, as decode_dossier does, on a timing that is not {timers, clocks} or on a malformed
// clock.
Result<std::vector<LegalClock>> timing_clocks(std::string_view timing);

}  // namespace hoso
