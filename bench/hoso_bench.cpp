// hoso benchmarks, each reported as a ratio against a baseline measured in the same run:
//  (a) durable transitions/s through the core and the SQLite store (one command per transaction,
//      WAL + synchronous=FULL), against raw SQLite appending rows of the same size with the same settings;
//  (b) the pure core's transitions/s in memory (decide + apply);
//  (c) audit verify and replay throughput (events/s, hashes checked) against a raw scan of the same rows.
#include <fmt/format.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/runtime/app.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/core.hpp"
#include "engine/service.hpp"
#include "bench/bench_support.hpp"
#include "bench/raw_sqlite.hpp"

using namespace hoso;
namespace fs = std::filesystem;
using namespace hoso::bench;

namespace {


// One step of the Huân chương path (the longest: unit → commune → province → council → central → President).
struct Step {
  std::string action, user;
  RawInput input;
};

std::vector<Step> huan_chuong_path() {
  auto with = [](std::vector<std::pair<std::string, std::string>> f) {
    RawInput in;
    in.fields = std::move(f);
    return in;
  };
  RawInput yes;
  yes.ballot = "yes";
  return {
      {"submit", "xom-khuan-lan.clerk", {}},
      {"accept", "ca-xa-phuong-tien.clerk", {}},
      {"appraise", "vhxh-xa-phuong-tien.appraiser", {}},
      {"forward", "ubnd-xa-phuong-tien.signer", {}},
      {"accept", "ca-tinh-thai-nguyen.clerk", {}},
      {"forward", "ca-tinh-thai-nguyen.appraiser", {}},
      {"appraise", "snv-thai-nguyen.appraiser", {}},
      {"vote", "snv-thai-nguyen.council1", yes},
      {"vote", "snv-thai-nguyen.council2", yes},
      {"vote", "snv-thai-nguyen.council3", yes},
      {"vote", "snv-thai-nguyen.council4", yes},
      {"forward", "ubnd-tinh-thai-nguyen.signer", {}},
      {"accept", "ban-tdkt-tw.clerk", {}},
      {"forward", "ban-tdkt-tw.appraiser", {}},
      {"forward", "vpcp.signer", {}},
      {"decide", "vp-ctn.signer", with({{"decision_number", "99/QĐ-CTN"}, {"decision_date", "2026-09-02"}})},
  };
}

RawInput proposal() {
  RawInput in;
  in.fields = {{"recipient_name", "Xóm Khuân Lân"},
               {"recipient_kind", "collective"},
               {"leads_cluster", "true"},
               {"merits_count", "3"},
               {"replicated_models", "1"}};
  for (const char* kind :
       {"to_trinh", "bao_cao_thanh_tich", "bien_ban_hop", "y_kien_hiep_y", "xac_nhan_thanh_tich"})
    in.documents.push_back(RawDocument{kind, std::string(kind) + ".pdf", std::string(64, 'a'), 1024});
  return in;
}

// A project loaded into a store, with the service over it.
using Harness = App;

std::unique_ptr<Harness> open_harness(const std::string& path, const yaml::Project& project,
                                      Durability durability) {
  auto store =
      must(SqliteStore::open(path, OpenMode::kCreate, SqliteStore::kDefaultBusyTimeout, durability), "open");
  must(store->write(
           [&](WriteTx& tx) { return yaml::install_project(tx, project, "2026-01-01T00:00:00.000Z"); }),
       "load project");
  return must(App::over(std::move(store)), "wire the service");
}

// The commands that walk `dossiers` Huân chương dossiers to central, interleaved (every dossier takes
// step k before any takes step k+1); command i runs with run_command(h, plan, i).
struct Plan {
  int dossiers = 0;
  std::vector<Step> path;
  RawInput first = proposal();
  std::vector<DossierId> ids;
  std::int64_t size() const {
    return static_cast<std::int64_t>(dossiers) * static_cast<std::int64_t>(path.size() + 1);
  }
};

Plan make_plan(int dossiers) {
  Plan p;
  p.dossiers = dossiers;
  p.path = huan_chuong_path();
  return p;
}

void run_command(Harness& h, Plan& p, std::int64_t i) {
  if (i < p.dossiers) {
    p.ids.push_back(
        must(h.service->create("standard", "huan_chuong_ld_nhat", "xom-khuan-lan.clerk", p.first), "create")
            .id);
    return;
  }
  const std::int64_t k = i - p.dossiers;
  const Step& step = p.path[static_cast<std::size_t>(k / p.dossiers)];
  must(h.service->act(p.ids[static_cast<std::size_t>(k % p.dossiers)], step.action, step.user, step.input),
       step.action.c_str());
}

std::int64_t walk_dossiers(Harness& h, int dossiers) {
  Plan p = make_plan(dossiers);
  for (std::int64_t i = 0; i < p.size(); ++i) run_command(h, p, i);
  return p.size();
}

// A raw scan of every column of the event log in append order. Returns rows read.
std::int64_t raw_scan(const std::string& path, std::size_t& checksum) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(
      db,
      "SELECT dossier_id, seq, type, at, actor_user, actor_role, actor_org, action, from_state, to_state, "
      "holder, note, payload, schema_version, prev_hash, hash FROM events ORDER BY gseq",
      -1, &st, nullptr);
  std::int64_t rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    ++rows;
    for (int c = 0; c < 16; ++c) {
      const unsigned char* t = sqlite3_column_text(st, c);
      checksum += static_cast<std::size_t>(sqlite3_column_bytes(st, c)) + (t ? t[0] : 0);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

// (b): decide + apply in memory, cycling one dossier along the Huân chương path.
void bench_core(const yaml::Project& project, std::int64_t target) {
  auto directory = must(Directory::build(project.orgs, project.users), "directory");
  const Definition* def = nullptr;
  for (const auto& w : project.workflows)
    if (w.definition->name() == "standard") def = w.definition.get();
  if (!def) die("no standard workflow");
  const AwardId award = *def->find_award("huan_chuong_ld_nhat");
  // Typed commands, prepared once (the edges do this conversion, not the core).
  struct Typed {
    ActCommand cmd;
    UserId user;
  };
  std::vector<Typed> steps;
  for (const auto& s : huan_chuong_path()) {
    Typed t;
    t.cmd.action = *def->find_action(s.action);
    t.user = *directory.find_user(s.user);
    if (!s.input.ballot.empty()) t.cmd.ballot = Ballot::kYes;
    for (const auto& [k, v] : s.input.fields) {
      auto f = *def->find_field(k);
      t.cmd.fields.push_back(FieldChange{f, parse_value(def->field(f).spec, v).value()});
    }
    steps.push_back(std::move(t));
  }
  CreateCommand create;
  create.award = award;
  for (const auto& [k, v] : proposal().fields) {
    auto f = *def->find_field(k);
    create.fields.push_back(FieldChange{f, parse_value(def->field(f).spec, v).value()});
  }
  for (const auto& d : proposal().documents)
    create.documents.push_back(DocumentRef{*def->find_document(d.kind), d.filename, d.sha256, d.size});
  Timestamp now{1772416800000};
  auto created = decide_create(*def, directory, create, *directory.find_user("xom-khuan-lan.clerk"), now);
  DossierState fresh;
  fresh.id = 1;
  must(apply_event(*def, fresh, std::get<Decision>(created).events[0]), "apply create");

  std::int64_t done = 0, refusals = 0;
  const auto t0 = Clk::now();
  while (done < target) {
    DossierState s = fresh;
    for (const auto& step : steps) {
      now.millis += 1000;
      Decided d = decide_act(*def, directory, s, step.cmd, step.user, now);
      if (auto* dec = std::get_if<Decision>(&d)) {
        for (const auto& e : dec->events)
          if (!apply_event(*def, s, e)) ++refusals;
      } else {
        ++refusals;
      }
      ++done;
    }
    if (!s.closed) die("the core walk did not reach the decision");
  }
  const double secs = seconds_since(t0);
  if (refusals) die(fmt::format("{} unexpected refusals in the core walk", refusals));
  const double rate = static_cast<double>(done) / secs;
  fmt::print(
      "(b) pure core, decide + apply in memory:      {:>12.0f} transitions/s  ({:.0f} ns each; target >= "
      "2,000,000/s: {})\n",
      rate, 1e9 / rate, rate >= 2e6 ? "met" : "NOT met");
}

}  // namespace

int main(int argc, char** argv) {
  int dossiers = 200;
  std::int64_t core_transitions = 4'000'000;
  int replay_dossiers = 8000;
  std::string only;
  bool keep = false;
  bool sync = true;  // --sync off: measure (a) without fsync, to see the CPU cost per command
  std::string log;   // --log FILE: (c) reads this log (kept by an earlier --keep yes run) instead of writing one
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dossiers")
      dossiers = std::stoi(argv[i + 1]);
    else if (a == "--core-transitions")
      core_transitions = std::stoll(argv[i + 1]);
    else if (a == "--replay-dossiers")
      replay_dossiers = std::stoi(argv[i + 1]);
    else if (a == "--only")
      only = argv[i + 1];
    else if (a == "--keep")
      keep = argv[i + 1] == std::string("yes");
    else if (a == "--sync")
      sync = argv[i + 1] != std::string("off");
    else if (a == "--log")
      log = argv[i + 1];
    else
      die("usage: hoso_bench [--dossiers N] [--core-transitions N] [--replay-dossiers N] [--only a|b|c] "
          "[--keep yes] [--sync off] [--log FILE]");
  }
  const std::string src = HOSO_SOURCE_DIR;
  auto project = yaml::load_project(src + "/config", src + "/workflows");
  if (!project.ok()) die(project.diagnostics.front().format());
  char tmpl[] = "/tmp/hoso-bench-XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp");
  const std::string dir = tmpl;
  fmt::print("hoso benchmarks — files in {}\n", dir);

  // (a) Durable transitions. The disk's flush time drifts by several times within a minute, so hoso and the
  // raw baseline run alternately in slices of 50 commands and each side sums only its own time.
  if (only.empty() || only == "a") {
    int event_bytes, state_bytes;
    {  // Row sizes come from a short hoso run.
      auto probe = open_harness(dir + "/probe.db", project, Durability::kNoSync);
      walk_dossiers(*probe, 5);
      std::tie(event_bytes, state_bytes) = row_sizes(dir + "/probe.db");
    }
    auto h = open_harness(dir + "/hoso.db", project, sync ? Durability::kFull : Durability::kNoSync);
    RawLog raw(dir + "/raw.db", dossiers, event_bytes, state_bytes, sync);
    Plan plan = make_plan(dossiers);
    double hoso_secs = 0, raw_secs = 0;
    std::vector<double> slice_ratios;  // hoso rate / raw rate in each slice
    const std::int64_t slice = 50;
    for (std::int64_t start = 0; start < plan.size(); start += slice) {
      const std::int64_t end = std::min(plan.size(), start + slice);
      auto t0 = Clk::now();
      for (std::int64_t i = start; i < end; ++i) raw.run(i);
      const double r = seconds_since(t0);
      t0 = Clk::now();
      for (std::int64_t i = start; i < end; ++i) run_command(*h, plan, i);
      const double hs = seconds_since(t0);
      raw_secs += r;
      hoso_secs += hs;
      slice_ratios.push_back(r / hs);
    }
    std::sort(slice_ratios.begin(), slice_ratios.end());
    const double median_ratio = slice_ratios[slice_ratios.size() / 2];
    const double hoso_rate = static_cast<double>(plan.size()) / hoso_secs;
    const double raw_rate = static_cast<double>(plan.size()) / raw_secs;
    fmt::print("(a) {} transitions (WAL, synchronous={}, 1 command = 1 transaction, {} commands each):\n",
               sync ? "durable" : "NOT durable (CPU cost only)", sync ? "FULL" : "OFF", plan.size());
    fmt::print("    hoso (core + SQLite store):               {:>12.0f} transitions/s\n", hoso_rate);
    fmt::print("    raw SQLite, rows of {} + {} bytes:        {:>12.0f} rows/s\n", event_bytes, state_bytes,
               raw_rate);
    fmt::print("    ratio hoso / raw, total time:              {:>12.2f}  (target >= 0.80: {})\n",
               hoso_rate / raw_rate, hoso_rate / raw_rate >= 0.8 ? "met" : "NOT met");
    fmt::print("    ratio hoso / raw, median of {} slices:      {:>12.2f}  (robust to single flush stalls)\n",
               slice_ratios.size(), median_ratio);
  }

  // (b) The pure core.
  if (only.empty() || only == "b") bench_core(project, core_transitions);
  if (!only.empty() && only != "c") {
    std::error_code ec;
    if (!keep) fs::remove_all(dir, ec);
    return 0;
  }

  // (c) Replay and audit over a large log, written without fsync to save time (it is read back, not timed).
  if (log.empty()) {
    log = dir + "/log.db";
    auto h = open_harness(log, project, Durability::kNoSync);
    walk_dossiers(*h, replay_dossiers);
  }
  // Three rounds of scan, audit and replay, interleaved; each rate is the median of its rounds, so one
  // slow moment on a shared machine moves no figure much.
  std::size_t checksum = 0;
  auto h = open_harness(log, project, Durability::kFull);
  std::vector<double> scan_rates, audit_rates, replay_rates;
  // CPU time of all threads, per round: on a machine busy with other work the parts of audit and replay
  // wait for a core, and their ratio over this one says what the work itself costs.
  std::vector<double> audit_cpu, replay_cpu;
  auto cpu_seconds = [] { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; };
  std::int64_t rows = 0;
  VerifyReport audit, replay;
  for (int round = 0; round < 3; ++round) {
    auto t0 = Clk::now();
    double c0 = cpu_seconds();
    rows = raw_scan(log, checksum);
    scan_rates.push_back(static_cast<double>(rows) / seconds_since(t0));
    const double scan_cpu = cpu_seconds() - c0;
    t0 = Clk::now();
    c0 = cpu_seconds();
    audit = must(h->service->audit_verify(), "audit");
    audit_rates.push_back(static_cast<double>(rows) / seconds_since(t0));
    audit_cpu.push_back((cpu_seconds() - c0) / scan_cpu);
    t0 = Clk::now();
    c0 = cpu_seconds();
    replay = must(h->service->replay_all(), "replay");
    replay_rates.push_back(static_cast<double>(rows) / seconds_since(t0));
    replay_cpu.push_back((cpu_seconds() - c0) / scan_cpu);
    if (!audit.ok || !replay.ok || audit.events != rows)
      die("the generated log does not verify: " + audit.failure + replay.failure);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double scan_rate = median(scan_rates);
  const double audit_rate = median(audit_rates);
  const double replay_rate = median(replay_rates);
  fmt::print("(c) reading the log back ({} events, {} dossiers; median of 3 rounds):\n", rows, replay.dossiers);
  fmt::print("    raw SQLite scan of the same rows:         {:>12.0f} events/s\n", scan_rate);
  fmt::print(
      "    hoso audit verify (every hash):           {:>12.0f} events/s  ratio {:.2f} (target >= 0.50: {})\n",
      audit_rate, audit_rate / scan_rate, audit_rate / scan_rate >= 0.5 ? "met" : "NOT met");
  fmt::print(
      "    hoso replay --all (hashes + full fold):   {:>12.0f} events/s  ratio {:.2f} (target >= 0.50: {})\n",
      replay_rate, replay_rate / scan_rate, replay_rate / scan_rate >= 0.5 ? "met" : "NOT met");
  fmt::print("    CPU time of all threads, over the scan's: audit {:.2f}, replay {:.2f} (median)\n", median(audit_cpu),
             median(replay_cpu));
  std::error_code ec;
  if (!keep) fs::remove_all(dir, ec);
  (void)checksum;
  return 0;
}
