// Durable timers at scale, reported as a ratio against a baseline measured in the same run:
// does a store holding one million pending timers fire the next one as fast as a store holding a thousand?
//
// Firing one timer = one write transaction (WAL, synchronous=FULL unless --sync off) that reads the earliest
// due timer (due_timers(now, 1)), removes it, schedules one new timer 1 to 365 days later (so the pending
// count stays constant, as in a steady state where firing schedules the next one, and the new row lands at a
// random place in the index), and reads the next pending one (the scheduler's next wake-up; the clock then
// jumps there). Both stores run alternately in slices, so both see the same disk; each sums only its own
// time. Every firing is checked: it fired the earliest pending timer, and the count stays constant.
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_store.hpp"
#include "engine/records.hpp"
#include "engine/store.hpp"
#include "engine/time.hpp"
#include "bench/bench_support.hpp"

using namespace hoso;
namespace fs = std::filesystem;
using namespace hoso::bench;

namespace {


constexpr std::int64_t kDayMillis = 86'400'000;
constexpr std::int64_t kYearMillis = 365 * kDayMillis;
constexpr std::int64_t kStartMillis = 1'772'323'200'000;  // 2026-03-01T00:00:00.000Z
constexpr std::int64_t kMaxDossier = 10'000'000;
const char* const kFarFuture = "9999-12-31T23:59:59.999Z";
const char* const kTimerName = "processing";  // the timer the standard workflow starts and cancels

// One store with its pending timers and the scheduler's virtual clock.
struct TimerDb {
  std::string label, path;
  std::int64_t timers = 0;
  std::unique_ptr<SqliteStore> store;
  std::string now;  // the scheduler's clock: the due time of the next pending timer
  std::mt19937_64 rng;
  std::vector<double> latencies;  // seconds per firing (timed firings only)
  double secs = 0;                // sum of latencies
  std::int64_t fired = 0;         // all firings, warm-up included
};

// Creates the store and loads `n` timers spread over a year from kStartMillis: timer i of a shuffled order
// gets slot i (a year / n wide) and a random instant inside it, so every due_at is distinct; dossier ids are
// random. Loaded without fsync, `batch` timers per transaction. Returns the seconds the load took.
double load(TimerDb& db, std::int64_t n, std::int64_t batch, std::uint64_t seed) {
  auto store = must(
      SqliteStore::open(db.path, OpenMode::kCreate, SqliteStore::kDefaultBusyTimeout, Durability::kNoSync),
      "open for loading");
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> slots(static_cast<std::size_t>(n));
  std::iota(slots.begin(), slots.end(), std::int64_t{0});
  std::shuffle(slots.begin(), slots.end(), rng);  // insert in random key order, as a live system would
  const std::int64_t width = std::max<std::int64_t>(1, kYearMillis / n);
  std::uniform_int_distribution<std::int64_t> inside(0, width - 1), dossier(1, kMaxDossier);
  const auto t0 = Clk::now();
  for (std::int64_t from = 0; from < n; from += batch) {
    const std::int64_t to = std::min(n, from + batch);
    must(store->write([&](WriteTx& tx) -> Status {
      for (std::int64_t i = from; i < to; ++i) {
        const std::int64_t due = kStartMillis + slots[static_cast<std::size_t>(i)] * width + inside(rng);
        if (Status s = tx.add_timer(TimerRecord{format_utc(Timestamp{due}), dossier(rng), kTimerName}); !s)
          return s;
      }
      return Status::Ok();
    }),
         "load timers");
  }
  return seconds_since(t0);
}

void open_for_firing(TimerDb& db, bool sync, std::uint64_t seed) {
  db.store = must(SqliteStore::open(db.path, OpenMode::kExisting, SqliteStore::kDefaultBusyTimeout,
                                    sync ? Durability::kFull : Durability::kNoSync),
                  "open");
  db.rng.seed(seed);
  auto first = must(db.store->due_timers(kFarFuture, 1), "first pending timer");
  if (first.empty()) die(db.label + ": no pending timer");
  db.now = first.front().due_at;
}

// Fires the next timer of `db` in one transaction; returns the seconds it took. The new timer is due 1 to
// 365 days after the fired one, or (`append`) exactly 365 days after it: past every pending timer.
double fire_one(TimerDb& db, bool append) {
  std::uniform_int_distribution<std::int64_t> later(append ? kYearMillis : kDayMillis, kYearMillis),
      dossier(1, kMaxDossier);
  const std::int64_t ahead = later(db.rng);
  const DossierId next_dossier = dossier(db.rng);
  std::string problem;
  const auto t0 = Clk::now();
  const Status st = db.store->write([&](WriteTx& tx) -> Status {
    auto due = tx.due_timers(db.now, 1);
    if (!due) return due.error();
    if (due->empty()) {
      problem = fmt::format("nothing due at {}", db.now);
      return make_error(ErrorCode::kInternal, problem);
    }
    const TimerRecord fired = std::move(due->front());
    if (Status s = tx.remove_timer(fired); !s) return s;
    const auto fired_at = parse_utc(fired.due_at);
    if (!fired_at) {
      problem = fmt::format("stored due_at '{}' does not parse", fired.due_at);
      return make_error(ErrorCode::kInternal, problem);
    }
    if (Status s = tx.add_timer(
            TimerRecord{format_utc(Timestamp{fired_at->millis + ahead}), next_dossier, kTimerName});
        !s)
      return s;
    auto next = tx.due_timers(kFarFuture, 1);
    if (!next) return next.error();
    if (next->empty() || next->front().due_at < fired.due_at) {
      problem = fmt::format("fired {} (dossier {}) but {} was pending before it", fired.due_at, fired.dossier,
                            next->empty() ? std::string("nothing") : next->front().due_at);
      return make_error(ErrorCode::kInternal, problem);
    }
    db.now = next->front().due_at;
    return Status::Ok();
  });
  const double secs = seconds_since(t0);
  if (!st)
    die(fmt::format("{}: firing {}: {}", db.label, db.fired + 1,
                    problem.empty() ? st.error().message : problem));
  ++db.fired;
  return secs;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

std::int64_t count_pending(TimerDb& db, double& secs) {
  const auto t0 = Clk::now();
  const std::int64_t n = must(db.store->pending_timers(), "count pending timers");
  secs = seconds_since(t0);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t timers = 1'000'000;
  std::int64_t baseline_timers = 1'000;
  int firings = 2000;
  int reads = 20'000;
  std::int64_t batch = 50'000;
  bool keep = false;
  bool sync = true;     // --sync off: fire without fsync, to see the CPU and page-cache cost alone
  bool append = false;  // --ahead year: every new timer goes past all pending ones (the index's last page)
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--timers")
      timers = std::stoll(argv[i + 1]);
    else if (a == "--baseline-timers")
      baseline_timers = std::stoll(argv[i + 1]);
    else if (a == "--firings")
      firings = std::stoi(argv[i + 1]);
    else if (a == "--reads")
      reads = std::stoi(argv[i + 1]);
    else if (a == "--batch")
      batch = std::stoll(argv[i + 1]);
    else if (a == "--keep")
      keep = argv[i + 1] == std::string("yes");
    else if (a == "--sync")
      sync = argv[i + 1] != std::string("off");
    else if (a == "--ahead" && (argv[i + 1] == std::string("random") || argv[i + 1] == std::string("year")))
      append = argv[i + 1] == std::string("year");
    else
      die("usage: timer_bench [--timers N] [--baseline-timers N] [--firings N] [--reads N] [--batch N] "
          "[--keep yes] [--sync off] [--ahead random|year]");
  }
  if (argc % 2 == 0) die("usage: every option takes a value");
  if (timers < 1 || baseline_timers < 1 || firings < 1 || reads < 1 || batch < 1)
    die("--timers, --baseline-timers, --firings, --reads and --batch must be positive");

  char tmpl[] = "/tmp/hoso-timer-bench-XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp");
  const std::string dir = tmpl;
  fmt::print("hoso timer benchmark — files in {}\n", dir);

