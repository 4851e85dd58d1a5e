// audit verify: the whole store checked against the hash chain: the log (read in chunks by several threads,
// checked in log order), the projections, the timers table and the dispatch cursor.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
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

// What a projection says about the end of its dossier's chain.
struct ProjectionEnd {
  DossierId id = 0;
  std::int64_t version = 0;
  std::string last_hash, digest;  // digest: projection_digest of the stored row
};

// One part of the projection pass (a contiguous id range).
struct ProjectionPart {
  std::vector<ProjectionEnd> ends;
  std::vector<TimerRecord> expected;  // every timer a projection lists
  std::optional<Error> timing_error;  // the first projection whose timers cannot be read
  std::int64_t timing_failed_at = kNowhere;
};

// The timers table against the projections, before the log is read: every row a projection lists is
// `found`; the others are `unlisted`, and must each be a timer the history started (and later cancelled or
// paused: its row is left until its due time). The log pass marks those it finds `started`.
struct TimerRows {
  std::vector<TimerRecord> rows;      // the table, in key order
  std::vector<TimerRecord> expected;  // what the projections list, sorted, unique
  std::vector<bool> found;            // by expected
  std::vector<std::size_t> unlisted;  // rows no projection lists
  std::vector<std::optional<Timestamp>> due;  // by row: an unlisted row's due time, when format_utc wrote it
  std::unordered_map<DossierId, std::vector<std::size_t>> unlisted_of;  // by dossier
  std::vector<bool> started;          // by row
};

Status read_timer_rows(Store& store, std::vector<TimerRecord> expected, TimerRows& out) {
  std::sort(expected.begin(), expected.end(), timer_less);
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  out.expected = std::move(expected);
  out.found.assign(out.expected.size(), false);
  auto rows = store.due_timers("9999-12-31T23:59:59.999Z", std::numeric_limits<int>::max());
  if (!rows) return rows.error();
  out.rows = std::move(*rows);
  out.due.assign(out.rows.size(), std::nullopt);
  out.started.assign(out.rows.size(), false);
  for (std::size_t i = 0; i < out.rows.size(); ++i) {
    const TimerRecord& r = out.rows[i];
    auto it = std::lower_bound(out.expected.begin(), out.expected.end(), r, timer_less);
    const auto at = static_cast<std::size_t>(it - out.expected.begin());
    if (it != out.expected.end() && *it == r && !out.found[at]) {
      out.found[at] = true;
      continue;
    }
    out.unlisted.push_back(i);
    out.unlisted_of[r.dossier].push_back(i);
    // A due time as an instant when written as format_utc writes one (then it equals format_utc(t) exactly
    // when the instant equals t); a row written any other way matches no timer.
    if (auto t = parse_utc(r.due_at); t && format_utc(*t) == r.due_at) out.due[i] = t;
  }
  return Status::Ok();
}

// What a worker worked out for one chunk of the log.
struct ChunkWork {
  std::vector<bool> hash_matches;
  std::vector<std::string> digests;  // the projection digest each event recorded
  std::vector<std::size_t> started;  // unlisted timer rows an event of the chunk started
  std::vector<std::int64_t> notices;  // how many notices each event recorded
  std::vector<std::optional<NoticeOutcome>> delivered;  // what a notification event says of its notice
  // The first event whose listed notices or timers cannot be read: its index and why.
  std::optional<std::pair<std::size_t, Error>> unreadable;
};

