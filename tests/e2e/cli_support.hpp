// Drives the real `hoso` binary against a real SQLite file in a fresh temporary folder.
#pragma once
#include <sqlite3.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/time.hpp"
#include "tests/support/db_dump.hpp"
#include "tests/support/process.hpp"

namespace hoso::testing {

namespace json = boost::json;

inline const std::string kSource = HOSO_SOURCE_DIR;

struct Cli {
  std::string dir, db;

  Cli() {
    char tmpl[] = "/tmp/hoso-e2e-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    db = dir + "/hoso.db";
  }
  ~Cli() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  RunResult operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), HOSO_BINARY);
    args.push_back("--db");
    args.push_back(db);
    return run(args);
  }

  void init(const std::string& workflows = kSource + "/workflows") const {
    auto r = (*this)({"init", "--config", kSource + "/config", "--workflows", workflows});
    INFO(r.err);
    REQUIRE(r.code == 0);
  }

  // Runs a command that must succeed and returns its stdout parsed as JSON.
  json::value ok_json(std::vector<std::string> args) const {
    args.push_back("--json");
    auto r = (*this)(args);
    INFO(args[0] << " " << (args.size() > 1 ? args[1] : "") << " → " << r.code << ": " << r.err);
    REQUIRE(r.code == 0);
    return json::parse(r.out);
  }

  // A copy of the shipped config/ in the test's directory, for the test to change: its path.
  std::string copy_config() const {
    const std::string config = dir + "/config";
    std::filesystem::copy(kSource + "/config", config, std::filesystem::copy_options::recursive);
    return config;
  }

  std::string write_file(const std::string& name, const std::string& content) const {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::string dump() const { return dump_database(db); }
};

// The end (15/11) of the latest closed yearly certification cycle, as of the system clock in Vietnam.
inline std::string latest_cycle_end_now() {
  using namespace std::chrono;
  const Timestamp now{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
  int y;
  unsigned m, d;
  civil_from_days(vietnam_date(now).days, y, m, d);
  const bool after = m > 11 || (m == 11 && d > 15);
  return std::to_string(after ? y : y - 1) + "-11-15";
}

inline void must_act(const Cli& cli, const std::string& id, const std::string& action, const std::string& user,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"dossier", "act", id, action, "--as", user};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = cli(args);
  INFO(action << " by " << user << ": " << r.err);
  REQUIRE(r.code == 0);
}

// A simulation database whose clock starts at `at` (UTC).
inline void init_virtual(const Cli& cli, const std::string& at) {
  auto r = cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows", "--clock",
                "virtual", "--at", at});
  INFO(r.err);
  REQUIRE(r.code == 0);
}

inline void advance_to(const Cli& cli, const std::string& at) {
  auto r = cli({"clock", "set", at});
  INFO(r.err);
  REQUIRE(r.code == 0);
}

inline std::string str(const json::value& v) { return std::string(v.as_string()); }

// Runs SQL on the database file directly, as a forger with file access would.
inline void forge(const Cli& cli, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(cli.db.c_str(), &db) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
  INFO(sql << ": " << (msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// The first column of the first row `sql` reads from the database file ("" when there is none).
inline std::string read_one(const Cli& cli, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(cli.db.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  std::string out;
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  INFO(sql);
  REQUIRE(rc == SQLITE_OK);
  return out;
}

// Creates a dossier; `extra` adds arguments (fields, docs). Returns its id.
inline std::string create(const Cli& cli, const std::string& workflow, const std::string& award,
                          const std::string& user, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"dossier", "create", "--workflow", workflow,
                                   "--award", award,    "--as",       user};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = cli(args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::string id = r.out;
  while (!id.empty() && (id.back() == '\n')) id.pop_back();
  return id;
}

// Arguments for a collective that meets every criterion, with every document attached.
inline std::vector<std::string> eligible_args(const Cli& cli) {
  std::vector<std::string> a = {"--field", "recipient_name=Xóm Khuân Lân",
                                "--field", "recipient_kind=collective",
                                "--field", "recipient_org_type=residential",
                                "--field", "leads_cluster=true",
                                "--field", "merits_count=3",
                                "--field", "replicated_models=1",
                                "--field", "has_movement_plan=true",
                                "--field", "security_certified=true",
                                "--field", "security_cert_cycle_end=" + latest_cycle_end_now(),
                                "--field", "movement_grade=xuat_sac",
                                "--field", "good_models=2",
                                "--field", "serious_incident=false",
                                "--field", "party_org_clean=true",
                                "--field", "has_complaints=false"};
  for (const char* kind : {"to_trinh", "bao_cao_thanh_tich", "bien_ban_hop", "y_kien_hiep_y",
                           "xac_nhan_thanh_tich", "tom_tat_thanh_tich"}) {
    a.push_back("--doc");
    a.push_back(std::string(kind) + "=" +
                cli.write_file(std::string(kind) + ".pdf", std::string("%PDF ") + kind));
  }
  return a;
}

// Walks a dossier forward with whoever holds it until it closes; returns the states visited.
inline std::vector<std::string> walk(const Cli& cli, const std::string& id) {
  static const std::vector<std::string> kForward = {"submit",  "resubmit", "accept", "appraise",
                                                    "forward", "decide",   "vote"};
  const json::value users = cli.ok_json({"users", "list"});
  std::vector<std::string> visited;
  for (int step = 0; step < 60; ++step) {
    const json::value d = cli.ok_json({"dossier", "show", id});
    visited.push_back(str(d.at("state")));
    if (str(d.at("status")) == "closed") return visited;
    const std::string holder = str(d.at("holder"));
    bool acted = false;
    for (const auto& u : users.as_array()) {
      if (str(u.at("org")) != holder) continue;
      const std::string user = str(u.at("id"));
      const json::value mine = cli.ok_json({"dossier", "show", id, "--as", user});
      for (const auto& name : kForward) {
        bool allowed = false;
        for (const auto& a : mine.at("actions").as_array()) allowed = allowed || str(a) == name;
        if (!allowed) continue;
        std::vector<std::string> args = {"dossier", "act", id, name, "--as", user};
        if (name == "decide")
          args.insert(args.end(),
                      {"--field", "decision_number=12/QĐ", "--field", "decision_date=2026-03-20"});
        if (name == "vote") args.insert(args.end(), {"--ballot", "yes"});
        auto r = cli(args);
        INFO(name << " by " << user << ": " << r.err);
        REQUIRE(r.code == 0);
        acted = true;
        break;
      }
      if (acted) break;
    }
    INFO("stuck at " << visited.back() << " held by " << holder);
    REQUIRE(acted);
  }
  FAIL("the dossier did not close");
  return visited;
}

}  // namespace hoso::testing
