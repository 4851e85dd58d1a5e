#include "adapters/notify/dispatcher.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace hoso {

bool is_permanent_failure(const Error& e) {
  return e.code == ErrorCode::kInvalidInput || e.reason == "smtp_permanent" || e.reason == "smtp_input" ||
         e.reason == "webhook_permanent";
}

std::chrono::milliseconds next_round_wait(const DispatchRound& round, bool commands_waited,
                                          std::chrono::steady_clock::duration recording, int yield,
                                          Timestamp now, std::chrono::milliseconds idle) {
  using std::chrono::milliseconds;
  if (round.more) {
    if (!commands_waited) return milliseconds(0);
    return std::min(idle, std::chrono::ceil<milliseconds>(yield * recording));
  }
  if (!round.waiting_until) return idle;
  return std::clamp(milliseconds(round.waiting_until->millis - now.millis), milliseconds(10), idle);
}

Result<DispatchRound> NoticeDispatcher::run(int max_notices, const std::function<void(const std::string&)>& log) {
  DispatchRound round;
  int handled = 0;
  while (handled < max_notices && !stop_requested()) {
    const Timestamp now = clock_.now();
    auto known = [&](NoticeKey key) {
      if (settled_ahead_.contains(key)) return true;
      if (auto h = held_.find(key); h != held_.end() && now < h->second.retry_at) return true;
      auto w = waiting_.find(key);
      return w != waiting_.end() && now < w->second;
    };
    NoticeKey read_at{0, -1};  // the cursor the batch follows
    std::vector<HeldNotice> held;
    auto batch =
        service_.pending_notifications(std::min(100, max_notices - handled), templates_, known, &read_at, &held);
    if (!batch) {
      forget();
      return batch.error();
    }
    hold(std::move(held), round, log);
    // What another process (hoso notify deliver, an operator) settled meanwhile is behind the cursor now.
    prune(read_at);
    if (batch->empty()) break;
    if (barrier_)
      if (Status durable = barrier_(); !durable) return durable.error();
    // Send a batch, then record its attempts in one transaction (one flush for them all). A crash or a failed
    // commit in between sends them again later: delivery is at least once.
    std::vector<Attempt> attempts;
    std::set<NoticeKey> settled = settled_ahead_;
    std::map<NoticeKey, Timestamp> waiting;
    for (const Notification& n : *batch) {
      // Told to stop: no more is sent, and what was sent is recorded below (it is not sent again later).
      if (stop_requested()) break;
      const NoticeKey key{n.gseq, n.n};
      held_.erase(key);  // rendered again: its dossier passes its check now
      const Sent sent = send(n, round, log, attempts);
      if (sent.settled)
        settled.insert(key);
      else if (sent.wait_until)
        waiting[key] = *sent.wait_until;
      ++handled;
    }
    for (const auto& ch : channels_)
      if (ch.flush)
        if (Status flushed = ch.flush(); !flushed) return flushed.error();
    // The cursor follows each notice settled in turn; those settled ahead of one that waits (or settled by an
    // earlier run, as the history shows) are passed over once it settles, checked against the history then.
    // The move is a command of its own in the group: when the history disagrees with it (edited by hand), it
    // alone is undone and reported, and the attempts (sent already) stay recorded, so nothing goes out twice.
    // An attempt whose record the history refuses (the dossier edited behind the log's back since its notice
    // was rendered, another process recording the same attempt) is undone alone, as a refused command in a
    // group is: the others stay recorded, and its notice is held (tried again after a growing wait) instead of
    // the whole batch going out again. A storage failure still fails the round (nothing of it is kept).
    NoticeKey cursor = read_at;
    std::optional<Error> not_moved;
    std::vector<HeldNotice> unrecorded;
    const Write write = [&](CommandService& service) {
      not_moved.reset();
      unrecorded.clear();
      return service.group([&] {
        for (const auto& a : attempts)
          if (Status st = service.record_attempt(*a.notice, a.attempt); !st) {
            if (st.error().code == ErrorCode::kInternal) return st;
            const NoticeKey key{a.notice->gseq, a.notice->n};
            settled.erase(key);
            if (std::none_of(unrecorded.begin(), unrecorded.end(), [&](const HeldNotice& h) { return h.key == key; }))
              unrecorded.push_back(HeldNotice{key, a.notice->dossier, st.error(), true});
          }
        if (settled.empty()) return Status::Ok();
        auto moved = service.advance_dispatch_cursor(settled);
        if (moved)
          cursor = *moved;
        else
          not_moved = moved.error();
        return Status::Ok();
      });
    };
    Status recorded = recorder_ ? recorder_(write) : write(service_);
    if (!recorded) {
      forget();
      return recorded.error();
    }
    // What is known of the notices after the cursor for the next batches and runs.
    for (const auto& [key, at] : waiting) waiting_[key] = at;
    for (const NoticeKey& key : settled) waiting_.erase(key);
    for (const HeldNotice& h : unrecorded) waiting_.erase(h.key);
    if (!unrecorded.empty()) hold(std::move(unrecorded), round, log);
    settled_ahead_ = std::move(settled);
    prune(cursor);
    if (not_moved) {
      forget();
      return *not_moved;
    }
  }
  for (const auto& [key, at] : waiting_)
    round.waiting_until = round.waiting_until ? std::min(*round.waiting_until, at) : at;
  for (const auto& [key, h] : held_)
    round.waiting_until = round.waiting_until ? std::min(*round.waiting_until, h.retry_at) : h.retry_at;
  round.more = handled >= max_notices;
  return round;
}

