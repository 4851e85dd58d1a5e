// audit verify: the whole store checked against the hash chain, the log and the projections in parts.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/codec.hpp"
#include "engine/hash_chain.hpp"
#include "engine/verify.hpp"

namespace hoso {

namespace {

constexpr std::int64_t kNowhere = FirstFailure::kNowhere;

// Timer rows in the order of the timers table's key: due time, dossier, name.
bool timer_less(const TimerRecord& a, const TimerRecord& b) {
  return std::tie(a.due_at, a.dossier, a.name) < std::tie(b.due_at, b.dossier, b.name);
}

// An event, by its dossier and sequence number.
struct EventKey {
  DossierId dossier = 0;
  std::int64_t seq = 0;
  friend bool operator==(const EventKey&, const EventKey&) = default;
  friend bool operator<(const EventKey& a, const EventKey& b) {
    return std::tie(a.dossier, a.seq) < std::tie(b.dossier, b.seq);
  }
};
struct EventKeyHash {
  std::size_t operator()(const EventKey& k) const {
    return std::hash<std::int64_t>{}(k.dossier * 1'000'003 + k.seq);
  }
};

// A piece of a part's text buffer.
struct Span {
  std::size_t at = 0, size = 0;
};

// One part of the log pass: the chains of its dossiers, and what the later checks need from their events.
struct LogPart {
  ChainChecker chain{/*keep_digests=*/true};
  VerifyReport report;            // the first failure this part met, if any
  std::optional<Error> error;     // or the malformed list that stopped it
  std::int64_t failed_at = kNowhere;  // the log position of either
  std::int64_t events = 0;

  // Each event that continues its chain, in log order: its position and time, checked across parts later.
  struct Time {
    std::int64_t at;
    DossierId dossier;
    std::int64_t seq;
    Span text;
  };
  std::vector<Time> times;
  // The notices each event recorded: notices[first, first + count), `sent` of them found in the outbox.
  struct Recorded {
    std::size_t first = 0, count = 0, sent = 0;
  };
  std::unordered_map<EventKey, Recorded, EventKeyHash> recorded;
  std::vector<std::pair<Span, Span>> notices;  // (to, template)
  // Every timer an event listed; its due time is formatted only when a row of the timers table needs it.
  struct Started {
    DossierId dossier;
    Span name;
    Timestamp due;
  };
  std::vector<Started> started;
  std::string text;                            // the times and notices, one after the other
  VerifyReport outbox_report;  // the first outbox row of this part's dossiers that no event recorded, and its key
  std::int64_t outbox_failed_at = kNowhere, outbox_failed_n = 0;

