// The notification dispatcher: sends the notices the log recorded (the outbox) in log order, each by every
// configured channel, and records every attempt in the dossier's history: NotificationDelivered, or
// NotificationFailed with the time of the next attempt (exponential backoff), or NotificationDeadLettered
// once the attempts run out or the failure is one that repeating cannot fix. What it has done so far is read
// back from the history, so a restarted process resumes where the last one stopped: a channel that delivered
// is not tried again, the attempt count and the backoff carry on.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/notify/retry_policy.hpp"
#include "engine/service.hpp"

namespace hoso {

// A way out for notices. `deliver` returns Ok once the receiver has taken the notice.
struct DeliveryChannel {
  std::string name;  // recorded in each notification event: "file", "email", "webhook"
  std::function<Status(const Notification&, Timestamp)> deliver;
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
  // The first notice not yet settled waits until then for its next attempt (nothing after it goes first).
  std::optional<Timestamp> waiting_until;
  bool more = false;  // it stopped at max_notices: more may be pending
};

class NoticeDispatcher {
 public:
  NoticeDispatcher(CommandService& service, Clock& clock, std::vector<DeliveryChannel> channels, RetryPolicy retry,
                   std::vector<NotificationTemplate> templates)
      : service_(service),
        clock_(clock),
        channels_(std::move(channels)),
        retry_(retry),
        templates_(std::move(templates)) {}

  // Sends pending notices in log order until one must wait for a retry, none is left, or `max_notices` were
  // settled; the attempts of each batch (up to 100 notices) are recorded together in one transaction. `log` gets one English line
  // per failed attempt. Fails on a storage or verification error (nothing more is sent then), e.g. a notice
  // every channel already settled while the cursor is before it (the cursor was moved back by hand).
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

 private:
  // An attempt made, to be recorded.
  struct Attempt {
    const Notification* notice;
    DeliveryAttempt attempt;
  };
  // Sends `n` by every channel that has not settled it, adding each attempt to `attempts`; true when all
  // have settled it.
  Result<bool> send(const Notification& n, DispatchRound& round, const std::function<void(const std::string&)>& log,
                    std::vector<Attempt>& attempts);

  CommandService& service_;
  Clock& clock_;
  std::vector<DeliveryChannel> channels_;
  RetryPolicy retry_;
  std::vector<NotificationTemplate> templates_;
  std::function<Status()> barrier_;
  std::function<Status(const Write&)> recorder_;
};

}  // namespace hoso