void NoticeDispatcher::hold(std::vector<HeldNotice> held, DispatchRound& round,
                            const std::function<void(const std::string&)>& log) {
  const Timestamp now = clock_.now();
  for (HeldNotice& h : held) {
    Held& at = held_[h.key];
    const std::int64_t wait = at.next_wait_ms > 0 ? at.next_wait_ms : kFirstHoldMs;
    at.retry_at = Timestamp{now.millis + wait};
    at.next_wait_ms = std::min(wait * 2, kLongestHoldMs);
    if (log)
      log(fmt::format("notify: notice {}.{} of dossier {} held, {} (trying again in {} ms): {}", h.key.gseq, h.key.n,
                      h.dossier, h.sent ? "sent but its delivery not recorded" : "not sent", wait, h.why.message));
    round.held.push_back(std::move(h));
  }
}

NoticeDispatcher::Sent NoticeDispatcher::send(const Notification& n, DispatchRound& round,
                                              const std::function<void(const std::string&)>& log,
                                              std::vector<Attempt>& attempts) {
  Sent out;
  std::vector<const DeliveryChannel*> open;
  for (const auto& ch : channels_) {
    auto p = n.progress.find(ch.name);
    if (p == n.progress.end() || !p->second.settled) open.push_back(&ch);
  }
  // Every channel settled it already (the history says so: an earlier run settled it ahead of a notice that
  // waited, or the cursor was moved back): nothing to send, the cursor may pass it.
  std::size_t unsettled = open.size();
  for (const DeliveryChannel* ch : open) {
    const auto p = n.progress.find(ch->name);
    const ChannelProgress progress = p == n.progress.end() ? ChannelProgress{} : p->second;
    const Timestamp now = clock_.now();
    if (progress.retry_at && now < *progress.retry_at) {
      out.wait_until = out.wait_until ? std::min(*out.wait_until, *progress.retry_at) : *progress.retry_at;
      continue;
    }
    DeliveryAttempt a;
    a.channel = ch->name;
    a.attempt = progress.failures + 1;
    DeliveryReceipt receipt;
    Status sent = ch->deliver(n, now, receipt);
    if (sent) {
      a.outcome = DeliveryOutcome::kDelivered;
      a.left_out = fmt::format("{}", fmt::join(receipt.left_out, "; "));
      if (log && !a.left_out.empty())
        log(fmt::format("notify {} {} attempt {}: delivered, but left out: {}", ch->name, n.id(), a.attempt,
                        a.left_out));
    } else {
      const Error& e = sent.error();
      a.error = e.reason.empty() ? e.message : fmt::format("{} ({})", e.message, e.reason);
      if (is_permanent_failure(e) || a.attempt >= retry_.max_attempts) {
        a.outcome = DeliveryOutcome::kDeadLettered;
      } else {
        a.outcome = DeliveryOutcome::kFailed;
        a.retry_at = Timestamp{now.millis + retry_.backoff(a.attempt).count()};
      }
      if (log)
        log(fmt::format("notify {} {} attempt {}: {}{}", ch->name, n.id(), a.attempt, a.error,
                        a.outcome == DeliveryOutcome::kDeadLettered ? " -> dead letter"
                                                                    : fmt::format(" -> retry at {}", format_utc(*a.retry_at))));
    }
    const bool settling = a.outcome != DeliveryOutcome::kFailed;
    a.settles = settling && unsettled == 1;
    if (a.outcome == DeliveryOutcome::kDelivered) ++round.delivered;
    if (a.outcome == DeliveryOutcome::kFailed) {
      ++round.failed;
      out.wait_until = out.wait_until ? std::min(*out.wait_until, *a.retry_at) : *a.retry_at;
    }
    if (a.outcome == DeliveryOutcome::kDeadLettered) ++round.dead_lettered;
    if (settling) --unsettled;
    attempts.push_back(Attempt{&n, std::move(a)});
  }
  out.settled = unsettled == 0;
  if (out.settled) out.wait_until.reset();
  return out;
}

}  // namespace hoso