  Span keep(std::string_view s) {
    Span out{text.size(), s.size()};
    text.append(s);
    return out;
  }
  std::string_view view(Span s) const { return std::string_view(text).substr(s.at, s.size); }
};

// One part of the projection pass (a contiguous id range).
struct ProjectionPart {
  VerifyReport report;  // the first projection that does not match its chain, if any
  std::int64_t failed_at = kNowhere;
  std::optional<Error> timing_error;  // the first projection whose timers cannot be read
  std::int64_t timing_failed_at = kNowhere;
  std::int64_t dossiers = 0;
  std::vector<TimerRecord> expected;  // every timer a projection lists
};

using LogParts = std::vector<std::unique_ptr<LogPart>>;

// Checks one event of the log at position `at`: its chain link and hash, then reads its notices and
// timers. Times are checked across parts once the scan is over.
Status check_event(LogPart& part, std::int64_t at, const EventRecord& r, FirstFailure& first) {
  ++part.events;
  if (auto why = part.chain.check(r); !why.empty()) {
    set_failure(part.report, r.dossier, r.seq, why);
    part.failed_at = at;
    return first.stop_at(at);
  }
  part.times.push_back(LogPart::Time{at, r.dossier, r.seq, part.keep(r.at)});
  const std::size_t before = part.notices.size();
  Status listed = visit_listed_notices(r.payload, [&](std::string_view to, std::string_view template_key) {
    part.notices.emplace_back(part.keep(to), part.keep(template_key));
  });
  if (part.notices.size() != before)
    part.recorded[EventKey{r.dossier, r.seq}] = LogPart::Recorded{before, part.notices.size() - before, 0};
  if (listed)
    listed = visit_listed_timers(r.payload, [&](std::string_view name, Timestamp due) {
      part.started.push_back(LogPart::Started{r.dossier, part.keep(name), due});
    });
  if (listed) return Status::Ok();
  part.error = listed.error();
  part.failed_at = at;
  return first.stop_at(at);
}

// The time check of a single pass in log order, over the parts' events merged by position: an event that
// continues its chain must not be earlier than the event before it. Only positions up to `limit` (the
// earliest failure the parts met) count: every part saw all of its events before it. Returns true, with
// the failure in `report`, when a time goes backwards; `events` is set to the events passed in log order.
bool times_go_backwards(const LogParts& parts, std::int64_t limit, VerifyReport& report, std::int64_t& events) {
  std::vector<std::size_t> next(parts.size(), 0);
  const LogPart* previous_part = nullptr;
  Span previous{};
  events = 0;
  for (;;) {
    std::size_t k = parts.size();
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& times = parts[i]->times;
      if (next[i] < times.size() && times[next[i]].at <= limit &&
          (k == parts.size() || times[next[i]].at < parts[k]->times[next[k]].at))
        k = i;
    }
    if (k == parts.size()) return false;
    const LogPart& part = *parts[k];
    const LogPart::Time& t = part.times[next[k]++];
    ++events;
    if (previous_part != nullptr && part.view(t.text) < previous_part->view(previous)) {
      set_failure(report, t.dossier, t.seq,
                  fmt::format("sự kiện ghi thời điểm {} sớm hơn sự kiện ghi trước nó trong nhật ký ({}): thời gian "
                              "đã bị ghi lùi",
                              part.view(t.text), previous_part->view(previous)));
      return true;
    }
    previous_part = &part;
    previous = t.text;
  }
}

// The first part (by position) that met a failure; nullptr when none did.
template <typename Part>
const Part* earliest(const std::vector<std::unique_ptr<Part>>& parts, std::int64_t Part::*failed_at) {
  const Part* first = nullptr;
  for (const auto& p : parts)
    if ((*p).*failed_at != kNowhere && (first == nullptr || (*p).*failed_at < (*first).*failed_at)) first = p.get();
  return first;
}

// Checks the timers table: it must hold every timer the (verified) projections list, and nothing else but
// rows of timers the history started and later cancelled or paused (left until their due time).
Result<VerifyReport> check_timers(Store& store, const LogParts& log, std::vector<TimerRecord> expected,
                                  VerifyReport report) {
  std::sort(expected.begin(), expected.end(), timer_less);
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  std::vector<bool> found(expected.size(), false);
  auto rows = store.due_timers("9999-12-31T23:59:59.999Z", std::numeric_limits<int>::max());
  if (!rows) return rows.error();
  // The rows no projection lists, in table order; usually none, so the history is searched only for them.
  std::vector<std::size_t> unlisted;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const TimerRecord& r = (*rows)[i];
    auto it = std::lower_bound(expected.begin(), expected.end(), r, timer_less);
    const auto at = static_cast<std::size_t>(it - expected.begin());
    if (it != expected.end() && *it == r && !found[at])
      found[at] = true;
    else
      unlisted.push_back(i);
  }
  if (!unlisted.empty()) {
    // By (dossier, name), to find the rows each started timer may be.
    using Key = std::pair<DossierId, std::string_view>;
    auto key = [&](std::size_t i) { return Key((*rows)[i].dossier, (*rows)[i].name); };
    std::vector<std::size_t> by_key = unlisted;
    std::sort(by_key.begin(), by_key.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
    // A row's due time as an instant when it is written as format_utc writes one (then it equals
    // format_utc(t) exactly when the instant equals t); a row written any other way matches no timer.
    std::vector<std::optional<Timestamp>> due(rows->size());
    for (std::size_t i : unlisted)
      if (auto t = parse_utc((*rows)[i].due_at); t && format_utc(*t) == (*rows)[i].due_at) due[i] = t;
    std::vector<bool> started(rows->size(), false);
    for (const auto& part : log)
      for (const LogPart::Started& t : part->started) {
        const Key k(t.dossier, part->view(t.name));
        auto it = std::lower_bound(by_key.begin(), by_key.end(), k, [&](std::size_t i, const Key& x) { return key(i) < x; });
        for (; it != by_key.end() && key(*it) == k; ++it)
          if (due[*it] && due[*it]->millis == t.due.millis) started[*it] = true;
      }
    for (std::size_t i : unlisted) {
      if (started[i]) continue;
      const TimerRecord& r = (*rows)[i];
      set_failure(report, r.dossier, 0,
                  fmt::format("bảng hẹn giờ có hẹn giờ '{}' lúc {} mà hồ sơ không ghi nhận (đã bị thêm hoặc sửa)",
                              r.name, r.due_at));
      return report;
    }
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (found[i]) continue;
    set_failure(report, expected[i].dossier, 0,
                fmt::format("bảng hẹn giờ thiếu hẹn giờ '{}' lúc {} của hồ sơ (đã bị xóa)", expected[i].name,
                            expected[i].due_at));
    return report;
  }
  return report;
}

// Calls on_row(part, gseq, row) for every outbox row, each part's rows in key order: as the log was split
// (the store's partitioned scan), or, when the parts cannot have the caller's snapshot, in this thread.
Status scan_outbox_in_parts(Store& store, unsigned parts,
                            const std::function<Status(unsigned, std::int64_t, OutboxRow&)>& on_row) {
  Status scanned = store.scan_outbox_partitioned(parts, on_row);
  if (scanned || scanned.error().code != ErrorCode::kVersionConflict) return scanned;
  std::int64_t g = 0, n = -1;
  for (;;) {
    auto batch = store.outbox_after(g, n, 10000);
    if (!batch) return batch.error();
    if (batch->empty()) return Status::Ok();
    for (auto& row : *batch) {
      g = row.gseq;
      n = row.n;
      if (Status st = on_row(part_of(row.record.dossier, parts), row.gseq, row); !st) return st;
    }
  }
}

// Checks the outbox: it holds exactly the notices the events recorded, each once. Part k checks the rows of
// part k's dossiers against the notices part k read from their events.
Result<VerifyReport> check_outbox(Store& store, LogParts& log, VerifyReport report) {
  FirstFailure first_row;
  Status scanned = scan_outbox_in_parts(
      store, static_cast<unsigned>(log.size()), [&](unsigned k, std::int64_t gseq, OutboxRow& row) -> Status {
        if (first_row.passed(gseq)) return FirstFailure::stopped();
        LogPart& part = *log[k];
        auto it = part.recorded.find(EventKey{row.record.dossier, row.record.event_seq});
        bool known = it != part.recorded.end() && row.n >= 0 && static_cast<std::size_t>(row.n) < it->second.count;
        if (known) {
          const auto& [to, template_key] = part.notices[it->second.first + static_cast<std::size_t>(row.n)];
          known = part.view(to) == row.record.target_org && part.view(template_key) == row.record.template_key;
        }
        if (known) {
          ++it->second.sent;
          return Status::Ok();
        }
        set_failure(part.outbox_report, row.record.dossier, row.record.event_seq,
                    fmt::format("hàng đợi thông báo có thông báo {}.{} ('{}' tới {}) mà sự kiện không ghi "
                                "nhận (đã bị thêm hoặc sửa)",
                                row.gseq, row.n, row.record.template_key, row.record.target_org));
        part.outbox_failed_at = gseq;
        part.outbox_failed_n = row.n;
        return first_row.stop_at(gseq);
      });
  // The earliest row in key order: rows of one gseq may (when forged) be of dossiers in different parts.
  const LogPart* first = nullptr;
  for (const auto& part : log)
    if (part->outbox_failed_at != kNowhere &&
        (first == nullptr || std::pair(part->outbox_failed_at, part->outbox_failed_n) <
                                 std::pair(first->outbox_failed_at, first->outbox_failed_n)))
      first = part.get();
  if (first != nullptr) {
    VerifyReport out = first->outbox_report;
    out.events = report.events;
    out.dossiers = report.dossiers;
    return out;
  }
  if (!scanned) return scanned.error();
  // The event (smallest dossier, then seq) some of whose notices are not in the outbox.
  const std::pair<const EventKey, LogPart::Recorded>* missing = nullptr;
  for (const auto& part : log)
    for (const auto& entry : part->recorded)
      if (entry.second.sent != entry.second.count && (missing == nullptr || entry.first < missing->first))
        missing = &entry;
  if (missing != nullptr)
    set_failure(report, missing->first.dossier, missing->first.seq,
                fmt::format("hàng đợi thông báo thiếu {} thông báo mà sự kiện đã ghi (đã bị xóa)",
                            missing->second.count - missing->second.sent));
  return report;
}

}  // namespace