  TimerDb base, big;
  base.label = "baseline";
  base.path = dir + "/baseline.db";
  base.timers = baseline_timers;
  big.label = "subject";
  big.path = dir + "/subject.db";
  big.timers = timers;

  const double base_load = load(base, baseline_timers, batch, 1);
  const double big_load = load(big, timers, batch, 2);
  fmt::print(
      "loaded {} timers in {:.2f} s ({:.0f}/s) and {} timers in {:.2f} s ({:.0f}/s); "
      "{} per transaction, synchronous=OFF, not part of the ratio\n",
      baseline_timers, base_load, static_cast<double>(baseline_timers) / base_load, timers, big_load,
      static_cast<double>(timers) / big_load, batch);
  fmt::print("database sizes: baseline {:.1f} MB, subject {:.1f} MB\n",
             static_cast<double>(fs::file_size(base.path)) / 1e6,
             static_cast<double>(fs::file_size(big.path)) / 1e6);

  open_for_firing(base, sync, 11);
  open_for_firing(big, sync, 12);
  double base_count_secs = 0, big_count_secs = 0;
  const std::int64_t base_before = count_pending(base, base_count_secs);
  const std::int64_t big_before = count_pending(big, big_count_secs);
  if (base_before != baseline_timers || big_before != timers)
    die(fmt::format("pending after load: {} and {}, expected {} and {}", base_before, big_before,
                    baseline_timers, timers));

  // Warm-up (untimed): a few firings each, so neither side pays for opening the file in its first slice.
  for (int i = 0; i < 20; ++i) {
    fire_one(base, append);
    fire_one(big, append);
  }

