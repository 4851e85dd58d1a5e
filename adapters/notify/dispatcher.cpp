#include "adapters/notify/dispatcher.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace hoso {

bool is_permanent_failure(const Error& e) {
  return e.code == ErrorCode::kInvalidInput || e.reason == "smtp_permanent" || e.reason == "smtp_input" ||
         e.reason == "webhook_permanent";
}

Result<DispatchRound> NoticeDispatcher::run(int max_notices, const std::function<void(const std::string&)>& log) {
  DispatchRound round;
  int settled = 0;
  while (settled < max_notices) {
    auto batch = service_.pending_notifications(std::min(100, max_notices - settled), templates_);
    if (!batch) return batch.error();
    if (batch->empty()) break;
    if (barrier_)
      if (Status durable = barrier_(); !durable) return durable.error();
    // Send a batch, then record its attempts in one transaction (one flush for them all). A crash or a failed
    // commit in between sends them again later: delivery is at least once.
    std::vector<Attempt> attempts;
    bool waiting = false;
    for (const Notification& n : *batch) {
      auto done = send(n, round, log, attempts);
      if (!done) return done.error();
      if (!*done) {
        waiting = true;  // it waits for a retry: nothing after it goes first
        break;
      }
      ++settled;
    }
    for (const auto& ch : channels_)
      if (ch.flush)
        if (Status flushed = ch.flush(); !flushed) return flushed.error();
    const Write write = [&](CommandService& service) {
      return service.group([&] {
        for (const auto& a : attempts)
          if (Status st = service.record_attempt(*a.notice, a.attempt); !st) return st;
        return Status::Ok();
      });
    };
    Status recorded = recorder_ ? recorder_(write) : write(service_);
    if (!recorded) return recorded.error();
    if (waiting) return round;
  }
  round.more = settled >= max_notices;
  return round;
}

Result<bool> NoticeDispatcher::send(const Notification& n, DispatchRound& round,
                                    const std::function<void(const std::string&)>& log,
                                    std::vector<Attempt>& attempts) {
  std::vector<const DeliveryChannel*> open;
  for (const auto& ch : channels_) {
    auto p = n.progress.find(ch.name);
    if (p == n.progress.end() || !p->second.settled) open.push_back(&ch);
  }
  if (open.empty())
    return make_error(ErrorCode::kVerifyFailed,
                      fmt::format("thông báo {} đã được gửi qua mọi kênh nhưng vị trí gửi chưa qua nó: vị trí gửi đã "
                                  "bị sửa ngoài hệ thống (hoặc danh sách kênh đã đổi giữa chừng)",
                                  n.id()));
  std::size_t unsettled = open.size();
  for (const DeliveryChannel* ch : open) {
    const auto p = n.progress.find(ch->name);
    const ChannelProgress progress = p == n.progress.end() ? ChannelProgress{} : p->second;
    const Timestamp now = clock_.now();
    if (progress.retry_at && now < *progress.retry_at) {
      round.waiting_until = round.waiting_until ? std::min(*round.waiting_until, *progress.retry_at) : *progress.retry_at;
      continue;
    }
    DeliveryAttempt a;
    a.channel = ch->name;
    a.attempt = progress.failures + 1;
    Status sent = ch->deliver(n, now);
    if (sent) {
      a.outcome = DeliveryOutcome::kDelivered;
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
      round.waiting_until = round.waiting_until ? std::min(*round.waiting_until, *a.retry_at) : *a.retry_at;
    }
    if (a.outcome == DeliveryOutcome::kDeadLettered) ++round.dead_lettered;
    if (settling) --unsettled;
    attempts.push_back(Attempt{&n, std::move(a)});
  }
  return unsettled == 0;
}

}  // namespace hoso
