// End-to-end: the real `hoso` binary on a real SQLite file.
#include <sqlite3.h>

#include <fstream>

#include "tests/e2e/cli_support.hpp"
#include "tests/support/paths.hpp"

using namespace hoso::testing;

namespace {

// Runs `hoso dossier act` and returns the result.
RunResult act(const Cli& cli, const std::string& id, const std::string& action, const std::string& user,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"dossier", "act", id, action, "--as", user};
  args.insert(args.end(), extra.begin(), extra.end());
  return cli(args);
}

void must(const RunResult& r) {
  INFO(r.err);
  REQUIRE(r.code == 0);
}

// Takes a standard dossier from a Phượng Tiến unit up to the council vote.
std::string to_council(const Cli& cli, const std::string& award) {
  const std::string id = create(cli, "standard", award, "xom-khuan-lan.clerk", eligible_args(cli));
  must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  must(act(cli, id, "accept", "ca-xa-phuong-tien.clerk"));
  must(act(cli, id, "appraise", "vhxh-xa-phuong-tien.appraiser"));
  must(act(cli, id, "forward", "ubnd-xa-phuong-tien.signer"));
  must(act(cli, id, "accept", "ca-tinh-thai-nguyen.clerk"));
  must(act(cli, id, "forward", "ca-tinh-thai-nguyen.appraiser"));
  must(act(cli, id, "appraise", "snv-thai-nguyen.appraiser"));
  return id;
}

}  // namespace

TEST_CASE("init, lists and diagrams", "[e2e]") {
  Cli cli;
  cli.init();
  const auto orgs = cli.ok_json({"orgs", "list"});
  bool found = false;
  for (const auto& o : orgs.as_array())
    if (str(o.at("id")) == "xa-phuong-tien") {
      found = true;
      CHECK(str(o.at("kind")) == "commune");
      CHECK(str(o.at("parent")) == "thai-nguyen");
      CHECK(str(o.at("name")).find("Phượng Tiến") != std::string::npos);
    }
  CHECK(found);
  const auto users = cli.ok_json({"users", "list"});
  REQUIRE(users.as_array().size() > 50);
  CHECK(users.as_array()[0].as_object().contains("roles"));
  const auto wfs = cli.ok_json({"workflows", "list"});
  REQUIRE(wfs.as_array().size() == 3);
  auto mermaid = cli({"workflows", "show", "standard", "--format", "mermaid"});
  CHECK(mermaid.code == 0);
  CHECK(mermaid.out.find("stateDiagram-v2") == 0);
  CHECK(mermaid.out.find("council_vote --> province_decision") != std::string::npos);
  auto dot = cli({"workflows", "show", "simplified", "--format", "dot"});
  CHECK(dot.out.find("digraph") == 0);
  auto js = cli.ok_json({"workflows", "show", "standard", "--format", "json"});
  CHECK(str(js.at("name")) == "standard");
  CHECK(cli({"workflows", "show", "nope"}).code == 3);
  CHECK(cli({"workflows", "show", "standard", "--format", "png"}).code == 2);
}