// What each event of a chunk recorded that the audit reads: its hash, digest, notices, the notice a delivery
// names, and the timers it started (matched only for dossiers with timer rows no projection lists).
void work_on_chunk(const LogChunk& c, const TimerRows& timers, ChunkWork& w) {
  if (w.hash_matches.size() < c.n_events) {
    w.hash_matches.resize(c.n_events);
    w.digests.resize(c.n_events);
    w.notices.resize(c.n_events);
    w.delivered.resize(c.n_events);
  }
  w.started.clear();
  w.unreadable.reset();
  for (std::size_t i = 0; i < c.n_events; ++i) {
    const EventRecord& r = c.events[i];
    w.hash_matches[i] = event_hash_matches(r);
    recorded_digest_into(r.payload, w.digests[i]);
    const auto type = r.type.starts_with("Notification") ? parse_event_type(r.type) : std::nullopt;
    w.delivered[i] = type && is_notification_event(*type) ? notice_outcome(r.payload) : std::nullopt;
    if (w.unreadable) continue;  // checking stops at that event
    std::int64_t n = 0;
    Status listed = visit_listed_notices(r.payload, [&](std::string_view, std::string_view) { ++n; });
    w.notices[i] = n;
    // Every event's timer list must read; it is matched against rows only for dossiers that have rows no
    // projection lists.
    const auto it = timers.unlisted_of.find(r.dossier);
    if (listed)
      listed = visit_listed_timers(r.payload, [&](std::string_view name, Timestamp due) {
        if (it == timers.unlisted_of.end()) return;
        for (std::size_t row : it->second)
          if (timers.rows[row].name == name && timers.due[row] && timers.due[row]->millis == due.millis)
            w.started.push_back(row);
      });
    if (!listed) w.unreadable.emplace(i, listed.error());
  }
}

// The notices and what the history records of them, checked as the log streams. Every notice up to the
// dispatch cursor must have been settled (delivered or dead-lettered) by at least one channel; notices after
// it settle independently (one waiting for a retry holds up none after it), so they may have attempts too.
// No notice is settled twice by the same channel, attempts on a channel are numbered from 1 without gaps, and
// none follows the channel's settling.
class Dispatch {
 public:
  explicit Dispatch(NoticeKey cursor) : cursor_(cursor) {}

  void notices(std::int64_t gseq, const EventRecord& r, std::int64_t count) {
    if (count > 0) events_.push_back(Recorded{gseq, r.dossier, r.seq, count});
  }
  // Why the notification event `r` (of type `type`) does not fit its notice; "" when it does.
  std::string attempt(const EventRecord& r, EventType type, const std::optional<NoticeOutcome>& o) {
    if (!o) return "bằng chứng gửi thông báo không ghi rõ thông báo nào, qua kênh nào";
    const NoticeKey& key = o->key;
    const std::string which = fmt::format("thông báo {}.{}", key.gseq, key.n);
    const Recorded* e = find(key.gseq);
    if (e == nullptr || key.n < 0 || key.n >= e->count || e->dossier != r.dossier)
      return which + " được ghi nhận gửi nhưng không phải thông báo của hồ sơ trong nhật ký";
    Channel& ch = channels_[{key.gseq, key.n, o->channel}];
    const std::string via = fmt::format(" qua kênh '{}'", o->channel);
    if (ch.settled) return which + " được ghi nhận gửi hai lần" + via;
    if (o->attempt > 0 && o->attempt != ch.failures + 1)
      return which + fmt::format(" ghi lần gửi {} sau {} lần lỗi{}: các lần gửi không liên tục", o->attempt,
                                 ch.failures, via);
    if (type == EventType::kNotificationFailed) {
      ++ch.failures;
    } else {
      ch.settled = true;
      settled_.insert({key.gseq, key.n});
    }
    return {};
  }
  // After the log: the cursor names a notice, and every notice up to it was settled. Fills `report`.
  bool check(VerifyReport& report) const {
    if (cursor_.n >= 0) {
      const Recorded* e = find(cursor_.gseq);
      if (e == nullptr || cursor_.n >= e->count) {
        set_failure(report, 0, 0,
                    fmt::format("vị trí gửi thông báo {}.{} không phải một thông báo trong nhật ký (đã bị sửa)",
                                cursor_.gseq, cursor_.n));
        return false;
      }
    }
    for (const Recorded& e : events_)
      for (std::int64_t n = 0; n < e.count && NoticeKey{e.gseq, n} <= cursor_; ++n)
        if (!settled_.count({e.gseq, n})) {
          set_failure(report, e.dossier, e.seq,
                      fmt::format("thông báo {}.{} nằm trước vị trí gửi nhưng lịch sử không ghi nhận đã gửi (vị "
                                  "trí gửi đã bị sửa)",
                                  e.gseq, n));
          return false;
        }
    return true;
  }