  // Timed firings, interleaved in slices of 50; the side that goes first alternates from slice to slice.
  std::vector<double> slice_ratios;  // subject rate / baseline rate in each slice
  const int slice = 50;
  for (int start = 0, k = 0; start < firings; start += slice, ++k) {
    const int n = std::min(slice, firings - start);
    double bs = 0, gs = 0;
    auto run = [&](TimerDb& db, double& sum) {
      for (int i = 0; i < n; ++i) {
        const double s = fire_one(db, append);
        db.latencies.push_back(s);
        sum += s;
      }
    };
    if (k % 2 == 0) {
      run(base, bs);
      run(big, gs);
    } else {
      run(big, gs);
      run(base, bs);
    }
    base.secs += bs;
    big.secs += gs;
    slice_ratios.push_back(bs / gs);
  }

  const std::int64_t base_after = count_pending(base, base_count_secs);
  const std::int64_t big_after = count_pending(big, big_count_secs);
  if (base_after != base_before || big_after != big_before)
    die(fmt::format("pending counts changed: baseline {} -> {}, subject {} -> {}", base_before, base_after,
                    big_before, big_after));

  const double base_rate = static_cast<double>(firings) / base.secs;
  const double big_rate = static_cast<double>(firings) / big.secs;
  const double ratio = big_rate / base_rate;
  fmt::print(
      "firing the next timer ({}, 1 firing = 1 transaction: due_timers(now, 1), remove, add {}, read "
      "the next; {} firings each after 20 untimed, slices of {}):\n",
      sync ? "WAL, synchronous=FULL" : "WAL, synchronous=OFF: NOT durable, CPU cost only",
      append ? "365 days ahead (past all pending)" : "1-365 days ahead", firings, slice);
  auto line = [&](const char* label, std::int64_t pending, double rate, const TimerDb& db) {
    fmt::print(
        "    {:<9} {:>9} pending: {:>8.0f} firings/s   p50 {:>7.1f} us   p99 {:>7.1f} us   max {:>7.1f} us\n",
        label, pending, rate, percentile(db.latencies, 0.5) * 1e6, percentile(db.latencies, 0.99) * 1e6,
        percentile(db.latencies, 1.0) * 1e6);
  };
  line("baseline,", baseline_timers, base_rate, base);
  line("subject,", timers, big_rate, big);
  fmt::print(
      "    ratio subject / baseline, total time:  {:>8.2f}  (target >= 0.90, \"{} pending timers do not "
      "slow the next firing\": {})\n",
      ratio, timers, ratio >= 0.9 ? "met" : "NOT met");
  fmt::print("    ratio subject / baseline, median of {} slices: {:.2f}  (robust to single flush stalls)\n",
             slice_ratios.size(), median(slice_ratios));
  fmt::print(
      "    pending before/after: baseline {}/{}, subject {}/{} (every firing took the earliest pending "
      "timer)\n",
      base_before, base_after, big_before, big_after);

  // The read alone: due_timers(now, 1) outside any write, each store at its own clock, interleaved in
  // slices of 1000; each figure is the median of its slices' per-read times.
  std::vector<double> base_reads, big_reads;
  const int read_slice = 1000;
  auto read_some = [&](TimerDb& db, int n) {
    const auto t0 = Clk::now();
    for (int i = 0; i < n; ++i) {
      auto due = must(db.store->due_timers(db.now, 1), "due_timers");
      if (due.size() != 1 || due.front().due_at != db.now) die(db.label + ": the read missed the next timer");
    }
    return seconds_since(t0) / n;
  };
  for (int start = 0, k = 0; start < reads; start += read_slice, ++k) {
    const int n = std::min(read_slice, reads - start);
    if (k % 2 == 0) {
      base_reads.push_back(read_some(base, n));
      big_reads.push_back(read_some(big, n));
    } else {
      big_reads.push_back(read_some(big, n));
      base_reads.push_back(read_some(base, n));
    }
  }
  const double base_read = median(base_reads), big_read = median(big_reads);
  fmt::print(
      "reading the next due timer alone (Store::due_timers(now, 1), no write; {} reads each, median of "
      "slices of {}):\n",
      reads, read_slice);
  fmt::print("    baseline {:>8.2f} us, subject {:>8.2f} us; ratio of rates subject / baseline {:.2f}\n",
             base_read * 1e6, big_read * 1e6, base_read / big_read);
  fmt::print(
      "(for reference, Store::pending_timers() — SELECT count(*) — took {:.2f} ms on the baseline and "
      "{:.2f} ms on the subject)\n",
      base_count_secs * 1e3, big_count_secs * 1e3);

  base.store.reset();
  big.store.reset();
  std::error_code ec;
  if (!keep) fs::remove_all(dir, ec);
  return 0;
}