TEST_CASE("loading again adds definition versions and never changes an old dossier", "[e2e][definitions]") {
  Cli cli;
  cli.init();
  const std::string old_id =
      create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  const std::string old_hash = str(cli.ok_json({"dossier", "show", old_id}).at("definition_hash"));
  // Loading the same files again adds nothing.
  auto again = cli.ok_json({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows"});
  CHECK(again.at("new_definitions").as_int64() == 0);
  // An edited copy of the workflows: the commune intake now goes straight to the decision.
  const std::string wf = cli.dir + "/workflows";
  std::filesystem::create_directory(wf);
  std::filesystem::copy_file(kSource + "/workflows/simplified.yaml", wf + "/simplified.yaml");
  std::ifstream in(kSource + "/workflows/standard.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "title: \"Thủ tục khen thưởng thông thường\"";
  REQUIRE(text.find(from) != std::string::npos);
  text.replace(text.find(from), from.size(), "title: \"Thủ tục khen thưởng thông thường (sửa đổi)\"");
  std::ofstream(wf + "/standard.yaml") << text;
  auto loaded = cli.ok_json({"init", "--config", kSource + "/config", "--workflows", wf});
  CHECK(loaded.at("new_definitions").as_int64() == 1);
  const std::string new_id =
      create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  CHECK(str(cli.ok_json({"dossier", "show", new_id}).at("definition_hash")) != old_hash);
  CHECK(str(cli.ok_json({"dossier", "show", old_id}).at("definition_hash")) == old_hash);
  // The old dossier still walks and replays under the definition it started with.
  CHECK(walk(cli, old_id).back() == "approved");
  CHECK(cli({"replay", old_id}).code == 0);
  CHECK(cli({"audit", "verify"}).code == 0);
}

TEST_CASE("every award kind's full path through the binary", "[e2e][paths]") {
  Cli cli;
  cli.init();
  const std::string unit = "xom-khuan-lan.clerk";
  CHECK(walk(cli, create(cli, "standard", "giay_khen_xa", unit, eligible_args(cli))) ==
        concat({kCommunePath, {"approved"}}));
  for (const char* award : {"bang_khen_tinh", "co_thi_dua_tinh"})
    CHECK(walk(cli, create(cli, "standard", award, unit, eligible_args(cli))) ==
          concat({kCommunePath, kProvincePath, {"approved"}}));
  for (const char* award : {"bang_khen_ttg", "co_thi_dua_cp"})
    CHECK(walk(cli, create(cli, "standard", award, unit, eligible_args(cli))) ==
          concat({kCommunePath,
                  kProvincePath,
                  {"central_intake", "central_appraisal", "pm_decision", "approved"}}));
  for (const char* award : {"huan_chuong_ld_nhat", "huan_chuong_ld_nhi", "huan_chuong_ld_ba"})
    CHECK(walk(cli, create(cli, "standard", award, unit, eligible_args(cli))) ==
          concat({kCommunePath,
                  kProvincePath,
                  {"central_intake", "central_appraisal", "pm_decision", "president_decision", "approved"}}));
  CHECK(walk(cli, create(cli, "standard", "giay_khen_so", "sgddt-lao-cai.clerk", eligible_args(cli))) ==
        std::vector<std::string>{"draft", "approved"});
  CHECK(walk(cli, create(cli, "standard", "bang_khen_tinh", "syt-lao-cai.clerk", eligible_args(cli))) ==
        concat({{"draft"}, kProvincePath, {"approved"}}));
  const std::vector<std::string> dot_xuat = {
      "--field", "recipient_name=Anh Lò Văn Páo", "--field", "recipient_kind=individual",
      "--field", "act_date=2026-01-10",           "--field", "act_summary=Cứu người trong lũ quét"};
  auto docs = eligible_args(cli);
  std::vector<std::string> args = dot_xuat;
  args.insert(args.end(), docs.end() - 12, docs.end());  // the six --doc pairs
  CHECK(walk(cli, create(cli, "simplified", "giay_khen_xa_dot_xuat", "thon-phin-ngan.clerk", args)) ==
        std::vector<std::string>{"draft", "commune_review", "commune_decision", "approved"});
  CHECK(walk(cli, create(cli, "simplified", "bang_khen_tinh_dot_xuat", "thon-phin-ngan.clerk", args)) ==
        std::vector<std::string>{"draft", "commune_review", "commune_decision", "province_review",
                                 "province_decision", "approved"});
  // The history of a decided dossier names who, when, why and carries the chain of hashes.
  const auto hist = cli.ok_json({"history", "1"});
  const auto& events = hist.as_array();
  REQUIRE(events.size() == 5);
  CHECK(str(events[0].at("type")) == "DossierCreated");
  CHECK(str(events[4].at("type")) == "DossierDecided");
  CHECK(str(events[4].at("actor").at("user")) == "ubnd-xa-phuong-tien.signer");
  CHECK(str(events[4].at("prev_hash")) == str(events[3].at("hash")));
  for (const auto& e : events)
    for (const char* key : {"seq", "type", "at", "actor", "from", "to", "note", "hash"})
      CHECK(e.as_object().contains(key));
  auto replay_all = cli.ok_json({"replay", "--all"});
  CHECK(replay_all.at("ok").as_bool());
  CHECK(replay_all.at("dossiers").as_int64() == 12);
  auto audit = cli.ok_json({"audit", "verify"});
  CHECK(audit.at("ok").as_bool());
}

TEST_CASE("return and resubmit, rejection, closed dossiers", "[e2e]") {
  Cli cli;
  cli.init();
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  auto no_reason = act(cli, id, "return", "ca-xa-phuong-tien.clerk");
  CHECK(no_reason.code == 5);
  CHECK(no_reason.err.find("lý do") != std::string::npos);
  must(act(cli, id, "return", "ca-xa-phuong-tien.clerk", {"--note", "Thiếu chữ ký trên biên bản"}));
  auto d = cli.ok_json({"dossier", "show", id});
  CHECK(str(d.at("state")) == "origin_supplement");
  CHECK(str(d.at("holder")) == "xom-khuan-lan");
  auto inbox = cli.ok_json({"inbox", "--as", "xom-khuan-lan.clerk"});
  REQUIRE(inbox.as_array().size() == 1);
  must(act(
      cli, id, "resubmit", "xom-khuan-lan.clerk",
      {"--doc", "bien_ban_hop=" + cli.write_file("bb2.pdf", "%PDF signed"), "--note", "Đã bổ sung chữ ký"}));
  CHECK(str(cli.ok_json({"dossier", "show", id}).at("state")) == "commune_intake");
  must(act(cli, id, "reject", "ca-xa-phuong-tien.clerk", {"--note", "Không đủ điều kiện"}));
  d = cli.ok_json({"dossier", "show", id});
  CHECK(str(d.at("status")) == "closed");
  CHECK(str(d.at("state")) == "rejected");
  const std::string before = cli.dump();
  auto closed = act(cli, id, "accept", "ca-xa-phuong-tien.clerk");
  CHECK(closed.code == 5);
  CHECK(closed.err.find("đã kết thúc") != std::string::npos);
  CHECK(cli.dump() == before);
  const auto hist = cli.ok_json({"history", id});
  REQUIRE(hist.as_array().size() == 5);
  CHECK(str(hist.as_array()[2].at("type")) == "DossierReturned");
  CHECK(str(hist.as_array()[2].at("note")) == "Thiếu chữ ký trên biên bản");
  CHECK(str(hist.as_array()[4].at("type")) == "DossierRejected");
}

TEST_CASE("council votes that pass and that fail their threshold", "[e2e][vote]") {
  Cli cli;
  cli.init();
  const std::string m = "snv-thai-nguyen.council";
  SECTION("4 yes of 5 members passes the 80% threshold") {
    const std::string id = to_council(cli, "bang_khen_tinh");
    for (int i = 1; i <= 3; ++i) must(act(cli, id, "vote", m + std::to_string(i), {"--ballot", "yes"}));
    CHECK(str(cli.ok_json({"dossier", "show", id}).at("state")) == "council_vote");
    auto twice = act(cli, id, "vote", m + "1", {"--ballot", "yes"});
    CHECK(twice.code == 5);
    must(act(cli, id, "vote", m + "4", {"--ballot", "yes"}));
    auto d = cli.ok_json({"dossier", "show", id});
    CHECK(str(d.at("state")) == "province_decision");
    CHECK(str(d.at("holder")) == "ubnd-tinh-thai-nguyen");
  }
  SECTION("2 no votes of 5 make 80% unreachable: the vote fails") {
    const std::string id = to_council(cli, "co_thi_dua_tinh");
    must(act(cli, id, "vote", m + "1", {"--ballot", "yes"}));
    must(act(cli, id, "vote", m + "2", {"--ballot", "no"}));
    must(act(cli, id, "vote", m + "3", {"--ballot", "no"}));
    auto d = cli.ok_json({"dossier", "show", id});
    CHECK(str(d.at("state")) == "rejected");
    const auto hist = cli.ok_json({"history", id});
    CHECK(str(hist.as_array().back().at("type")) == "VoteCast");
    CHECK(str(hist.as_array().back().at("payload").at("ballot")) == "no");
  }
}

TEST_CASE("every Phượng Tiến criterion refuses with its clause named", "[e2e][guards]") {
  Cli cli;
  cli.init();
  for (const auto& c : kEligibilityCases) {
    auto args = eligible_args(cli);
    for (auto& a : args)
      if (a.rfind(c.field + "=", 0) == 0) a = c.field + "=" + c.value;
    const std::string id = create(cli, "standard", c.award, "xom-khuan-lan.clerk", args);
    const std::string before = cli.dump();
    auto r = act(cli, id, "submit", "xom-khuan-lan.clerk", {"--json"});
    INFO(c.clause << ": " << r.err);
    CHECK(r.code == 5);
    auto err = boost::json::parse(r.err);
    CHECK(str(err.at("error").at("reason")) == "guard_failed");
    CHECK(str(err.at("error").at("subject")) == c.clause);
    CHECK(str(err.at("error").at("message")).find("Không đạt tiêu chí '" + c.clause + "'") !=
          std::string::npos);
    CHECK(cli.dump() == before);
  }
  // An individual who heads a unit: the unit's own movement must be effective.
  auto args = eligible_args(cli);
  for (auto& a : args)
    if (a == "recipient_kind=collective") a = "recipient_kind=individual";
  args.insert(args.end(), {"--field", "heads_unit=true", "--field", "unit_movement_effective=false"});
  const std::string id = create(cli, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", args);
  auto r = act(cli, id, "submit", "xom-khuan-lan.clerk");
  CHECK(r.code == 5);
  CHECK(r.err.find("unit_head_movement") != std::string::npos);
}

TEST_CASE("permission refusals", "[e2e][security]") {
  Cli cli;
  cli.init();
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  const std::string before = cli.dump();
  auto other_org = act(cli, id, "submit", "thcs-phuong-tien.clerk");
  CHECK(other_org.code == 4);
  CHECK(other_org.err.find("không có quyền") != std::string::npos);
  auto auditor = act(cli, id, "submit", "ubnd-tinh-thai-nguyen.auditor");
  CHECK(auditor.code == 4);
  must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  auto wrong_role = act(cli, id, "accept", "ubnd-xa-phuong-tien.signer");
  CHECK(wrong_role.code == 4);
  CHECK(cli({"dossier", "show", id, "--as", "ubnd-tinh-lao-cai.auditor"}).code == 4);
  CHECK(cli({"history", id, "--as", "ubnd-tinh-lao-cai.auditor"}).code == 4);
  CHECK(cli({"dossier", "show", id, "--as", "ubnd-tinh-thai-nguyen.auditor"}).code == 0);
  CHECK(cli({"dossier", "act", id, "accept", "--as", "nobody"}).code == 3);
  CHECK(cli({"dossier", "show", "999"}).code == 3);
  (void)before;
}

TEST_CASE("bad input is refused with a clear error and leaves the database as it was", "[e2e][input]") {
  Cli cli;
  cli.init();
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  const std::string before = cli.dump();
  auto expect = [&](const RunResult& r, int code, const std::string& fragment) {
    INFO(r.err);
    CHECK(r.code == code);
    CHECK(r.err.find(fragment) != std::string::npos);
    CHECK(cli.dump() == before);
  };
  expect(cli({"dossier", "create", "--workflow", "standard", "--award", "huy_chuong_vang", "--as",
              "xom-khuan-lan.clerk", "--field", "recipient_name=X", "--field", "recipient_kind=collective"}),
         2, "huy_chuong_vang");
  expect(cli({"dossier", "create", "--workflow", "standard", "--award", "giay_khen_xa", "--as",
              "xom-khuan-lan.clerk", "--field", "recipient_name=X", "--field", "recipient_kind=collective",
              "--field", "colour=blue"}),
         2, "colour");
  expect(cli({"dossier", "create", "--workflow", "standard", "--award", "giay_khen_xa", "--as",
              "xom-khuan-lan.clerk", "--field", "recipient_name=X", "--field", "recipient_kind=collective",
              "--field", "merits_count=ba"}),
         2, "merits_count");
  expect(cli({"dossier", "create", "--workflow", "standard", "--award", "giay_khen_xa", "--as",
              "xom-khuan-lan.clerk", "--field", "recipient_name=X\xff\xfe", "--field",
              "recipient_kind=collective"}),
         2, "UTF-8");
  expect(act(cli, id, "return", "ca-xa-phuong-tien.clerk", {"--note", "Sai \xc3\x28"}), 2, "UTF-8");
  const std::string big = cli.write_file("big-note.txt", std::string(10 * 1024 * 1024, 'a'));
  expect(act(cli, id, "submit", "xom-khuan-lan.clerk", {"--note-file", big}), 2, "vượt quá giới hạn");
  expect(cli({"dossier", "create", "--workflow", "standard", "--award", "giay_khen_xa", "--as",
              "xom-khuan-lan.clerk", "--doc", "to_trinh=/nonexistent/file.pdf"}),
         2, "/nonexistent/file.pdf");
  expect(cli({"dossier", "act", id}), 2, "cách dùng");
  expect(cli({"dossier", "act", id, "submit", "--as", "xom-khuan-lan.clerk", "--bogus"}), 2, "--bogus");
  expect(act(cli, id, "fly", "xom-khuan-lan.clerk"), 2, "fly");
  // An option the command would ignore is refused, not dropped.
  expect(cli({"dossier", "show", id, "--field", "x=1"}), 2, "--field");
  expect(cli({"audit", "verify", "--as", "bo-noi-vu.auditor"}), 2, "--as");
  expect(cli({"replay", id, "--ballot", "yes"}), 2, "--ballot");
  expect(cli({"inbox", "5", "--as", "ca-xa-phuong-tien.clerk"}), 2, "inbox");
  expect(cli({"orgs", "list", "junk"}), 2, "orgs list");
  expect(act(cli, id, "submit", "xom-khuan-lan.clerk", {"--note-file", cli.dir + "/missing.txt"}), 2,
         "missing.txt");
  expect(act(cli, id, "decide", "xom-khuan-lan.clerk"), 5, "không áp dụng");
  expect(act(cli, id, "submit", "xom-khuan-lan.clerk", {"--expect-version", "7"}), 6, "phiên bản");
  // A malformed workflow: init reports file:line:col and does not touch the database.
  const std::string wf = cli.dir + "/broken";
  std::filesystem::create_directory(wf);
  cli.write_file("broken/standard.yaml", "workflow: x\nstates: [unclosed\n");
  auto bad = cli({"init", "--config", kSource + "/config", "--workflows", wf});
  CHECK(bad.code == 7);
  CHECK(bad.err.find("broken/standard.yaml:3:1: error: end of sequence flow not found") != std::string::npos);
  CHECK(cli.dump() == before);
  // `workflows check` agrees.
  auto check = cli({"workflows", "check", "--config", kSource + "/config", "--workflows", wf});
  CHECK(check.code == 7);
  CHECK(check.err.find("broken/standard.yaml:3:1: error:") != std::string::npos);
  // A date rule misused in a workflow: located, nothing loaded.
  std::filesystem::create_directory(cli.dir + "/dated");
  for (const char* name : {"standard.yaml", "simplified.yaml", "report.yaml"}) {
    std::ifstream in(kSource + "/workflows/" + name);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (std::string(name) == "standard.yaml") {
      const auto at = text.find("not_after: today");
      REQUIRE(at != std::string::npos);
      text.replace(at, 16, "not_after: tomorrow");
    }
    cli.write_file(std::string("dated/") + name, text);
  }
  auto dated = cli({"init", "--config", kSource + "/config", "--workflows", cli.dir + "/dated"});
  CHECK(dated.code == 7);
  CHECK(dated.err.find("dated/standard.yaml:35:") != std::string::npos);
  CHECK(dated.err.find("not_after must be 'today', not 'tomorrow'") != std::string::npos);
  CHECK(cli.dump() == before);
  // A decision signed on a day that has not come: refused, naming the field, nothing written.
  for (auto [action, user] : {std::pair{"submit", "xom-khuan-lan.clerk"}, std::pair{"accept", "ca-xa-phuong-tien.clerk"},
                              std::pair{"appraise", "vhxh-xa-phuong-tien.appraiser"}})
    REQUIRE(act(cli, id, action, user).code == 0);
  const std::string at_decision = cli.dump();
  auto future = act(cli, id, "decide", "ubnd-xa-phuong-tien.signer",
                    {"--field", "decision_number=1/QĐ", "--field", "decision_date=2099-01-01"});
  INFO(future.err);
  CHECK(future.code == 2);
  CHECK(future.err.find("decision_date") != std::string::npos);
  CHECK(future.err.find("không ghi một ngày chưa tới") != std::string::npos);
  CHECK(cli.dump() == at_decision);
  // A command on a database that does not exist creates nothing.
  Cli empty;
  auto none = empty({"dossier", "show", "1"});
  CHECK(none.code == 3);
  CHECK_FALSE(std::filesystem::exists(empty.db));
}

TEST_CASE("two processes acting on the same version: one wins, the stale one is refused",
          "[e2e][concurrency]") {
  Cli cli;
  cli.init();
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  for (int round = 0; round < 3; ++round) {
    const std::string version = std::to_string(cli.ok_json({"dossier", "show", id}).at("version").as_int64());
    auto a = spawn({HOSO_BINARY, "dossier", "act", id, round % 2 ? "reject" : "return", "--as",
                    "ca-xa-phuong-tien.clerk", "--note", "A", "--expect-version", version, "--db", cli.db});
    auto b = spawn({HOSO_BINARY, "dossier", "act", id, round % 2 ? "reject" : "return", "--as",
                    "ca-xa-phuong-tien.clerk", "--note", "B", "--expect-version", version, "--db", cli.db});
    auto ra = finish(a), rb = finish(b);
    INFO(ra.err << " / " << rb.err);
    CHECK(((ra.code == 0 && rb.code == 6) || (ra.code == 6 && rb.code == 0)));
    const auto hist = cli.ok_json({"history", id});
    CHECK(hist.as_array().size() == static_cast<std::size_t>(3 + round * 2));
    if (round == 0) {
      must(act(cli, id, "resubmit", "xom-khuan-lan.clerk"));
    } else if (round == 1) {
      break;  // rejected: closed
    }
  }
  CHECK(cli({"audit", "verify"}).code == 0);
}

TEST_CASE("a tampered database file is caught by audit verify and replay", "[e2e][audit]") {
  Cli cli;
  cli.init();
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  must(act(cli, id, "accept", "ca-xa-phuong-tien.clerk"));
  CHECK(cli({"audit", "verify"}).code == 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(cli.db.c_str(), &db) == SQLITE_OK);
  // The log refuses edits by itself...
  CHECK(sqlite3_exec(db, "UPDATE events SET note = 'x' WHERE seq = 2", nullptr, nullptr, nullptr) !=
        SQLITE_OK);
  CHECK(sqlite3_exec(db, "DELETE FROM events WHERE seq = 3", nullptr, nullptr, nullptr) != SQLITE_OK);
  // ...so a forger drops the guard and rewrites who acted.
  REQUIRE(sqlite3_exec(db, "DROP TRIGGER IF EXISTS events_no_update", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  char* msg = nullptr;
  int rc = sqlite3_exec(db, "UPDATE events SET actor_user = 'thcs-phuong-tien.clerk' WHERE seq = 2", nullptr,
                        nullptr, &msg);
  INFO((msg ? msg : ""));
  REQUIRE(rc == SQLITE_OK);
  REQUIRE(sqlite3_changes(db) == 1);
  sqlite3_close(db);
  auto audit = cli({"audit", "verify", "--json"});
  CHECK(audit.code == 8);
  auto report = boost::json::parse(audit.out);
  CHECK_FALSE(report.at("ok").as_bool());
  CHECK(report.at("dossier").as_int64() == std::stoll(id));
  CHECK(report.at("seq").as_int64() == 2);
  auto text = cli({"audit", "verify"});
  CHECK(text.code == 8);
  CHECK(text.out.find("sự kiện 2") != std::string::npos);
  CHECK(cli({"replay", id}).code == 8);
}

TEST_CASE("a projection forged behind the log's back is neither shown nor acted on", "[e2e][audit]") {
  Cli cli;
  cli.init();
  const std::string id = to_council(cli, "bang_khen_tinh");
  for (int i = 1; i <= 2; ++i)
    must(act(cli, id, "vote", "snv-thai-nguyen.council" + std::to_string(i), {"--ballot", "no"}));
  REQUIRE(str(cli.ok_json({"dossier", "show", id}).at("state")) == "rejected");
  SECTION("reopening a rejected dossier by editing its projection") {
    forge(cli,
          "UPDATE dossiers SET closed = 0, state = 'province_decision', holder = 'ubnd-tinh-thai-nguyen' "
          "WHERE id = " +
              id);
    const std::string before = cli.dump();
    auto r = act(cli, id, "decide", "ubnd-tinh-thai-nguyen.signer",
                 {"--field", "decision_number=1/QĐ", "--field", "decision_date=2026-03-20"});
    CHECK(r.code == 8);
    CHECK(r.err.find("không khớp với lịch sử") != std::string::npos);
    CHECK(cli.dump() == before);
    CHECK(cli({"dossier", "show", id}).code == 8);
    CHECK(cli({"replay", id}).code == 8);
  }
  SECTION("back-dating the submission day (eligibility is judged on it)") {
    forge(cli, "UPDATE dossiers SET submitted_at = '2020-01-01T00:00:00.000Z' WHERE id = " + id);
    auto audit = cli({"audit", "verify", "--json"});
    CHECK(audit.code == 8);
    CHECK(boost::json::parse(audit.out).at("dossier").as_int64() == std::stoll(id));
    CHECK(cli({"dossier", "show", id}).code == 8);
  }
  SECTION("repointing the dossier at another definition") {
    const auto defs = cli.ok_json({"workflows", "list"});
    std::string other;
    for (const auto& d : defs.as_array())
      if (str(d.at("name")) == "simplified") other = str(d.at("hash"));
    forge(cli, "UPDATE dossiers SET definition_hash = '" + other + "' WHERE id = " + id);
    CHECK(cli({"dossier", "show", id}).code == 8);
    CHECK(cli({"replay", id}).code == 8);
  }
  SECTION("rewriting the first event's type is caught by audit and replay, without a crash") {
    // (service_test covers the same edit with the hash recomputed.)
    forge(cli, "DROP TRIGGER events_no_update");
    forge(cli, "UPDATE events SET type = 'DossierSubmitted' WHERE dossier_id = " + id + " AND seq = 1");
    auto audit = cli({"audit", "verify", "--json"});
    CHECK(audit.code == 8);
    CHECK(boost::json::parse(audit.out).at("seq").as_int64() == 1);
    auto replay = cli({"replay", id, "--json"});
    CHECK(replay.code == 8);
  }
}

TEST_CASE("replay --all reports the failure earliest in the log, whichever part finds it", "[e2e][audit]") {
  Cli cli;
  cli.init();
  // Three dossiers whose events interleave in the log: d1 s1, d2 s1, d3 s1, d1 s2, d2 s2, d3 s2, ...
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli)));
  for (const auto& id : ids) must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  for (const auto& id : ids) must(act(cli, id, "accept", "ca-xa-phuong-tien.clerk"));
  REQUIRE(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
  forge(cli, "DROP TRIGGER events_no_update");
  SECTION("two forged events in different parts: the earlier one is named") {
    // The later edit (dossier 1, event 3) lands in another part than the earlier one (dossier 2, event 2).
    forge(cli, "UPDATE events SET note = 'sửa' WHERE dossier_id = " + ids[0] + " AND seq = 3");
    forge(cli, "UPDATE events SET note = 'sửa' WHERE dossier_id = " + ids[1] + " AND seq = 2");
    for (int run = 0; run < 3; ++run) {
      auto replay = cli({"replay", "--all", "--json"});
      CHECK(replay.code == 8);
      const auto report = boost::json::parse(replay.out);
      CHECK(report.at("dossier").as_int64() == std::stoll(ids[1]));
      CHECK(report.at("seq").as_int64() == 2);
    }
    auto audit = boost::json::parse(cli({"audit", "verify", "--json"}).out);
    CHECK(audit.at("dossier").as_int64() == std::stoll(ids[1]));
    CHECK(audit.at("seq").as_int64() == 2);
  }
  SECTION("a projection edited behind the log's back") {
    forge(cli, "UPDATE dossiers SET holder = 'ubnd-xa-phuong-tien' WHERE id = " + ids[2]);
    auto replay = cli({"replay", "--all", "--json"});
    CHECK(replay.code == 8);
    const auto report = boost::json::parse(replay.out);
    CHECK(report.at("dossier").as_int64() == std::stoll(ids[2]));
    CHECK(str(report.at("failure")).find("holder") != std::string::npos);
  }
  SECTION("a projection copied under an id below 1, which no part's id range would start at") {
    forge(cli, "CREATE TABLE copy AS SELECT * FROM dossiers WHERE id = " + ids[0] +
                   "; UPDATE copy SET id = -4; INSERT INTO dossiers SELECT * FROM copy; DROP TABLE copy");
    for (const char* what : {"audit", "replay"}) {
      INFO(what);
      auto r = what == std::string("audit") ? cli({"audit", "verify", "--json"}) : cli({"replay", "--all", "--json"});
      CHECK(r.code == 8);
      CHECK(boost::json::parse(r.out).at("dossier").as_int64() == -4);
    }
  }
  SECTION("events of a dossier whose projection was deleted") {
    forge(cli, "DELETE FROM dossiers WHERE id = " + ids[0]);
    auto replay = cli({"replay", "--all", "--json"});
    CHECK(replay.code == 8);
    CHECK(boost::json::parse(replay.out).at("dossier").as_int64() == std::stoll(ids[0]));
  }
}

TEST_CASE("config may retire people but never drop anyone the history names", "[e2e][definitions]") {
  Cli cli;
  cli.init();
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
  const std::string config = cli.dir + "/config";
  std::filesystem::create_directory(config);
  for (const char* f : {"orgs.yaml", "awards.yaml", "calendar.yaml", "templates.yaml"})
    std::filesystem::copy_file(kSource + "/config/" + f, config + "/" + f);
  std::filesystem::copy(kSource + "/config/calendar", config + "/calendar");
  std::ifstream in(kSource + "/config/users.yaml");
  const std::string users((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string block =
      "  - id: xom-khuan-lan.clerk\n    name: \"Trần Thanh Giang\"\n    email: "
      "giang.tt@xom-khuan-lan.example\n"
      "    org: xom-khuan-lan\n    roles: [clerk]\n";
  REQUIRE(users.find(block) != std::string::npos);
  auto load = [&](const std::string& text) {
    std::ofstream(config + "/users.yaml") << text;
    return cli({"init", "--config", config, "--workflows", kSource + "/workflows"});
  };
  SECTION("removing a user who acted is refused and changes nothing") {
    std::string without = users;
    without.erase(without.find(block), block.size());
    const std::string before = cli.dump();
    auto r = load(without);
    CHECK(r.code == 7);
    CHECK(r.err.find("users.yaml:1:1: error: user 'xom-khuan-lan.clerk' is named in the history of dossier " +
                     id) != std::string::npos);
    CHECK(cli.dump() == before);
  }
  SECTION("a retired user stays in the history but can no longer act or read") {
    std::string retired = users;
    retired.replace(retired.find(block), block.size(), block + "    active: false\n");
    auto r = load(retired);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(cli({"dossier", "act", id, "withdraw", "--as", "xom-khuan-lan.clerk", "--note", "rút"}).code == 4);
    CHECK(cli({"dossier", "show", id, "--as", "xom-khuan-lan.clerk"}).code == 4);
    CHECK(cli({"inbox", "--as", "xom-khuan-lan.clerk"}).code == 4);
    CHECK(cli({"replay", id}).code == 0);
    CHECK(cli({"audit", "verify"}).code == 0);
    bool shown_inactive = false;
    const auto listed = cli.ok_json({"users", "list"});
    for (const auto& u : listed.as_array())
      if (str(u.at("id")) == "xom-khuan-lan.clerk") shown_inactive = !u.at("active").as_bool();
    CHECK(shown_inactive);
    CHECK(walk(cli, id).back() == "approved");
  }
}

TEST_CASE("delegation: the Phó Chủ tịch decides for the Chủ tịch through the binary, recorded and verified",
          "[e2e][delegation]") {
  Cli cli;
  init_virtual(cli, "2026-03-10T02:00:00Z");  // 10/03/2026, within the delegation (01/03–30/04/2026)
  const std::string deputy = "ubnd-xa-phuong-tien.appraiser", chair = "ubnd-xa-phuong-tien.signer";
  auto args = eligible_args(cli);
  for (auto& a : args)
    if (a.rfind("security_cert_cycle_end=", 0) == 0) a = "security_cert_cycle_end=2025-11-15";
  auto to_decision = [&] {
    const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", args);
    must(act(cli, id, "submit", "xom-khuan-lan.clerk"));
    must(act(cli, id, "accept", "ca-xa-phuong-tien.clerk"));
    must(act(cli, id, "appraise", "vhxh-xa-phuong-tien.appraiser"));
    return id;
  };
  const std::string id = to_decision(), later = to_decision();
  const std::vector<std::string> decision = {"--field", "decision_number=15/QĐ-UBND", "--field",
                                             "decision_date=2026-03-10"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), decision.begin(), decision.end());
    return extra;
  };
  // The Chủ tịch's inbox, for his delegate.
  auto inbox = cli.ok_json({"inbox", "--as", deputy, "--on-behalf-of", chair});
  CHECK(inbox.as_array().size() == 2);
  CHECK(cli.ok_json({"inbox", "--as", deputy}).as_array().empty());
  // Her own role does not decide; on his behalf it does.
  auto own = act(cli, id, "decide", deputy, decision);
  CHECK(own.code == 4);
  must(act(cli, id, "decide", deputy, with({"--on-behalf-of", chair})));
  auto events = cli.ok_json({"history", id}).as_array();
  REQUIRE(events.size() == 5);
  const auto& decided = events.back().as_object();
  CHECK(str(decided.at("actor").at("user")) == deputy);
  CHECK(str(decided.at("actor").at("role")) == "signer");
  CHECK(str(decided.at("actor").at("org")) == "ubnd-xa-phuong-tien");
  CHECK(str(decided.at("on_behalf_of")) == chair);
  CHECK(str(decided.at("payload").at("on_behalf_of")) == chair);
  auto human = cli({"history", id});
  must(human);
  CHECK(human.out.find(deputy + " thay mặt Dương Công Việt (" + chair + ") (signer, ubnd-xa-phuong-tien)") !=
        std::string::npos);
  must(cli({"replay", id}));
  must(cli({"audit", "verify"}));
  // Someone not named, and the delegate after the period: refused with the reason, nothing written.
  auto stranger =
      cli({"dossier", "act", later, "decide", "--as", "ubnd-xa-phuong-tien.clerk", "--on-behalf-of", chair,
           "--field", "decision_number=16/QĐ-UBND", "--field", "decision_date=2026-03-10", "--json"});
  CHECK(stranger.code == 4);
  CHECK((stranger.out + stranger.err).find("\"reason\":\"not_a_delegate\"") != std::string::npos);
  advance_to(cli, "2026-05-04T02:00:00Z");
  const std::string before = cli.dump();
  auto late = act(cli, later, "decide", deputy, with({"--on-behalf-of", chair}));
  CHECK(late.code == 4);
  CHECK(late.err.find("đã hết thời hạn ủy quyền") != std::string::npos);
  CHECK(cli.dump() == before);
  // --on-behalf-of is refused where it means nothing.
  CHECK(cli({"history", id, "--on-behalf-of", chair}).code == 2);
}

TEST_CASE("delegation: an empty --on-behalf-of is a usage error, never a command in one's own name",
          "[e2e][delegation]") {
  Cli cli;
  cli.init();
  const std::string unit = "xom-khuan-lan.clerk";
  const std::string id = create(cli, "standard", "giay_khen_xa", unit, eligible_args(cli));
  const std::string before = cli.dump();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"dossier", "act", id, "submit", "--as", unit, "--on-behalf-of", ""},
           {"dossier", "act", id, "submit", "--as", unit, "--on-behalf-of="},
           {"dossier", "create", "--workflow", "standard", "--award", "giay_khen_xa", "--as", unit,
            "--on-behalf-of", ""},
           {"inbox", "--as", unit, "--on-behalf-of", ""}}) {
    auto r = cli(args);
    INFO(args[0] << " " << args[1] << " → " << r.code << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("--on-behalf-of không được để trống") != std::string::npos);
  }
  CHECK(cli.dump() == before);
}
