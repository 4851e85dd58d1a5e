// The notification dispatcher: sends the notices the log recorded (the outbox), each by every configured
// channel, and records every attempt in the dossier's history: NotificationDelivered, or NotificationFailed
// with the time of the next attempt (exponential backoff), or NotificationDeadLettered once the attempts run
// out or the failure is one that repeating cannot fix. Notices go out in log order and settle independently:
// one waiting for a retry holds up neither the notices after it nor the other channels (a send under way
// does: notices and channels are sent one after another on the dispatcher's thread, so a receiver that takes
// connections and never answers costs each notice that channel's timeout). Nor does one that
// cannot be rendered for its dossier (a projection edited behind the log's back fails its head check, so its
// delivery could not be recorded): it is held — not sent, logged, tried again after a wait that doubles from
// a second to five minutes — and the cursor waits before it until its dossier is repaired. The dispatch
// cursor marks the notices that have all gone out; what the dispatcher has done after it is read back from
// the history, so a restarted process resumes where the last one stopped: a channel that delivered is not
// tried again, the attempt count and the backoff carry on.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/notify/retry_policy.hpp"
#include "engine/service.hpp"

namespace hoso {

// What a channel tells of a notice its receiver took, for the history.
struct DeliveryReceipt {
  // The recipients the receiver refused for good while the others got the notice (an email address the mail
  // server does not know), each with its reply: recorded in the NotificationDelivered event.
  std::vector<std::string> left_out;
};

// A way out for notices. `deliver` returns Ok once the receiver has taken the notice (and may fill the
// receipt then).
struct DeliveryChannel {
  std::string name;  // recorded in each notification event: "file", "email", "webhook"
  std::function<Status(const Notification&, Timestamp, DeliveryReceipt&)> deliver;
  // When set: called after a batch's sends, before any is recorded; a delivery counts only once it returns
  // Ok (e.g. the file channel syncs its lines here). When it fails, nothing of the batch is recorded and the
  // round fails: the notices go out again later (at least once).
  std::function<Status()> flush = {};
};

// True when a delivery failure says repeating it will not help (a 5xx SMTP reply, no address, a webhook's
// non-retryable answer, a bad setting): the notice is dead-lettered at once.
bool is_permanent_failure(const Error& e);

struct DispatchRound {
  int delivered = 0, failed = 0, dead_lettered = 0;
  // The earliest time a notice waits until for its next attempt (none when no notice is waiting).
  std::optional<Timestamp> waiting_until;
  bool more = false;  // it stopped at max_notices: more may be pending
  // Notices held this round, each with why: not sent (their dossier cannot be trusted), or sent but their
  // delivery could not be recorded (HeldNotice::sent; recorded when they are sent again).
  std::vector<HeldNotice> held;
};

// How long a dispatcher that records through a busy writer (the server's engine) waits before its next
// round, after a round that succeeded. With a backlog (`round.more`) it goes on at once unless clerks'
// commands arrived while its records held the writer (`commands_waited`): then it leaves the writer to them
// for `yield` times the time its records took (`recording`), so that recording never takes more than
// 1/(yield+1) of the writer while clerks are at work. Without a backlog it waits until the earliest retry
// is due (at least 10 ms), or `idle` when none is.
std::chrono::milliseconds next_round_wait(const DispatchRound& round, bool commands_waited,
                                          std::chrono::steady_clock::duration recording, int yield,
                                          Timestamp now, std::chrono::milliseconds idle);

class NoticeDispatcher {
 public:
  NoticeDispatcher(CommandService& service, Clock& clock, std::vector<DeliveryChannel> channels, RetryPolicy retry,
                   std::vector<NotificationTemplate> templates)
      : service_(service),
        clock_(clock),
        channels_(std::move(channels)),
        retry_(retry),
        templates_(std::move(templates)) {}