Result<VerifyReport> audit_store(Store& store, unsigned workers) {
  const unsigned parts = std::max(1u, workers);
  LogParts log;
  for (unsigned i = 0; i < parts; ++i) log.push_back(std::make_unique<LogPart>());

  // The log: every chain and hash, and what each event recorded (times, notices, timers).
  FirstFailure first_event;
  bool sequential = false;
  Status scanned = scan_log_in_parts(
      store, parts,
      [&](unsigned k, std::int64_t at, EventRecord& r) -> Status {
        if (first_event.passed(at)) return FirstFailure::stopped();
        return check_event(*log[k], at, r, first_event);
      },
      sequential);
  const LogPart* failed = earliest(log, &LogPart::failed_at);
  VerifyReport report;
  std::int64_t passed = 0;
  if (times_go_backwards(log, failed ? failed->failed_at : kNowhere, report, passed)) {
    report.events = passed;
    return report;
  }
  if (failed != nullptr) {
    if (failed->error) return *failed->error;
    VerifyReport out = failed->report;
    out.events = passed + 1;  // the events up to the failing one, in log order
    return out;
  }
  if (!scanned) return scanned.error();
  report.events = passed;

  // Each projection must be the one its last event recorded (its digest is inside the hashed payload).
  std::vector<std::unique_ptr<ProjectionPart>> projections;
  for (unsigned i = 0; i < parts; ++i) projections.push_back(std::make_unique<ProjectionPart>());
  FirstFailure first_projection;
  Status compared = scan_projections_in_parts(
      store, parts,
      [&](unsigned k, std::int64_t id, DossierRecord& p) -> Status {
        ProjectionPart& mine = *projections[k];
        if (first_projection.passed(id)) return FirstFailure::stopped();
        ++mine.dossiers;
        const auto& links = log[part_of(id, parts)]->chain.links();
        auto it = links.find(p.id);
        if (it == links.end())
          set_failure(mine.report, p.id, 0, "hồ sơ không có sự kiện nào");
        else if (it->second.seq != p.version || it->second.last_hash != p.last_hash)
          set_failure(mine.report, p.id, it->second.seq,
                      fmt::format("trạng thái hồ sơ (phiên bản {}) không khớp sự kiện cuối trong nhật ký (số {})",
                                  p.version, it->second.seq));
        else if (projection_digest(p) != it->second.last_digest)
          set_failure(mine.report, p.id, it->second.seq,
                      "trạng thái hồ sơ đang lưu khác trạng thái mà sự kiện cuối đã ghi (đã bị sửa)");
        if (!mine.report.ok) {
          mine.failed_at = id;
          return first_projection.stop_at(id);
        }
        auto timers = listed_timer_rows(p.id, p.timing);
        if (timers)
          std::move(timers->begin(), timers->end(), std::back_inserter(mine.expected));
        else if (!mine.timing_error) {
          mine.timing_error = make_error(ErrorCode::kVerifyFailed, "timing");
          mine.timing_failed_at = id;
        }
        return Status::Ok();
      },
      sequential);
  for (const auto& p : projections) report.dossiers += p->dossiers;
  if (const ProjectionPart* first = earliest(projections, &ProjectionPart::failed_at)) {
    VerifyReport out = first->report;
    out.events = report.events;
    out.dossiers = report.dossiers;
    return out;
  }
  if (!compared) return compared.error();
  // Events of a dossier that has no projection: the smallest such dossier.
  std::size_t chains = 0;
  for (const auto& part : log) chains += part->chain.links().size();
  if (chains != static_cast<std::size_t>(report.dossiers)) {
    std::vector<DossierId> ids;
    auto listed = store.scan_dossiers([&](const DossierRecord& p) -> Status {
      ids.push_back(p.id);
      return Status::Ok();
    });
    if (!listed) return listed.error();
    std::sort(ids.begin(), ids.end());
    const std::pair<const DossierId, ChainChecker::Link>* orphan = nullptr;
    for (const auto& part : log)
      for (const auto& link : part->chain.links())
        if (!std::binary_search(ids.begin(), ids.end(), link.first) && (orphan == nullptr || link.first < orphan->first))
          orphan = &link;
    if (orphan != nullptr) {
      set_failure(report, orphan->first, orphan->second.seq, "có sự kiện của một hồ sơ không có trạng thái");
      return report;
    }
  }
  if (const ProjectionPart* first = earliest(projections, &ProjectionPart::timing_failed_at))
    return *first->timing_error;

  std::vector<TimerRecord> expected;
  for (auto& p : projections) std::move(p->expected.begin(), p->expected.end(), std::back_inserter(expected));
  auto timers = check_timers(store, log, std::move(expected), report);
  if (!timers || !timers->ok) return timers;
  return check_outbox(store, log, std::move(*timers));
}

}  // namespace hoso