 private:
  struct Recorded {
    std::int64_t gseq;
    DossierId dossier;
    std::int64_t seq, count;
  };
  struct Channel {
    std::int64_t failures = 0;
    bool settled = false;
  };
  const Recorded* find(std::int64_t gseq) const {
    auto it = std::lower_bound(events_.begin(), events_.end(), gseq,
                               [](const Recorded& e, std::int64_t g) { return e.gseq < g; });
    return it != events_.end() && it->gseq == gseq ? &*it : nullptr;
  }
  NoticeKey cursor_;
  std::vector<Recorded> events_;  // events with notices, in log order
  std::map<std::tuple<std::int64_t, std::int64_t, std::string>, Channel> channels_;
  std::set<std::pair<std::int64_t, std::int64_t>> settled_;  // notices settled by some channel
};

// The first of `parts` to have met a failure (by the position it records); nullptr when none did.
template <typename Part>
const Part* earliest(const std::vector<Part>& parts, std::int64_t Part::*failed_at) {
  const Part* first = nullptr;
  for (const auto& p : parts)
    if (p.*failed_at != kNowhere && (first == nullptr || p.*failed_at < first->*failed_at)) first = &p;
  return first;
}

}  // namespace

Result<VerifyReport> audit_store(Store& store, unsigned workers) {
  LogScan plan;
  plan.workers = std::max(1u, workers);
  plan.chunk_events = kLogChunkEvents;

  // The projections first: where each says its chain ends (compared once the log is read), and the timers
  // each lists (so that the log pass knows which timer rows it must account for).
  std::vector<ProjectionPart> projections(plan.workers);
  bool sequential = false;
  Status listed = scan_projections_in_parts(
      store, plan.workers,
      [&](unsigned k, std::int64_t id, DossierRecord& p) -> Status {
        ProjectionPart& mine = projections[k];
        auto timers = listed_timer_rows(p.id, p.timing);
        if (timers) {
          std::move(timers->begin(), timers->end(), std::back_inserter(mine.expected));
        } else if (id < mine.timing_failed_at) {
          mine.timing_error = make_error(ErrorCode::kVerifyFailed, "timing");
          mine.timing_failed_at = id;
        }
        mine.ends.push_back(ProjectionEnd{p.id, p.version, std::move(p.last_hash), projection_digest(p)});
        return Status::Ok();
      },
      sequential);
  if (!listed) return listed.error();
  std::vector<ProjectionEnd> ends;
  std::vector<TimerRecord> expected;
  for (auto& part : projections) {
    std::move(part.ends.begin(), part.ends.end(), std::back_inserter(ends));
    std::move(part.expected.begin(), part.expected.end(), std::back_inserter(expected));
  }
  std::sort(ends.begin(), ends.end(), [](const ProjectionEnd& a, const ProjectionEnd& b) { return a.id < b.id; });
  TimerRows timers;
  if (Status read = read_timer_rows(store, std::move(expected), timers); !read) return read.error();

  auto cursor = store.dispatch_cursor();
  if (!cursor) return cursor.error();
  Dispatch dispatch(*cursor);

  // The log: every hash, chain link, time and delivery in log order; notices and started timers by chunk.
  std::vector<ChunkWork> work(plan.slots());
  ChainChecker chain{/*keep_digests=*/true};
  VerifyReport report;
  std::optional<Error> unreadable;
  std::string previous_at;
  bool any_previous = false;
  Status scanned = store.scan_log_chunks(
      plan, [&](unsigned, LogChunk& c) -> Status {
        work_on_chunk(c, timers, work[c.slot]);
        return Status::Ok();
      },
      [&](LogChunk& c) -> Status {
        ChunkWork& w = work[c.slot];
        for (std::size_t i = 0; i < c.n_events; ++i) {
          const EventRecord& r = c.events[i];
          ++report.events;
          if (auto why = chain.check(r, w.hash_matches[i], w.digests[i]); !why.empty()) {
            set_failure(report, r.dossier, r.seq, why);
            return FirstFailure::stopped();
          }
          // An event that continues its chain must not be earlier than the event before it in the log.
          if (any_previous && r.at < previous_at) {
            set_failure(report, r.dossier, r.seq,
                        fmt::format("sự kiện ghi thời điểm {} sớm hơn sự kiện ghi trước nó trong nhật ký ({}): thời "
                                    "gian đã bị ghi lùi",
                                    r.at, previous_at));
            return FirstFailure::stopped();
          }
          previous_at.assign(r.at);
          any_previous = true;
          if (w.unreadable && w.unreadable->first == i) {
            unreadable = w.unreadable->second;
            return FirstFailure::stopped();
          }
          dispatch.notices(c.gseqs[i], r, w.notices[i]);
          if (const auto type = r.type.starts_with("Notification") ? parse_event_type(r.type) : std::nullopt;
              type && is_notification_event(*type)) {
            if (auto why = dispatch.attempt(r, *type, w.delivered[i]); !why.empty()) {
              set_failure(report, r.dossier, r.seq, why);
              return FirstFailure::stopped();
            }
          }
        }
        for (std::size_t row : w.started) timers.started[row] = true;
        return Status::Ok();
      });
  if (unreadable) return *unreadable;
  if (!report.ok) return report;
  if (!scanned) return scanned.error();
  report.dossiers = static_cast<std::int64_t>(ends.size());
  auto failed = [&](DossierId id, std::int64_t seq, const std::string& why) {
    set_failure(report, id, seq, why);
    return report;
  };

  // Each projection must be the one its last event recorded (its digest is inside the hashed payload).
  const auto& links = chain.links();
  for (const ProjectionEnd& e : ends) {
    auto it = links.find(e.id);
    if (it == links.end()) return failed(e.id, 0, "hồ sơ không có sự kiện nào");
    const ChainChecker::Link& l = it->second;
    if (l.seq != e.version || l.last_hash != e.last_hash)
      return failed(e.id, l.seq,
                    fmt::format("trạng thái hồ sơ (phiên bản {}) không khớp sự kiện cuối trong nhật ký (số {})",
                                e.version, l.seq));
    if (e.digest != l.last_digest)
      return failed(e.id, l.seq, "trạng thái hồ sơ đang lưu khác trạng thái mà sự kiện cuối đã ghi (đã bị sửa)");
  }
  // Events of a dossier that has no projection: the smallest such dossier.
  if (links.size() != ends.size()) {
    const std::pair<const DossierId, ChainChecker::Link>* orphan = nullptr;
    for (const auto& link : links) {
      auto it = std::lower_bound(ends.begin(), ends.end(), link.first,
                                 [](const ProjectionEnd& e, DossierId id) { return e.id < id; });
      if ((it == ends.end() || it->id != link.first) && (orphan == nullptr || link.first < orphan->first))
        orphan = &link;
    }
    if (orphan != nullptr)
      return failed(orphan->first, orphan->second.seq, "có sự kiện của một hồ sơ không có trạng thái");
  }
  if (const ProjectionPart* first = earliest(projections, &ProjectionPart::timing_failed_at))
    return *first->timing_error;

  // The timers table: nothing but the listed timers and those the history started.
  for (std::size_t i : timers.unlisted) {
    if (timers.started[i]) continue;
    const TimerRecord& r = timers.rows[i];
    return failed(r.dossier, 0,
                  fmt::format("bảng hẹn giờ có hẹn giờ '{}' lúc {} mà hồ sơ không ghi nhận (đã bị thêm hoặc sửa)",
                              r.name, r.due_at));
  }
  for (std::size_t i = 0; i < timers.expected.size(); ++i)
    if (!timers.found[i])
      return failed(timers.expected[i].dossier, 0,
                    fmt::format("bảng hẹn giờ thiếu hẹn giờ '{}' lúc {} của hồ sơ (đã bị xóa)",
                                timers.expected[i].name, timers.expected[i].due_at));

  // The dispatch cursor: every notice up to it went out, once.
  dispatch.check(report);
  return report;
}

}  // namespace hoso