  // Sends the pending notices that are due, in log order, until none is left or `max_notices` were handled
  // (sent, or found settled by the history); a notice whose retry is not yet due is passed over, not waited
  // for. The attempts of each batch (up to 100 notices) are recorded together in one transaction, and the
  // cursor moves over every notice that has settled. `log` gets one English line per failed attempt. Fails on
  // a storage or verification error (nothing more is sent then); the next run starts again from the history.
  Result<DispatchRound> run(int max_notices, const std::function<void(const std::string&)>& log = {});
  // Called with the notices of a batch read and before any of them is sent: when the log's writer defers its
  // flushes (the server), this makes them durable first, so no notice goes out for a command a power cut
  // could still undo.
  void set_durability_barrier(std::function<Status()> barrier) { barrier_ = std::move(barrier); }
  // Where a batch's attempts are written: by default through this dispatcher's own service; a server hands
  // them to the one thread that writes (recorder runs `write` with that thread's service and returns what it
  // returned), so the dispatcher never competes for the database's write lock.
  using Write = std::function<Status(CommandService&)>;
  void set_recorder(std::function<Status(const Write&)> recorder) { recorder_ = std::move(recorder); }
  // Asked between notices: once it returns true, run() sends nothing more, records the attempts already made
  // and returns (a server stopping waits for one delivery at most, and nothing sent goes out again).
  void set_stop(std::function<bool()> stop) { stop_ = std::move(stop); }
  // The texts of the notices from the next run on (`hoso init` stored new ones).
  void set_templates(std::vector<NotificationTemplate> templates) { templates_ = std::move(templates); }

 private:
  // An attempt made, to be recorded.
  struct Attempt {
    const Notification* notice;
    DeliveryAttempt attempt;
  };
  // What became of a notice after a send: settled on every channel, or when its next attempt is due.
  struct Sent {
    bool settled = false;
    std::optional<Timestamp> wait_until;
  };
  // Sends `n` by every channel that has not settled it and whose retry is due, adding each attempt to
  // `attempts`.
  Sent send(const Notification& n, DispatchRound& round, const std::function<void(const std::string&)>& log,
            std::vector<Attempt>& attempts);
  // Forgets what it knew of the notices after the cursor (after a failure: the history tells again). Held
  // notices stay held: the history says nothing of them, and their wait keeps growing.
  void forget() {
    settled_ahead_.clear();
    waiting_.clear();
  }
  // Forgets what it knew of the notices up to `cursor` (they have all gone out).
  void prune(NoticeKey cursor) {
    std::erase_if(settled_ahead_, [&](const NoticeKey& k) { return k <= cursor; });
    std::erase_if(waiting_, [&](const auto& w) { return w.first <= cursor; });
    std::erase_if(held_, [&](const auto& h) { return h.first <= cursor; });
  }
  // Holds the notices `pending_notifications` passed over until their next try, and logs each.
  void hold(std::vector<HeldNotice> held, DispatchRound& round, const std::function<void(const std::string&)>& log);

  CommandService& service_;
  Clock& clock_;
  std::vector<DeliveryChannel> channels_;
  RetryPolicy retry_;
  std::vector<NotificationTemplate> templates_;
  std::function<Status()> barrier_;
  std::function<Status(const Write&)> recorder_;
  std::function<bool()> stop_;
  bool stop_requested() const { return stop_ && stop_(); }
  // Between runs, of the notices after the cursor (as recorded): those settled ahead of one still waiting, and
  // those waiting for a retry, with when it is due. Neither is read from the history again until then.
  std::set<NoticeKey> settled_ahead_;
  std::map<NoticeKey, Timestamp> waiting_;
  // Notices held (their dossier fails its check), with when to render them again and the wait after that.
  struct Held {
    Timestamp retry_at;
    std::int64_t next_wait_ms = 0;
  };
  static constexpr std::int64_t kFirstHoldMs = 1000, kLongestHoldMs = 300000;
  std::map<NoticeKey, Held> held_;
};

}  // namespace hoso
