// The HTTP API as a socket-free function over a real SQLite file: bearer tokens, every permission rule,
// a dossier path driven through it, stale versions, bad requests, listing with filters and pages.
#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "adapters/http/api.hpp"
#include "adapters/http/auth.hpp"
#include "adapters/http/server.hpp"
#include "adapters/runtime/app.hpp"
#include "adapters/views/json_views.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/project_edit.hpp"
#include "tests/support/temp_dir.hpp"

using namespace hoso;
using namespace hoso::http;
namespace json = boost::json;

namespace {

struct ApiServer {
  testing::TempDir dir;
  std::unique_ptr<App> app;
  std::unique_ptr<Api> api;
  std::unique_ptr<Api> deferring;  // as `hoso serve` runs it: commands' answers rendered by finish()
  std::map<std::string, std::string> tokens;  // user -> bearer token
  // Requests as the server hands them over: a command's body parsed (and a create's or an action's mapped
  // onto its input) ahead (parse_body), its answer rendered after the command (finish) by an Api that defers
  // rendering.
  bool like_server = false;
  int deferred = 0;  // answers whose body came from finish()

  // With `virtual_at`, a simulation database whose clock stands at that UTC time (see set_clock); with
  // `edit`, the shipped config as the test changes it.
  explicit ApiServer(const std::string& virtual_at = "", const testing::ProjectEdit& edit = {}) {
    auto store = SqliteStore::open(dir.file("hoso.db"), OpenMode::kCreate);
    REQUIRE(store.ok());
    auto project = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config", std::string(HOSO_SOURCE_DIR) + "/workflows");
    REQUIRE(project.ok());
    if (edit) edit(project);
    REQUIRE((*store)
                ->write([&](WriteTx& tx) {
                  if (auto st = yaml::install_project(tx, project, "2026-01-01T00:00:00.000Z"); !st)
                    return st;
                  return virtual_at.empty() ? Status::Ok() : tx.set_clock(ClockRecord{"virtual", virtual_at});
                })
                .ok());
    auto wired = App::over(std::move(store.value()));
    REQUIRE(wired.ok());
    app = std::move(wired.value());
    api = std::make_unique<Api>(*app);
    deferring = std::make_unique<Api>(*app, true);
  }
  void set_clock(const std::string& at) {
    REQUIRE(app->store->write([&](WriteTx& tx) { return tx.set_clock(ClockRecord{"virtual", at}); }).ok());
  }
  // The database edited by `sql` behind the engine's back, and an App over it as a new process opens it
  // (nothing remembered from before the edit).
  std::unique_ptr<App> edited(const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("hoso.db").c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto store = SqliteStore::open(dir.file("hoso.db"), OpenMode::kExisting);
    REQUIRE(store.ok());
    auto reopened = App::over(std::move(store.value()));
    REQUIRE(reopened.ok());
    return std::move(reopened.value());
  }

  std::string token(const std::string& user) {
    auto it = tokens.find(user);
    if (it != tokens.end()) return it->second;
    auto t = issue_token(*app->store, app->directory, user, app->clock->now());
    REQUIRE(t.ok());
    return tokens[user] = t->token;
  }
  Response call(const std::string& method, const std::string& target, const std::string& user = "",
                const std::string& body = "") {
    Request req{method, target, user.empty() ? "" : "Bearer " + token(user), body, nullptr};
    if (!like_server) {
      Response r = api->handle(req);
      CHECK_FALSE(r.render);
      return r;
    }
    if (method != "GET" && method != "HEAD" && !body.empty()) req.parsed = parse_body(body, target);
    Response r = deferring->handle(req);
    if (r.render) {
      CHECK(r.body.empty());
      ++deferred;
    }
    finish(r);
    CHECK_FALSE(r.render);
    return r;
  }
  json::value ok(const std::string& method, const std::string& target, const std::string& user,
                 const std::string& body = "", int status = 200) {
    Response r = call(method, target, user, body);
    INFO(method << " " << target << " as " << user << ": " << r.body);
    REQUIRE(r.status == status);
    return json::parse(r.body);
  }
};

std::string reason(const Response& r) {
  const json::value v = json::parse(r.body);
  const auto& e = v.at("error");
  return e.as_object().contains("reason") ? std::string(e.at("reason").as_string()) : "";
}

const char* kProposal = R"({"workflow":"standard","award":"giay_khen_xa","fields":{"recipient_name":"Xóm Khuân Lân",
  "recipient_kind":"collective","recipient_org_type":"residential","leads_cluster":true,"merits_count":3,
  "replicated_models":1,"has_movement_plan":true,"security_certified":true,"security_cert_cycle_end":"2025-11-15",
  "movement_grade":"xuat_sac","good_models":2,"serious_incident":false,"party_org_clean":true,"has_complaints":false},
  "documents":[{"kind":"to_trinh","filename":"to_trinh.pdf","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1024},{"kind":"bao_cao_thanh_tich","filename":"bao_cao_thanh_tich.pdf","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1024},{"kind":"bien_ban_hop","filename":"bien_ban_hop.pdf","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1024},{"kind":"y_kien_hiep_y","filename":"y_kien_hiep_y.pdf","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1024},{"kind":"xac_nhan_thanh_tich","filename":"xac_nhan_thanh_tich.pdf","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1024}]})";

std::int64_t create(ApiServer& s) {
  return s.ok("POST", "/dossiers", "xom-khuan-lan.clerk", kProposal, 201).at("id").as_int64();
}

// A new Giấy khen xã taken to the Chủ tịch UBND xã's decision; its path.
std::string to_commune_decision(ApiServer& s) {
  const std::string at = "/dossiers/" + std::to_string(create(s));
  s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk");
  s.ok("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk");
  s.ok("POST", at + "/actions/appraise", "vhxh-xa-phuong-tien.appraiser");
  return at;
}

}  // namespace

TEST_CASE("api: a body parsed ahead keeps its tree in its own arena - a large one spills to the heap intact",
          "[http]") {
  auto small = parse_body(R"({"award":"giay-khen","fields":{"ho_ten":"Nguyễn Văn A","so":[1,2,3]}})");
  REQUIRE_FALSE(small->error);
  CHECK(small->value.storage().get() == &small->resource);  // moved into the arena, not copied out of it
  CHECK(small->value.at("fields").at("ho_ten").as_string() == "Nguyễn Văn A");
  CHECK(small->value.at("fields").at("so").as_array().size() == 3);
  std::string big = R"({"note":")" + std::string(20000, 'x') + R"(","list":[)";
  for (int i = 0; i < 2000; ++i) big += std::to_string(i) + (i + 1 < 2000 ? "," : "]}");
  auto large = parse_body(big);
  REQUIRE_FALSE(large->error);
  CHECK(large->value.at("note").as_string().size() == 20000);
  CHECK(large->value.at("list").as_array().back().as_int64() == 1999);
  auto bad = parse_body("{\"a\":");
  CHECK(bad->error);
}

TEST_CASE("api: a command's body mapped ahead on the loop is answered as the route maps it itself",
          "[http]") {
  ApiServer s;
  const std::string at = "/dossiers/" + std::to_string(create(s));
  // Mapped ahead only for a create's and an action's path, with the route's own keys.
  CHECK(parse_body(kProposal, "/dossiers")->command.has_value());
  CHECK(parse_body(R"({"note":"x"})", at + "/actions/submit")->command.has_value());
  CHECK_FALSE(parse_body(R"({"note":"x"})", at)->command.has_value());
  CHECK_FALSE(parse_body(R"({"note":"x"})", "/inbox")->command.has_value());
  CHECK_FALSE(parse_body(R"({"note":"x"})", "")->command.has_value());
  const auto ahead = parse_body(R"({"note":"Đủ hồ sơ","expected_version":1})", at + "/actions/submit?x=1");
  REQUIRE(ahead->command.has_value());
  REQUIRE(ahead->command->ok());
  CHECK((*ahead->command)->input.note == "Đủ hồ sơ");
  CHECK((*ahead->command)->input.expected_version == 1);
  const auto ballot_in_create =
      parse_body(R"({"workflow":"standard","award":"giay_khen_xa","ballot":"yes"})", "/dossiers");
  REQUIRE(ballot_in_create->command.has_value());
  CHECK(ballot_in_create->command->error().reason == "unknown_key");  // a create takes no ballot
  // The same refusal, in the same order of checks, whether the body was mapped ahead or not: every one of
  // these, each way, against the same dossier.
  struct Case {
    std::string user, target, body;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"xom-khuan-lan.clerk", at + "/actions/submit", R"({"colour":1})", 400, "unknown_key"},
      {"xom-khuan-lan.clerk", at + "/actions/submit", R"({"expected_version":"1"})", 400, "wrong_type"},
      {"xom-khuan-lan.clerk", at + "/actions/submit", "[1]", 400, "malformed_json"},
      {"xom-khuan-lan.clerk", at + "/actions/submit", R"({"on_behalf_of":""})", 400, "empty_value"},
      {"xom-khuan-lan.clerk", "/dossiers", R"({"award":"giay_khen_xa"})", 400, "missing_key"},
      {"xom-khuan-lan.clerk", "/dossiers", R"({"workflow":"standard","award":"giay_khen_xa","note":7})", 400,
       "wrong_type"},
      // The auditor's refusal comes before anything in the body is looked at.
      {"ubnd-tinh-thai-nguyen.auditor", at + "/actions/accept", R"({"colour":1})", 403, "auditor_read_only"},
      {"bo-noi-vu.auditor", "/dossiers", "{x", 403, "auditor_read_only"},
      // A well-formed body that the dossier refuses: a stale version, nothing written.
      {"xom-khuan-lan.clerk", at + "/actions/submit", R"({"expected_version":7})", 409, "version_conflict"},
  };
  for (const auto& c : cases)
    for (bool like_server : {false, true}) {
      s.like_server = like_server;
      Response r = s.call("POST", c.target, c.user, c.body);
      INFO(c.user << " POST " << c.target << " " << c.body << " like_server=" << like_server << " -> "
                  << r.body);
      CHECK(r.status == c.status);
      CHECK(reason(r) == c.reason);
    }
  // A request run twice (the mapping ahead is taken by the first run) is answered the same both times.
  Request twice{"POST", at + "/actions/submit", "Bearer " + s.token("xom-khuan-lan.clerk"),
                R"({"expected_version":7})", nullptr};
  twice.parsed = parse_body(twice.body, twice.target);
  const Response first = s.deferring->handle(twice);
  CHECK_FALSE(twice.parsed->command.has_value());
  const Response second = s.deferring->handle(twice);
  CHECK(first.status == 409);
  CHECK(second.status == 409);
  CHECK(first.body == second.body);
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == 1);
}

TEST_CASE("api: health and the OpenAPI document need no token, everything else does", "[http]") {
  ApiServer s;
  CHECK(s.call("GET", "/health").status == 200);
  Response doc = s.call("GET", "/openapi.json");
  REQUIRE(doc.status == 200);
  const json::value spec = json::parse(doc.body);
  CHECK(spec.at("paths").as_object().contains("/dossiers/{id}/actions/{action}"));
  Response none = s.call("GET", "/inbox");
  CHECK(none.status == 401);
  CHECK(reason(none) == "no_token");
  CHECK_FALSE(none.denied.empty());
  Response forged = s.api->handle(Request{"GET", "/inbox", "Bearer hoso_0000", ""});
  CHECK(forged.status == 401);
  CHECK(reason(forged) == "unknown_token");
  CHECK_THAT(forged.denied, Catch::Contains("user=- reason=unknown_token"));
  // A revoked token stops working; a new one works.
  const std::string old = s.token("xom-khuan-lan.clerk");
  CHECK(s.call("GET", "/inbox", "xom-khuan-lan.clerk").status == 200);
  REQUIRE(revoke_tokens(*s.app->store, s.app->directory, "xom-khuan-lan.clerk", s.app->clock->now()).value() == 1);
  Response revoked = s.api->handle(Request{"GET", "/inbox", "Bearer " + old, ""});
  CHECK(revoked.status == 401);
  CHECK(reason(revoked) == "revoked_token");
  CHECK_THAT(revoked.denied, Catch::Contains("revoked_token"));
  CHECK_THAT(revoked.denied,
             Catch::Contains("user=xom-khuan-lan.clerk "));              // the log names whose token it was
  CHECK(revoked.body.find("xom-khuan-lan.clerk") == std::string::npos);  // the answer does not
  s.tokens.erase("xom-khuan-lan.clerk");
  CHECK(s.call("GET", "/inbox", "xom-khuan-lan.clerk").status == 200);
  // Tokens are stored only as their hash.
  CHECK(s.app->store->token(old).value() == std::nullopt);
  CHECK(s.app->store->token(token_hash(old)).value().has_value());
}

TEST_CASE(
    "api: a token works until its expiry and is refused from then on - one issued to never expire goes on",
    "[api][auth]") {
  ApiServer s("2026-03-02T02:00:00.000Z");
  const std::int64_t hour = 3'600'000;
  auto issued =
      issue_token(*s.app->store, s.app->directory, "xom-khuan-lan.clerk", s.app->clock->now(), hour);
  REQUIRE(issued.ok());
  CHECK(issued->expires_at == "2026-03-02T03:00:00.000Z");
  auto forever =
      issue_token(*s.app->store, s.app->directory, "xom-khuan-lan.clerk", s.app->clock->now(), std::nullopt);
  REQUIRE(forever.ok());
  CHECK(forever->expires_at.empty());
  auto inbox = [&](const std::string& token) {
    return s.api->handle(Request{"GET", "/inbox", "Bearer " + token, ""});
  };
  CHECK(inbox(issued->token).status == 200);
  s.set_clock("2026-03-02T02:59:59.999Z");  // the last moment it is valid
  CHECK(inbox(issued->token).status == 200);
  s.set_clock("2026-03-02T03:00:00.000Z");
  const Response expired = inbox(issued->token);
  CHECK(expired.status == 401);
  CHECK(reason(expired) == "expired_token");
  CHECK_THAT(expired.body, Catch::Contains("Mã truy cập đã hết hạn lúc 2026-03-02 10:00:00 (UTC+7)"));
  CHECK_THAT(expired.denied, Catch::Contains("user=xom-khuan-lan.clerk "));  // whose it was, in the log only
  CHECK_THAT(expired.denied, Catch::Contains("expired_token"));
  CHECK(expired.body.find("xom-khuan-lan.clerk") == std::string::npos);
  // A write with it is refused alike, and writes nothing.
  const Response create = s.api->handle(Request{"POST", "/dossiers", "Bearer " + issued->token,
                                                R"({"workflow": "standard", "award": "giay_khen_xa"})"});
  CHECK(create.status == 401);
  CHECK(reason(create) == "expired_token");
  CHECK(s.app->store->dossiers().value().empty());
  // Issued to last until revoked: still good a year on; by default, 90 days.
  s.set_clock("2027-03-02T03:00:00.000Z");
  CHECK(inbox(forever->token).status == 200);
  auto usual = issue_token(*s.app->store, s.app->directory, "xom-khuan-lan.clerk", s.app->clock->now());
  REQUIRE(usual.ok());
  CHECK(usual->expires_at == "2027-05-31T03:00:00.000Z");
  // No lifetime at all is no token.
  auto none = issue_token(*s.app->store, s.app->directory, "xom-khuan-lan.clerk", s.app->clock->now(), 0);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kInvalidInput);
}

TEST_CASE(
    "api: the OpenAPI document lists every status its routes answer - and the body keys each command takes",
    "[http]") {
  ApiServer s;
  const json::value spec = json::parse(s.call("GET", "/openapi.json").body);
  const std::string at = "/dossiers/" + std::to_string(create(s));
  const std::string clerk = "xom-khuan-lan.clerk", outsider = "ca-tinh-lao-cai.clerk";
  struct Probe {
    std::string method, target, user, body, path;  // path: the document's template
    int status;
  };
  const std::vector<Probe> probes = {
      {"GET", "/health", "", "", "/health", 200},
      {"POST", "/dossiers", clerk, kProposal, "/dossiers", 201},
      {"POST", "/dossiers", clerk, "{x", "/dossiers", 400},
      {"POST", "/dossiers", "", kProposal, "/dossiers", 401},
      {"POST", "/dossiers", "ubnd-tinh-lao-cai.auditor", kProposal, "/dossiers", 403},
      {"POST", "/dossiers", clerk, R"({"workflow":"nope","award":"giay_khen_xa"})", "/dossiers", 404},
      {"GET", "/dossiers?per_page=0", clerk, "", "/dossiers", 400},
      {"GET", "/dossiers?jurisdiction=nope", clerk, "", "/dossiers", 404},
      {"GET", "/dossiers", "", "", "/dossiers", 401},
      {"GET", at, clerk, "", "/dossiers/{id}", 200},
      {"GET", "/dossiers/0", clerk, "", "/dossiers/{id}", 400},
      {"GET", at, outsider, "", "/dossiers/{id}", 403},
      {"GET", "/dossiers/999", clerk, "", "/dossiers/{id}", 404},
      {"POST", at + "/actions/nope", clerk, "", "/dossiers/{id}/actions/{action}", 400},
      {"POST", "/dossiers/999/actions/submit", clerk, "", "/dossiers/{id}/actions/{action}", 404},
      {"POST", at + "/actions/submit", outsider, "", "/dossiers/{id}/actions/{action}", 403},
      {"POST", at + "/actions/submit", clerk, R"({"expected_version":7})", "/dossiers/{id}/actions/{action}",
       409},
      {"POST", at + "/actions/submit", clerk, "", "/dossiers/{id}/actions/{action}", 200},
      {"POST", at + "/actions/submit", clerk, "", "/dossiers/{id}/actions/{action}", 422},
      {"GET", at + "/history", clerk, "", "/dossiers/{id}/history", 200},
      {"GET", at + "/history", outsider, "", "/dossiers/{id}/history", 403},
      {"GET", "/dossiers/999/history", clerk, "", "/dossiers/{id}/history", 404},
      {"GET", at + "/replay", clerk, "", "/dossiers/{id}/replay", 200},
      {"GET", "/dossiers/x/replay", clerk, "", "/dossiers/{id}/replay", 400},
      {"GET", "/inbox", clerk, "", "/inbox", 200},
      {"GET", "/inbox?on_behalf_of=nobody", clerk, "", "/inbox", 400},
      {"GET", "/inbox?on_behalf_of=ubnd-xa-phuong-tien.signer", clerk, "", "/inbox", 403},
      {"GET", "/calendar/add?from=2026-03-02&days=3", clerk, "", "/calendar/add", 200},
      {"GET", "/calendar/add?from=2026-03-02&days=-1", clerk, "", "/calendar/add", 400},
      {"GET", "/calendar/between?from=2026-03-02&to=2026-03-09", clerk, "", "/calendar/between", 200},
      {"GET", "/calendar/between?from=x&to=2026-03-09", clerk, "", "/calendar/between", 400},
      {"GET", "/reports/status?year=2026", clerk, "", "/reports/status", 200},
      {"GET", "/reports/status?year=1999", clerk, "", "/reports/status", 400},
      {"GET", "/reports/status?year=2026&jurisdiction=nope", clerk, "", "/reports/status", 404},
  };
  for (const Probe& p : probes) {
    const Response r = s.call(p.method, p.target, p.user, p.body);
    INFO(p.method << " " << p.target << " as '" << p.user << "' -> " << r.status << " " << r.body);
    CHECK(r.status == p.status);
    std::string method = p.method;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    const auto& responses = spec.at("paths").at(p.path).at(method).at("responses").as_object();
    CHECK(responses.contains(std::to_string(r.status)));
  }
  // The body keys: exactly those the mapping takes (create and act), nothing the server refuses.
  auto keys = [&](const char* schema) {
    std::set<std::string> out;
    for (const auto& [k, v] : spec.at("components").at("schemas").at(schema).at("properties").as_object())
      out.insert(std::string(k));
    return out;
  };
  CHECK(keys("Create") ==
        std::set<std::string>{"workflow", "award", "fields", "documents", "note", "on_behalf_of"});
  CHECK(keys("Command") ==
        std::set<std::string>{"fields", "documents", "note", "ballot", "expected_version", "on_behalf_of"});
  CHECK(s.call("POST", "/dossiers", clerk, R"({"workflow":"standard","award":"giay_khen_xa","ballot":"yes"})")
            .status == 400);
}

TEST_CASE("api: every answer says it is JSON - health, the OpenAPI document, reads, commands and errors", "[http]") {
  ApiServer s;
  const std::int64_t id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  const std::vector<Response> answers = {
      s.call("GET", "/health"),
      s.call("GET", "/openapi.json"),
      s.call("GET", at, "xom-khuan-lan.clerk"),
      s.call("POST", at + "/actions/submit", "xom-khuan-lan.clerk"),
      s.call("GET", "/inbox"),
      s.call("GET", "/no-such-route", "xom-khuan-lan.clerk"),
  };
  const std::vector<int> statuses = {200, 200, 200, 200, 401, 404};
  for (std::size_t i = 0; i < answers.size(); ++i) {
    INFO(i << ": " << answers[i].body);
    CHECK(answers[i].status == statuses[i]);
    CHECK(answers[i].content_type == "application/json; charset=utf-8");
    CHECK_NOTHROW(json::parse(answers[i].body));
  }
}

TEST_CASE("api: HEAD is answered as GET - and a path asked with a method it does not take gets 405 naming the "
          "ones it does",
          "[http]") {
  ApiServer s;
  const std::string at = "/dossiers/" + std::to_string(create(s));
  // HEAD: where GET needs no token, neither does HEAD; elsewhere the same answer as GET (the server then
  // sends its head only).
  CHECK(s.call("HEAD", "/health").status == 200);
  CHECK(s.call("HEAD", "/openapi.json").status == 200);
  const Response head = s.call("HEAD", at, "xom-khuan-lan.clerk");
  CHECK(head.status == 200);
  CHECK(head.body == s.call("GET", at, "xom-khuan-lan.clerk").body);
  CHECK(s.call("HEAD", "/inbox", "xom-khuan-lan.clerk").status == 200);
  CHECK(s.call("HEAD", "/inbox").status == 401);
  // 405 with Allow, for each kind of path; an unknown path stays 404.
  const std::vector<std::tuple<std::string, std::string, std::string>> wrong = {
      {"POST", "/health", "GET, HEAD"},
      {"DELETE", "/openapi.json", "GET, HEAD"},
      {"PUT", "/dossiers", "GET, HEAD, POST"},
      {"DELETE", at, "GET, HEAD"},
      {"POST", at + "/history", "GET, HEAD"},
      {"GET", at + "/actions/submit", "POST"},
      {"POST", "/inbox", "GET, HEAD"},
      {"PATCH", "/reports/status", "GET, HEAD"},
  };
  for (const auto& [method, target, allow] : wrong) {
    const Response r = s.call(method, target, "xom-khuan-lan.clerk");
    INFO(method << " " << target << ": " << r.body);
    CHECK(r.status == 405);
    CHECK(r.allow == allow);
    CHECK(reason(r) == "method_not_allowed");
    CHECK(json::parse(r.body).at("error").at("message").as_string().find(allow) != std::string::npos);
  }
  const Response unknown = s.call("DELETE", "/no-such-thing", "xom-khuan-lan.clerk");
  CHECK(unknown.status == 404);
  CHECK(unknown.allow.empty());
  // Nothing was written by any of them.
  CHECK(s.call("GET", at, "xom-khuan-lan.clerk").status == 200);
  CHECK(json::parse(s.call("GET", at, "xom-khuan-lan.clerk").body).at("version").as_int64() == 1);
}

TEST_CASE("api: a commune dossier driven to its decision by each level's clerks with their own tokens", "[http]") {
  ApiServer s;
  const std::int64_t id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  auto state = [&] { return std::string(s.ok("GET", at, "xom-khuan-lan.clerk").at("state").as_string()); };
  CHECK(state() == "draft");
  s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk");
  // It is now in Công an xã's inbox, with the action the clerk may take.
  auto inbox = s.ok("GET", "/inbox", "ca-xa-phuong-tien.clerk").as_array();
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].at("actions").as_array().size() >= 1);
  s.ok("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk");
  s.ok("POST", at + "/actions/appraise", "vhxh-xa-phuong-tien.appraiser", R"({"note":"Đủ điều kiện"})");
  // A signing date that has not come yet (this machine's clock: years before 2099) is refused, naming it.
  Response future = s.call("POST", at + "/actions/decide", "ubnd-xa-phuong-tien.signer",
                           R"({"fields":{"decision_number":"12/QĐ-UBND","decision_date":"2099-01-01"}})");
  CHECK(future.status == 400);
  auto refusal = json::parse(future.body).at("error");
  CHECK(refusal.at("reason").as_string() == "date_in_future");
  CHECK(refusal.at("subject").as_string() == "decision_date");
  CHECK(state() == "commune_decision");  // unchanged
  auto decided = s.ok("POST", at + "/actions/decide", "ubnd-xa-phuong-tien.signer",
                      R"({"fields":{"decision_number":"12/QĐ-UBND","decision_date":"2026-03-04"}})");
  CHECK(decided.at("state").as_string() == "approved");
  auto shown = s.ok("GET", at, "ubnd-xa-phuong-tien.signer");
  CHECK(shown.at("status").as_string() == "closed");
  auto history = s.ok("GET", at + "/history", "xom-khuan-lan.clerk").as_array();
  CHECK(history.size() == 5);
  CHECK(history[3].at("note").as_string() == "Đủ điều kiện");
  CHECK(s.ok("GET", at + "/replay", "xom-khuan-lan.clerk").at("ok").as_bool());
}

TEST_CASE("api: every permission rule refuses, and nothing is written", "[http]") {
  ApiServer s;
  const std::int64_t id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk");
  const auto version = s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64();
  // Another province's clerk neither reads nor acts.
  Response read = s.call("GET", at, "ca-tinh-lao-cai.clerk");
  CHECK(read.status == 403);
  CHECK_FALSE(read.denied.empty());
  CHECK(s.call("POST", at + "/actions/accept", "ca-tinh-lao-cai.clerk").status == 403);
  // The right org, the wrong role.
  CHECK(s.call("POST", at + "/actions/accept", "vhxh-xa-phuong-tien.appraiser").status == 403);
  // An auditor of an enclosing jurisdiction reads, and never writes.
  CHECK(s.call("GET", at, "ubnd-tinh-thai-nguyen.auditor").status == 200);
  Response wrote = s.call("POST", at + "/actions/accept", "ubnd-tinh-thai-nguyen.auditor");
  CHECK(wrote.status == 403);
  CHECK(reason(wrote) == "auditor_read_only");
  CHECK(s.call("POST", "/dossiers", "bo-noi-vu.auditor", kProposal).status == 403);
  // An auditor of another province reads nothing of it.
  CHECK(s.call("GET", at, "ubnd-tinh-lao-cai.auditor").status == 403);
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == version);
}

TEST_CASE("api: a stale expected version is answered 409 and changes nothing", "[http]") {
  ApiServer s;
  const std::int64_t id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk", R"({"expected_version":1})");
  Response stale = s.call("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk", R"({"expected_version":1})");
  CHECK(stale.status == 409);
  const json::value conflict = json::parse(stale.body);
  CHECK(conflict.at("error").at("code").as_string() == "version_conflict");
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == 2);
  s.ok("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk", R"({"expected_version":2})");
}

TEST_CASE("api: bad requests get a clear 4xx and write nothing", "[http]") {
  ApiServer s;
  s.like_server = GENERATE(false, true);
  const std::int64_t id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  auto refused = [&](const std::string& method, const std::string& target, const std::string& body, int status,
                     const std::string& why) {
    Response r = s.call(method, target, "xom-khuan-lan.clerk", body);
    INFO(method << " " << target << " " << body << " -> " << r.body);
    CHECK(r.status == status);
    CHECK(reason(r) == why);
  };
  refused("POST", at + "/actions/submit", "{not json", 400, "malformed_json");
  refused("POST", at + "/actions/submit", "[1,2]", 400, "malformed_json");
  refused("POST", at + "/actions/submit", R"({"expected_version":"1"})", 400, "wrong_type");
  refused("POST", at + "/actions/submit", R"({"fields":{"merits_count":1.5}})", 400, "wrong_type");
  refused("POST", at + "/actions/submit", R"({"colour":"red"})", 400, "unknown_key");
  refused("POST", "/dossiers", R"({"award":"giay_khen_xa"})", 400, "missing_key");
  refused("POST", "/dossiers", R"({"workflow":"standard","award":"giay_khen_xa","documents":[{"kind":"x"}]})", 400,
          "wrong_type");
  refused("GET", "/dossiers/abc", "", 400, "bad_number");
  refused("GET", "/nowhere", "", 404, "no_route");
  refused("DELETE", at, "", 405, "method_not_allowed");
  refused("GET", at + "/nowhere", "", 404, "no_route");
  refused("GET", "/dossiers?colour=red", "", 400, "unknown_key");
  // Every route names a parameter it does not take, whatever the route.
  refused("GET", at + "?colour=red", "", 400, "unknown_key");
  refused("GET", at + "/history?colour=red", "", 400, "unknown_key");
  refused("POST", at + "/actions/submit?expected_version=1", "", 400, "unknown_key");
  refused("POST", "/dossiers?workflow=standard", "", 400, "unknown_key");
  refused("GET", "/inbox?holder=xom-khuan-lan", "", 400, "unknown_key");
  refused("GET", "/reports/status?year=2026&colour=red", "", 400, "unknown_key");
  refused("GET", "/calendar/add?from=2026-03-02&days=3&to=2026-03-05", "", 400, "unknown_key");
  refused("GET", "/calendar/between?from=2026-03-02&to=2026-03-05&days=3", "", 400, "unknown_key");
  refused("GET", "/dossiers?per_page=1000", "", 400, "bad_number");
  // A path that does not exist is 404 whatever the method; an org that does not exist names itself.
  refused("POST", "/calendar/nope", "", 404, "no_route");
  refused("GET", "/calendar/holidays", "", 404, "no_route");
  refused("GET", "/dossiers?jurisdiction=nope", "", 404, "unknown_org");
  refused("GET", "/reports/status?year=2026&jurisdiction=nope", "", 404, "unknown_org");
  refused("GET", "/dossiers/%zz", "", 400, "bad_target");
  // Messages say what was wrong, in Vietnamese.
  const json::value malformed = json::parse(s.call("POST", "/dossiers", "xom-khuan-lan.clerk", "{x").body);
  CHECK_THAT(std::string(malformed.at("error").at("message").as_string()), Catch::Contains("JSON"));
  const json::value unknown = json::parse(s.call("POST", at + "/actions/submit", "xom-khuan-lan.clerk", R"({"colour":1})").body);
  CHECK_THAT(std::string(unknown.at("error").at("message").as_string()), Catch::Contains("'colour'"));
  // No refused creation wrote a dossier.
  CHECK(s.ok("GET", "/dossiers", "xom-khuan-lan.clerk").at("total").as_int64() == 1);
  // A rule's refusal is 422 with the rule named.
  Response early = s.call("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk");
  CHECK((early.status == 422 || early.status == 403));
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == 1);
}

TEST_CASE("api: a body larger than the parse buffer is read whole, and refused whole when it is bad", "[http]") {
  // A command's body is parsed into a 16 KiB stack buffer that spills over to the heap: these bodies are larger.
  ApiServer s;
  s.like_server = GENERATE(false, true);
  const std::string at = "/dossiers/" + std::to_string(create(s));
  const std::string note(kMaxNoteBytes, 'n');  // the longest note allowed: the body is over 16 KiB
  s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk", R"({"expected_version":1,"note":")" + note + R"("})");
  // The note came through intact.
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == 2);
  const auto history = s.ok("GET", at + "/history", "xom-khuan-lan.clerk").as_array();
  CHECK(history.back().at("note").as_string() == note);
  // Over the limit, or a wrong type after 16 KiB of note: refused with the reason named, nothing written.
  Response too_long = s.call("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk",
                             R"({"note":")" + note + R"(x"})");
  CHECK(too_long.status == 400);
  CHECK(reason(too_long) == "note_too_long");
  CHECK_THAT(std::string(json::parse(too_long.body).at("error").at("message").as_string()),
             Catch::Contains("Ghi chú vượt quá"));
  Response wrong = s.call("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk",
                          R"({"note":")" + note + R"(","expected_version":"2"})");
  CHECK(wrong.status == 400);
  CHECK(reason(wrong) == "wrong_type");
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == 2);
}

TEST_CASE("api: listing shows what the user may read, filtered and in pages", "[http]") {
  ApiServer s;
  for (int i = 0; i < 3; ++i) create(s);
  s.ok("POST", "/dossiers/1/actions/submit", "xom-khuan-lan.clerk");
  auto all = s.ok("GET", "/dossiers?per_page=2", "xom-khuan-lan.clerk");
  CHECK(all.at("total").as_int64() == 3);
  CHECK(all.at("items").as_array().size() == 2);
  CHECK(s.ok("GET", "/dossiers?per_page=2&page=2", "xom-khuan-lan.clerk").at("items").as_array().size() == 1);
  auto drafts = s.ok("GET", "/dossiers?state=draft", "xom-khuan-lan.clerk");
  CHECK(drafts.at("total").as_int64() == 2);
  CHECK(s.ok("GET", "/dossiers?holder=ca-xa-phuong-tien", "ca-xa-phuong-tien.clerk").at("total").as_int64() == 1);
  CHECK(s.ok("GET", "/dossiers?q=Khu%C3%A2n", "xom-khuan-lan.clerk").at("total").as_int64() == 3);
  // Another province sees none of them.
  CHECK(s.ok("GET", "/dossiers", "ca-tinh-lao-cai.clerk").at("total").as_int64() == 0);
}

TEST_CASE(
    "api: a listing kept up to date from the log answers as one read afresh - after commands on its own "
    "connection and on another",
    "[http]") {
  ApiServer s("2026-03-02T02:00:00.000Z");
  auto open_app = [&] {
    auto store = SqliteStore::open(s.dir.file("hoso.db"), OpenMode::kExisting);
    REQUIRE(store.ok());
    auto app = App::over(std::move(store.value()));
    REQUIRE(app.ok());
    return std::move(app.value());
  };
  // A long-lived App on a connection of its own lists (as the server's reader does): after its first
  // listing it reads only the dossiers the log's new events belong to.
  auto kept = open_app();
  Api kept_api(*kept);
  const std::string unit = "xom-khuan-lan.clerk", police = "ca-xa-phuong-tien.clerk";
  const std::vector<std::pair<std::string, std::string>> asks = {
      {"/dossiers?per_page=100", unit},
      {"/dossiers?state=draft", unit},
      {"/dossiers?holder=ca-xa-phuong-tien", police},
      {"/dossiers?per_page=1&page=2", unit},
      {"/dossiers?jurisdiction=vhxh-xa-phuong-tien", unit},
      {"/dossiers?q=Khu%C3%A2n", unit},
      {"/dossiers?award=giay_khen_xa&state=commune_intake", police},
      {"/dossiers?per_page=100", "ca-tinh-lao-cai.clerk"},
      {"/dossiers?per_page=100", "bo-noi-vu.auditor"},
      {"/dossiers?overdue=true&per_page=100", unit},
      {"/dossiers?overdue=false&per_page=100", police},
      {"/dossiers?overdue=true&state=commune_intake", "bo-noi-vu.auditor"},
  };
  for (const auto& [target, user] : asks) s.token(user);
  auto listed = [&](Api& api, const std::string& target, const std::string& user) {
    Response r = api.handle(Request{"GET", target, "Bearer " + s.token(user), "", nullptr});
    INFO(target << " as " << user << ": " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  };
  int nonempty = 0;
  auto same = [&](const char* after) {
    auto fresh = open_app();  // reads every projection
    Api fresh_api(*fresh);
    for (const auto& [target, user] : asks) {
      INFO("after " << after << ": " << target << " as " << user);
      const json::value kept_list = listed(kept_api, target, user);
      CHECK(kept_list == listed(fresh_api, target, user));
      CHECK(kept_list == listed(*s.api, target, user));
      if (!kept_list.at("items").as_array().empty()) ++nonempty;
      // Filtered by overdue: each item is as the dossier read whole says it is.
      for (const char* asked : {"overdue=true", "overdue=false"})
        if (target.find(asked) != std::string::npos)
          for (const auto& item : kept_list.at("items").as_array())
            CHECK(item.at("overdue").as_bool() == (std::string_view(asked) == "overdue=true"));
    }
  };
  same("nothing");
  for (int i = 0; i < 3; ++i) create(s);
  same("three creations");
  s.ok("POST", "/dossiers/2/actions/submit", unit);
  same("a submission");
  s.ok("POST", "/dossiers/2/actions/accept", police);
  same("an acceptance");
  // A command on the listing's own connection.
  Response submitted =
      kept_api.handle(Request{"POST", "/dossiers/3/actions/submit", "Bearer " + s.token(unit), "", nullptr});
  REQUIRE(submitted.status == 200);
  same("a submission on the listing's connection");
  // Time alone makes a dossier overdue: no event, nothing to read again, the listings still agree.
  CHECK(listed(kept_api, "/dossiers?overdue=true", unit).at("total").as_int64() == 0);
  s.set_clock("2026-05-04T02:00:00.000Z");
  same("two months");
  const json::value late = listed(kept_api, "/dossiers?overdue=true", unit);
  REQUIRE(late.at("total").as_int64() == 1);
  CHECK(late.at("items").at(0).at("id").as_int64() == 2);
  CHECK(listed(kept_api, "/dossiers?overdue=false", unit).at("total").as_int64() == 2);
  // The limit's timer fires: the overdue is recorded in the dossier, which the kept listing reads again.
  auto fired = s.app->service->fire_due(s.app->clock->now(), false);
  INFO((fired.ok() ? std::string() : fired.error().message));
  REQUIRE(fired.ok());
  CHECK(fired->fired > 0);
  same("the timers' firing");
  CHECK(listed(kept_api, "/dossiers?overdue=true", unit).at("total").as_int64() == 1);
  CHECK(nonempty > 20);
}

TEST_CASE(
    "api: a dossier edited behind the log's back is refused as any other to whoever may not read it - "
    "and named as edited to whoever may",
    "[http]") {
  ApiServer s;
  const std::int64_t id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  auto app = s.edited("UPDATE dossiers SET updated_at = '2030-01-01T00:00:00.000Z'");
  Api api(*app);
  auto get = [&](const std::string& target, const std::string& user) {
    return api.handle(Request{"GET", target, "Bearer " + s.token(user), "", nullptr});
  };
  // Another province's clerk learns nothing more than of an intact dossier: 403, nothing of the edit.
  for (const std::string& target : {at, at + "/history", at + "/replay"}) {
    Response r = get(target, "ca-tinh-lao-cai.clerk");
    INFO(target << ": " << r.body);
    CHECK(r.status == 403);
    CHECK(reason(r) == "not_permitted");
    CHECK(r.body.find("lịch sử") == std::string::npos);
  }
  // The unit's own clerk is told the dossier no longer matches its history.
  Response own = get(at, "xom-khuan-lan.clerk");
  INFO(own.body);
  CHECK(own.status == 500);
  CHECK(reason(own) == "tampered");
  // Acting on it alike: refused as any dossier out of reach to the other province's clerk (and to a delegate
  // claiming someone who never delegated), named as edited to the unit's clerk; nothing written.
  auto act = [&](const std::string& user, const std::string& body) {
    return api.handle(Request{"POST", at + "/actions/submit", "Bearer " + s.token(user), body, nullptr});
  };
  for (const auto& [user, body] : {std::pair<std::string, std::string>{"ca-tinh-lao-cai.clerk", ""},
                                   {"ca-tinh-lao-cai.clerk", R"({"on_behalf_of":"xom-khuan-lan.clerk"})"}}) {
    Response r = act(user, body);
    INFO(user << " " << body << ": " << r.body);
    CHECK(r.status == 403);
    CHECK(r.body.find("lịch sử") == std::string::npos);
  }
  Response acted = act("xom-khuan-lan.clerk", "");
  INFO(acted.body);
  CHECK(acted.status == 500);
  CHECK(reason(acted) == "tampered");
}

TEST_CASE(
    "api: a listing by overdue reads the clocks of every candidate and answers one it cannot read as an "
    "error",
    "[http]") {
  ApiServer s("2026-03-02T02:00:00.000Z");
  for (int i = 0; i < 2; ++i) create(s);
  const std::string unit = "xom-khuan-lan.clerk";
  s.ok("POST", "/dossiers/2/actions/submit", unit);
  s.ok("POST", "/dossiers/2/actions/accept", "ca-xa-phuong-tien.clerk");
  s.set_clock("2026-05-04T02:00:00.000Z");
  CHECK(s.ok("GET", "/dossiers?overdue=true", unit).at("total").as_int64() == 1);
  // Dossier 1's clocks made unreadable behind the engine's back.
  auto app = s.edited("UPDATE dossiers SET timing = 'không phải JSON' WHERE id = 1");
  Api api(*app);
  auto get = [&](const std::string& target) {
    return api.handle(Request{"GET", target, "Bearer " + s.token(unit), "", nullptr});
  };
  // Whether dossier 1 is overdue cannot be told: a listing by overdue says so rather than leave it out.
  for (const char* target : {"/dossiers?overdue=true", "/dossiers?overdue=false"}) {
    Response r = get(target);
    INFO(target << ": " << r.body);
    CHECK(r.status == 500);
    CHECK_THAT(r.body, Catch::Contains("dossier 1: malformed projection") &&
                           Catch::Contains("timing is not a JSON object with timers and clocks"));
  }
  // Other listings do not depend on it (dossier 1 not on the page).
  Response other = get("/dossiers?per_page=1&page=2");
  INFO(other.body);
  REQUIRE(other.status == 200);
  CHECK(json::parse(other.body).at("total").as_int64() == 2);
  // Nor do listings by overdue that exclude dossier 1 for another reason first.
  Response held = get("/dossiers?overdue=true&holder=vhxh-xa-phuong-tien");
  INFO(held.body);
  REQUIRE(held.status == 200);
  CHECK(json::parse(held.body).at("total").as_int64() == 1);
}

TEST_CASE("api: calendar queries", "[http]") {
  ApiServer s;
  auto due = s.ok("GET", "/calendar/add?from=2026-04-20&days=10", "xom-khuan-lan.clerk");
  CHECK(due.at("due").as_string() == "2026-05-07");
  CHECK(s.ok("GET", "/calendar/between?from=2026-04-20&to=2026-05-07", "xom-khuan-lan.clerk").at("working_days").as_int64() ==
        10);
  CHECK(s.call("GET", "/calendar/add?from=2026-13-01&days=1", "xom-khuan-lan.clerk").status == 400);
}

TEST_CASE("group commit: commands run together in one transaction each succeed or fail on their own, and a "
          "group that fails keeps none",
          "[api][group]") {
  ApiServer s;
  const auto a = create(s), b = create(s);
  const std::string act_a = "/dossiers/" + std::to_string(a) + "/actions/submit";
  const std::string act_b = "/dossiers/" + std::to_string(b) + "/actions/submit";
  auto version = [&](std::int64_t id) {
    return s.ok("GET", "/dossiers/" + std::to_string(id), "xom-khuan-lan.clerk").at("version").as_int64();
  };
  auto events = [&] {
    std::int64_t n = 0;
    REQUIRE(s.app->store->scan_events([&](EventRecord&) {
                          ++n;
                          return Status::Ok();
                        }).ok());
    return n;
  };
  const std::int64_t before = events();
  SECTION("a stale command in the middle is refused alone: the ones around it are kept") {
    std::vector<Response> out;
    REQUIRE(s.app->service
                ->group([&] {
                  out.push_back(s.call("POST", act_a, "xom-khuan-lan.clerk", R"({"expected_version":1})"));
                  out.push_back(s.call("POST", act_b, "xom-khuan-lan.clerk", R"({"expected_version":7})"));
                  out.push_back(s.call("POST", "/dossiers", "xom-khuan-lan.clerk", kProposal));
                  return Status::Ok();
                })
                .ok());
    CHECK(out[0].status == 200);
    CHECK(out[1].status == 409);
    CHECK(out[2].status == 201);
    CHECK(version(a) == 2);
    CHECK(version(b) == 1);
    CHECK(events() == before + 2);
    CHECK(s.app->service->audit_verify()->ok);
  }
  SECTION("a group that fails as a whole keeps nothing, and the service does not trust what it wrote") {
    Response done;
    auto failed = s.app->service->group([&] {
      done = s.call("POST", act_a, "xom-khuan-lan.clerk", R"({"expected_version":1})");
      return Status(make_error(ErrorCode::kInternal, "đĩa đầy"));
    });
    CHECK(done.status == 200);  // answered inside the group, but the server answers it with the group's error
    REQUIRE_FALSE(failed.ok());
    CHECK(version(a) == 1);
    CHECK(events() == before);
    // The same command again succeeds: nothing remembered of the lost write stands in the way.
    CHECK(s.call("POST", act_a, "xom-khuan-lan.clerk", R"({"expected_version":1})").status == 200);
    CHECK(version(a) == 2);
    CHECK(s.app->service->audit_verify()->ok);
    CHECK(s.app->service->replay_all()->ok);
  }
  SECTION("a group inside a group is refused") {
    auto nested = s.app->service->group([&] { return s.app->service->group([] { return Status::Ok(); }); });
    CHECK_FALSE(nested.ok());
    CHECK(events() == before);
  }
}

TEST_CASE("expected_version: a notice going out is not an edit, a person's action is", "[api][version]") {
  ApiServer s;
  const auto id = create(s);
  const std::string at = "/dossiers/" + std::to_string(id);
  REQUIRE(s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk", R"({"expected_version":1})").at("version") == 2);
  // The dispatcher records the submission's notice going out: version 3, by the system.
  std::vector<NotificationTemplate> templates{{"dossier_received", "Hồ sơ {ho_so}", "{co_quan}", {}}};
  auto pending = s.app->service->pending_notifications(1, templates);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  REQUIRE(s.app->service->record_delivered(pending->front(), "file").ok());
  REQUIRE(s.ok("GET", at, "ca-xa-phuong-tien.clerk").at("version") == 3);
  SECTION("the clerk who read version 2 may still act on it") {
    CHECK(s.ok("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk", R"({"expected_version":2})")
              .at("version") == 4);
  }
  SECTION("but a version from before a person's action is stale") {
    Response r = s.call("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk", R"({"expected_version":1})");
    CHECK(r.status == 409);
    CHECK(s.ok("GET", at, "ca-xa-phuong-tien.clerk").at("version") == 3);
  }
}

TEST_CASE("api: the Phó Chủ tịch decides on behalf of the Chủ tịch within the delegation, and not after it",
          "[http][delegation]") {
  ApiServer s("2026-03-10T02:00:00.000Z");  // 10/03/2026 09:00 in Vietnam: within 01/03–30/04/2026
  const std::string deputy = "ubnd-xa-phuong-tien.appraiser", chair = "ubnd-xa-phuong-tien.signer";
  const std::string decide =
      R"({"fields":{"decision_number":"15/QĐ-UBND","decision_date":"2026-03-10"},"on_behalf_of":"ubnd-xa-phuong-tien.signer"})";
  const std::string first = to_commune_decision(s);
  const std::string second = to_commune_decision(s);
  // The Chủ tịch's inbox, seen by his delegate, with the actions he may take.
  auto inbox = s.ok("GET", "/inbox?on_behalf_of=" + chair, deputy).as_array();
  REQUIRE(inbox.size() == 2);
  CHECK(inbox[0].at("actions").as_array().size() >= 1);
  CHECK(s.ok("GET", "/inbox", deputy).as_array().empty());
  // Her own token, his role: the event records her as actor, the signer role, his org and his name.
  auto decided = s.ok("POST", first + "/actions/decide", deputy, decide);
  CHECK(decided.at("state").as_string() == "approved");
  const auto& event = decided.at("events").as_array().back().as_object();
  CHECK(event.at("actor").at("user").as_string() == deputy);
  CHECK(event.at("actor").at("role").as_string() == "signer");
  CHECK(event.at("actor").at("org").as_string() == "ubnd-xa-phuong-tien");
  CHECK(event.at("on_behalf_of").as_string() == chair);
  CHECK(event.at("payload").at("on_behalf_of").as_string() == chair);
  auto history = s.ok("GET", first + "/history", "xom-khuan-lan.clerk").as_array();
  REQUIRE(history.size() == 5);
  CHECK(history[4].at("on_behalf_of").as_string() == chair);
  CHECK_FALSE(history[3].as_object().contains("on_behalf_of"));
  CHECK(s.ok("GET", first + "/replay", "xom-khuan-lan.clerk").at("ok").as_bool());
  // Without on_behalf_of her own role does not decide.
  Response own = s.call("POST", second + "/actions/decide", deputy,
                        R"({"fields":{"decision_number":"16/QĐ-UBND","decision_date":"2026-03-10"}})");
  CHECK(own.status == 403);
  CHECK(reason(own) == "not_permitted");
  // Someone the Chủ tịch named nowhere.
  Response stranger = s.call("POST", second + "/actions/decide", "ubnd-xa-phuong-tien.clerk", decide);
  CHECK(stranger.status == 403);
  CHECK(reason(stranger) == "not_a_delegate");
  // After 30/04/2026 the delegation is over: refused, and nothing is written.
  s.set_clock("2026-05-04T02:00:00.000Z");
  const auto version = s.ok("GET", second, "xom-khuan-lan.clerk").at("version").as_int64();
  Response late = s.call("POST", second + "/actions/decide", deputy, decide);
  INFO(late.body);
  CHECK(late.status == 403);
  CHECK(reason(late) == "delegation_expired");
  CHECK(late.body.find("đã hết thời hạn ủy quyền") != std::string::npos);
  CHECK(s.ok("GET", second, "xom-khuan-lan.clerk").at("version").as_int64() == version);
  CHECK(s.call("GET", "/inbox?on_behalf_of=" + chair, deputy).status == 403);
  // A body naming someone unknown, or not a string, is refused before anything is tried.
  CHECK(s.call("POST", second + "/actions/decide", deputy, R"({"on_behalf_of":42})").status == 400);
  // The OpenAPI document describes the field.
  const json::value spec = json::parse(s.call("GET", "/openapi.json").body);
  CHECK(spec.at("components")
            .at("schemas")
            .at("Command")
            .at("properties")
            .as_object()
            .contains("on_behalf_of"));
}

TEST_CASE("api: a command's answer, written as text, is byte for byte the serialized document", "[http]") {
  ApiServer s;
  // Written at once, or (as the server has it) after the command by finish().
  s.like_server = GENERATE(false, true);
  Response created = s.call("POST", "/dossiers", "xom-khuan-lan.clerk", kProposal);
  REQUIRE(created.status == 201);
  const std::int64_t id = json::parse(created.body).at("id").as_int64();
  Response submitted =
      s.call("POST", "/dossiers/" + std::to_string(id) + "/actions/submit", "xom-khuan-lan.clerk", R"({"note":"tab\t\"q\" \\ ư"})");
  REQUIRE(submitted.status == 200);
  auto events = s.app->store->events(id);
  REQUIRE(events.ok());
  REQUIRE(events->size() >= 2);
  auto document = [&](const Response& r, std::size_t from, std::size_t to) {
    const json::value got = json::parse(r.body);
    json::array list;
    for (std::size_t i = from; i < to; ++i) list.push_back(views::event_json((*events)[i]));
    return json::serialize(json::object{{"id", id},
                                        {"version", got.at("version")},
                                        {"state", got.at("state")},
                                        {"events", std::move(list)}});
  };
  const std::size_t creation_events = json::parse(created.body).at("events").as_array().size();
  CHECK(created.body == document(created, 0, creation_events));
  CHECK(submitted.body == document(submitted, creation_events, creation_events + 1));
  CHECK(json::parse(submitted.body).at("events").at(0).at("note") == "tab\t\"q\" \\ ư");
  CHECK(s.deferred == (s.like_server ? 2 : 0));

  // Payloads that are not the codec's JSON objects, and one naming whom the actor stood in for.
  EventRecord odd = (*events)[0];
  for (const char* payload : {"not json", "[1,2]", R"({"on_behalf_of":"x.y","n":1})"}) {
    odd.payload = payload;
    std::string text;
    JsonOut out(text);
    views::write_event_json(out, odd);
    CHECK(text == json::serialize(views::event_json(odd)));
  }
}

TEST_CASE("api: listing filters by award, jurisdiction, number and overdue, pages in id order", "[http]") {
  ApiServer s("2026-03-02T02:00:00.000Z");
  for (int i = 0; i < 3; ++i) create(s);
  s.ok("POST", "/dossiers/2/actions/submit", "xom-khuan-lan.clerk");
  s.ok("POST", "/dossiers/2/actions/accept", "ca-xa-phuong-tien.clerk");
  auto ids = [&](const std::string& target, const std::string& user) {
    std::vector<std::int64_t> out;
    const json::value list = s.ok("GET", target, user);
    for (const auto& item : list.at("items").as_array()) out.push_back(item.at("id").as_int64());
    return out;
  };
  const std::string unit = "xom-khuan-lan.clerk";
  CHECK(ids("/dossiers?per_page=1&page=2", unit) == std::vector<std::int64_t>{2});
  CHECK(ids("/dossiers?per_page=2&page=2", unit) == std::vector<std::int64_t>{3});
  CHECK(ids("/dossiers?per_page=2&page=3", unit).empty());
  CHECK(s.ok("GET", "/dossiers?per_page=2&page=3", unit).at("total").as_int64() == 3);
  CHECK(ids("/dossiers?award=giay_khen_xa&workflow=standard", unit) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(ids("/dossiers?award=huan_chuong_ld_nhat", unit).empty());
  CHECK(ids("/dossiers?workflow=no_such_workflow", unit).empty());
  CHECK(ids("/dossiers?q=kh%C3%B4ng%20c%C3%B3", unit).empty());
  // Jurisdiction: by origin (the unit's subtree) or by holder (the commune's culture office holds dossier 2).
  CHECK(ids("/dossiers?jurisdiction=xom-khuan-lan", unit) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(ids("/dossiers?jurisdiction=vhxh-xa-phuong-tien", unit) == std::vector<std::int64_t>{2});
  CHECK(s.call("GET", "/dossiers?jurisdiction=khong-co", unit).status == 404);
  // Nothing overdue yet; two months later the police's running clock is past its limit.
  CHECK(ids("/dossiers?overdue=true", unit).empty());
  s.set_clock("2026-05-04T02:00:00.000Z");
  CHECK(ids("/dossiers?overdue=true", unit) == std::vector<std::int64_t>{2});
  CHECK(ids("/dossiers?overdue=false", unit) == std::vector<std::int64_t>{1, 3});
  CHECK(s.ok("GET", "/dossiers?overdue=true", unit).at("items").at(0).at("overdue") == true);
  CHECK(s.call("GET", "/dossiers?overdue=maybe", unit).status == 400);
}

TEST_CASE("api: an unknown delegator is a refused request, answered 400 naming the field and logged",
          "[http][delegation]") {
  ApiServer s("2026-03-10T02:00:00.000Z");
  const std::string deputy = "ubnd-xa-phuong-tien.appraiser";
  const std::string at = to_commune_decision(s);
  const auto version = s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64();
  Response act = s.call(
      "POST", at + "/actions/decide", deputy,
      R"({"fields":{"decision_number":"15/QĐ-UBND","decision_date":"2026-03-10"},"on_behalf_of":"ai-do"})");
  INFO(act.body);
  CHECK(act.status == 400);
  CHECK(reason(act) == "unknown_user");
  CHECK(json::parse(act.body).at("error").at("subject").as_string() == "on_behalf_of");
  CHECK_THAT(act.denied, Catch::Contains("user=" + deputy) && Catch::Contains("reason=unknown_user"));
  std::string proposal = kProposal;
  proposal.insert(proposal.size() - 1, R"(,"on_behalf_of":"ai-do")");
  Response created = s.call("POST", "/dossiers", deputy, proposal);
  CHECK(created.status == 400);
  CHECK_FALSE(created.denied.empty());
  Response inbox = s.call("GET", "/inbox?on_behalf_of=ai-do", deputy);
  CHECK(inbox.status == 400);
  CHECK_FALSE(inbox.denied.empty());
  // An empty one is refused too (as the CLI refuses an empty --on-behalf-of), never taken as nobody.
  Response empty = s.call("POST", at + "/actions/decide", deputy,
                          R"({"fields":{"decision_number":"15/QĐ-UBND","decision_date":"2026-03-10"},"on_behalf_of":""})");
  CHECK(empty.status == 400);
  CHECK(reason(empty) == "empty_value");
  CHECK(reason(s.call("GET", "/inbox?on_behalf_of=", deputy)) == "empty_value");
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == version);
}

TEST_CASE("api: the denied line names whom the user claimed to act for", "[http][delegation]") {
  ApiServer s("2026-03-10T02:00:00.000Z");
  const std::string deputy = "ubnd-xa-phuong-tien.appraiser", chair = "ubnd-xa-phuong-tien.signer";
  const std::string at = to_commune_decision(s);
  const std::string decide = R"({"fields":{"decision_number":"15/QĐ-UBND","decision_date":"2026-03-10"},)";
  // Someone the Chủ tịch named nowhere: the line names the user and whom they claimed.
  Response stranger = s.call("POST", at + "/actions/decide", "ubnd-xa-phuong-tien.clerk",
                             decide + R"("on_behalf_of":")" + chair + "\"}");
  CHECK(stranger.status == 403);
  CHECK_THAT(stranger.denied, Catch::Contains("user=ubnd-xa-phuong-tien.clerk on_behalf_of=" + chair +
                                              " reason=not_a_delegate"));
  // A refusal without on_behalf_of names nobody else.
  Response own = s.call("POST", at + "/actions/decide", deputy, decide + R"("note":"x"})");
  CHECK(own.status == 403);
  CHECK_THAT(own.denied, Catch::Contains("user=" + deputy + " reason=not_permitted"));
  CHECK(own.denied.find("on_behalf_of") == std::string::npos);
  // The inbox's query names them too.
  Response inbox = s.call("GET", "/inbox?on_behalf_of=ai-do", deputy);
  CHECK_THAT(inbox.denied, Catch::Contains("denied GET /inbox?on_behalf_of=ai-do user=" + deputy +
                                           " on_behalf_of=ai-do reason=unknown_user"));
  // What the body claims is logged as one word: it cannot add a line to the log.
  Response forged = s.call("POST", at + "/actions/decide", deputy, R"({"on_behalf_of":"x\ndenied y"})");
  CHECK_THAT(forged.denied, Catch::Contains("on_behalf_of=x?denied?y reason=unknown_user"));
}

TEST_CASE("api: a delegate never writes with the role of a delegator who is an auditor",
          "[http][delegation]") {
  // The tests' own config: the Chủ tịch UBND xã Phượng Tiến also audits.
  ApiServer s("2026-03-10T02:00:00.000Z", [](yaml::Project& p) {
    testing::user_spec(p, "ubnd-xa-phuong-tien.signer").roles.push_back("auditor");
  });
  const std::string deputy = "ubnd-xa-phuong-tien.appraiser", chair = "ubnd-xa-phuong-tien.signer";
  const std::string at = to_commune_decision(s);
  const auto version = s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64();
  Response r =
      s.call("POST", at + "/actions/decide", deputy,
             R"({"fields":{"decision_number":"15/QĐ-UBND","decision_date":"2026-03-10"},"on_behalf_of":")" +
                 chair + "\"}");
  INFO(r.body);
  CHECK(r.status == 403);
  CHECK(reason(r) == "auditor_read_only");
  CHECK_THAT(r.body, Catch::Contains("'" + chair + "' là thanh tra"));
  CHECK_THAT(r.denied, Catch::Contains("on_behalf_of=" + chair + " reason=auditor_read_only"));
  CHECK(s.ok("GET", at, "xom-khuan-lan.clerk").at("version").as_int64() == version);
  // Nor creates in his name.
  std::string proposal = kProposal;
  proposal.insert(proposal.size() - 1, R"(,"on_behalf_of":")" + chair + "\"");
  CHECK(reason(s.call("POST", "/dossiers", deputy, proposal)) == "auditor_read_only");
}

TEST_CASE("api: the inbox a delegate keeps for a council member offers no ballot, and a ballot is refused",
          "[http][delegation][vote]") {
  // The tests' own config: a member of the Hội đồng TĐKT tỉnh Thái Nguyên who also closes the vote names the
  // Sở's appraiser as delegate.
  const std::string member = "snv-thai-nguyen.council1", deputy = "snv-thai-nguyen.appraiser";
  ApiServer s("2026-03-10T02:00:00.000Z", [&](yaml::Project& p) {
    auto& u = testing::user_spec(p, member);
    u.roles.push_back("clerk");
    u.delegates.push_back({deputy, "2026-03-01", "2026-04-30", "Nghỉ phép"});
  });
  std::string proposal = kProposal;
  proposal.replace(proposal.find("giay_khen_xa"), 12, "bang_khen_tinh");
  const std::string at =
      "/dossiers/" +
      std::to_string(s.ok("POST", "/dossiers", "xom-khuan-lan.clerk", proposal, 201).at("id").as_int64());
  for (const auto& [action, user] :
       std::vector<std::pair<std::string, std::string>>{{"submit", "xom-khuan-lan.clerk"},
                                                        {"accept", "ca-xa-phuong-tien.clerk"},
                                                        {"appraise", "vhxh-xa-phuong-tien.appraiser"},
                                                        {"forward", "ubnd-xa-phuong-tien.signer"},
                                                        {"accept", "ca-tinh-thai-nguyen.clerk"},
                                                        {"forward", "ca-tinh-thai-nguyen.appraiser"},
                                                        {"appraise", deputy}})
    s.ok("POST", at + "/actions/" + action, user);
  REQUIRE(s.ok("GET", at, member).at("state").as_string() == "council_vote");
  auto own = s.ok("GET", "/inbox", member).as_array();
  REQUIRE(own.size() == 1);
  CHECK(own[0].at("actions") == json::parse(R"(["vote","close_vote"])"));
  auto theirs = s.ok("GET", "/inbox?on_behalf_of=" + member, deputy).as_array();
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0].at("actions") == json::parse(R"(["close_vote"])"));
  Response ballot =
      s.call("POST", at + "/actions/vote", deputy, R"({"ballot":"yes","on_behalf_of":")" + member + "\"}");
  CHECK(ballot.status == 403);
  CHECK(reason(ballot) == "vote_not_delegable");
  CHECK_THAT(ballot.denied, Catch::Contains("on_behalf_of=" + member + " reason=vote_not_delegable"));
}

TEST_CASE("server: on_engine refuses work while the server is not running, and runs none of it", "[http]") {
  ApiServer s;
  http::Server server(*s.app, http::ServerSettings{});
  bool ran = false;
  Status st = server.on_engine([&](App&) {
    ran = true;
    return Status::Ok();
  });
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::kInternal);
  CHECK(st.error().message.find("máy chủ không chạy") != std::string::npos);
  CHECK_FALSE(ran);
}

// A dossier in draft, the tokens of the clerks who submit and accept it, and a server over them (on any free
// port, not yet listening).
struct Draft {
  ApiServer s;
  std::string at = "/dossiers/" + std::to_string(create(s));
  std::string clerk = s.token("xom-khuan-lan.clerk"), police = s.token("ca-xa-phuong-tien.clerk");
  http::Server server{*s.app, [] {
                        ServerSettings any_port;
                        any_port.port = 0;
                        return any_port;
                      }()};
};

// A server listening on a free port and running on a thread of its own.
struct Running {
  explicit Running(http::Server& s) : server(s) {
    auto listening = server.listen();
    REQUIRE(listening.ok());
    port = listening.value();
    std::promise<void> started;
    ran = std::async(std::launch::async, [this, &started] {
      return server.run([](const std::string&) {}, [&] { started.set_value(); });
    });
    started.get_future().wait();
  }
  // What run() returned, once the server has stopped without being asked to (within 20 s; else it is
  // stopped, so that the test fails instead of hanging).
  Status stopped_by_itself() {
    const bool stopped = ran.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
    if (!stopped) server.stop();
    REQUIRE(stopped);
    return ran.get();
  }
  http::Server& server;
  int port = 0;
  std::future<Status> ran;
};

TEST_CASE(
    "server: after a failed flush of the log nothing more is answered as done - the waiting command gets "
    "503 log_not_durable - no flush is tried again - and the server stops by itself with that error",
    "[http]") {
  Draft d;
  const std::string &at = d.at, &clerk = d.clerk, &police = d.police;
  http::Server& server = d.server;
  std::atomic<bool> failing{false};
  std::atomic<int> flushes{0}, after_failure{0};
  server.set_flush([&]() -> Status {
    ++flushes;
    if (!failing) return Status::Ok();
    if (++after_failure > 1) return Status::Ok();  // were it tried again, the kernel could well say so
    return make_error(ErrorCode::kInternal, "fdatasync: Input/output error");
  });
  Running running(server);
  const int port = running.port;
  const testing::HttpReply submitted = testing::http_request(port, "POST", at + "/actions/submit", clerk);
  CHECK(submitted.status == 200);
  const int flushed = flushes;
  CHECK(flushed >= 1);

  failing = true;
  const testing::HttpReply accepted = testing::http_request(port, "POST", at + "/actions/accept", police);
  CHECK(accepted.status == 503);
  const json::value error = json::parse(accepted.body).at("error");
  CHECK(error.at("reason").as_string() == "log_not_durable");
  CHECK_THAT(std::string(error.at("message").as_string()),
             Catch::Contains("Input/output error") && Catch::Contains("không xác nhận được"));
  // The server stops by itself, and says why.
  const Status stopped = running.stopped_by_itself();
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().reason == "log_not_durable");
  CHECK(after_failure == 1);  // the failed flush was the last one tried
  CHECK(testing::http_request(port, "GET", at, clerk).status == 0);  // nobody listens any more
}

TEST_CASE("server: work handed to the engine before a flush failed but run after it is not run", "[http]") {
  Draft d;
  const std::string &at = d.at, &clerk = d.clerk, &police = d.police;
  http::Server& server = d.server;
  std::promise<void> flushing, fail;
  std::shared_future<void> go = fail.get_future().share();
  std::atomic<bool> armed{false};
  server.set_flush([&]() -> Status {
    if (!armed) return Status::Ok();
    flushing.set_value();  // the accept's group is committed and waits for this flush
    go.wait();
    return make_error(ErrorCode::kInternal, "fdatasync: Input/output error");
  });
  Running running(server);
  const int port = running.port;
  // Answered after a flush that covers it and everything handed over before (the timers fired at start).
  CHECK(testing::http_request(port, "POST", at + "/actions/submit", clerk).status == 200);
  armed = true;
  auto accepted = std::async(std::launch::async, [&] {
    return testing::http_request(port, "POST", at + "/actions/accept", police);
  });
  flushing.get_future().wait();
  // The engine, free meanwhile, is held by work A; work B waits behind it.
  std::promise<void> held, release;
  std::shared_future<void> released = release.get_future().share();
  auto a = std::async(std::launch::async, [&] {
    return server.on_engine([&](App&) {
      held.set_value();
      released.wait();
      return Status::Ok();
    });
  });
  held.get_future().wait();
  std::atomic<bool> b_ran{false};
  auto b = std::async(std::launch::async, [&] {
    return server.on_engine([&](App&) {
      b_ran = true;
      return Status::Ok();
    });
  });
  fail.set_value();
  CHECK(accepted.get().status == 503);  // answered once the failure is known
  release.set_value();
  CHECK(a.get().ok());
  // B is refused: by the engine when it was posted before the server stopped (almost always), else by
  // on_engine itself (the server no longer runs).
  const Status b_status = b.get();
  REQUIRE_FALSE(b_status.ok());
  CHECK((b_status.error().reason == "log_not_durable" ||
         b_status.error().message.find("máy chủ không chạy") != std::string::npos));
  CHECK_FALSE(b_ran);
  CHECK(running.stopped_by_itself().error().reason == "log_not_durable");
}

// Holds the server's engine with work of its own (as the dispatcher's records or a long command would hold
// it) from construction until release().
struct HeldEngine {
  explicit HeldEngine(http::Server& server) {
    std::promise<void> held;
    thread = std::thread([this, &server, &held] {
      CHECK(server
                .on_engine([&](App&) {
                  held.set_value();
                  released.wait();
                  return Status::Ok();
                })
                .ok());
    });
    held.get_future().wait();
  }
  HeldEngine(const HeldEngine&) = delete;
  HeldEngine& operator=(const HeldEngine&) = delete;
  ~HeldEngine() { release(); }
  // Lets the engine go on, once the holding work has returned.
  void release() {
    if (!thread.joinable()) return;
    release_.set_value();
    thread.join();
  }
  std::promise<void> release_;
  std::shared_future<void> released = release_.get_future().share();
  std::thread thread;
};

TEST_CASE(
    "server: a command answered while the server stops tells its kept-alive client the connection closes",
    "[http]") {
  ApiServer s;
  const std::string at = "/dossiers/" + std::to_string(create(s));
  const std::string clerk = s.token("xom-khuan-lan.clerk");
  ServerSettings settings;
  settings.port = 0;
  http::Server server(*s.app, settings);
  auto listening = server.listen();
  REQUIRE(listening.ok());
  const int port = listening.value();
  std::promise<void> running;
  Status ran = Status::Ok();
  std::thread loop([&] { ran = server.run([](const std::string&) {}, [&] { running.set_value(); }); });
  running.get_future().wait();
  HeldEngine engine(server);
  // A submission on a kept-alive connection reaches the engine's queue; then the server is told to stop.
  const std::uint64_t handed = server.engine_requests();
  const int fd = testing::connect_loopback(port);
  REQUIRE(fd >= 0);
  REQUIRE(testing::send_all(fd, "POST " + at +
                                    "/actions/submit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                    clerk + "\r\nContent-Length: 0\r\n\r\n"));
  for (int i = 0; i < 1000 && server.engine_requests() == handed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(server.engine_requests() == handed + 1);
  server.stop();  // on the loop before the answer, which is posted there only once the engine is released
  engine.release();
  // In-flight, it is run and answered - and the answer says the connection closes, which it then does.
  const std::string answer = testing::read_all(fd);
  ::close(fd);
  const auto head_end = answer.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  INFO(answer.substr(0, head_end));
  CHECK(testing::parse_reply(answer).status == 200);
  CHECK(answer.substr(0, head_end).find("\r\nConnection: close") != std::string::npos);
  loop.join();
  CHECK(ran.ok());
}

TEST_CASE("server: reads are answered by the reader while the engine is busy - a command waits for the engine",
          "[http]") {
  ApiServer s;
  const std::string at = "/dossiers/" + std::to_string(create(s));
  const std::string clerk = s.token("xom-khuan-lan.clerk");
  auto reader_store = SqliteStore::open(s.dir.file("hoso.db"), OpenMode::kExisting);
  REQUIRE(reader_store.ok());
  auto reader = App::over(std::move(reader_store.value()));
  REQUIRE(reader.ok());
  ServerSettings settings;
  settings.port = 0;
  http::Server server(*s.app, settings, reader->get());
  auto listening = server.listen();
  REQUIRE(listening.ok());
  const int port = listening.value();
  std::promise<void> running;
  std::thread loop([&] { server.run([](const std::string&) {}, [&] { running.set_value(); }); });
  running.get_future().wait();
  HeldEngine engine(server);
  const std::uint64_t handed = server.engine_requests();
  // A read is answered meanwhile (without the reader it would wait for the engine: the client gives up after
  // 10 s and this fails), and is not counted as held up by the engine's work.
  const testing::HttpReply read = testing::http_request(port, "GET", at, clerk);
  CHECK(read.status == 200);
  CHECK(json::parse(read.body).at("state").as_string() == "draft");
  CHECK(server.engine_requests() == handed);
  // A command waits for the engine, and runs once it is free; it is counted as soon as it reaches the
  // engine's queue (what tells the notice dispatcher that its records held a clerk up).
  auto submitted =
      std::async(std::launch::async, [&] { return testing::http_request(port, "POST", at + "/actions/submit", clerk); });
  for (int i = 0; i < 1000 && server.engine_requests() == handed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(server.engine_requests() == handed + 1);
  CHECK(submitted.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  engine.release();
  CHECK(submitted.get().status == 200);
  // The reader sees what the command wrote once it was answered.
  const testing::HttpReply after = testing::http_request(port, "GET", at, clerk);
  CHECK(json::parse(after.body).at("state").as_string() == "commune_intake");
  server.stop();
  loop.join();
}

namespace {

// Runs `sql` on the database file of `s` behind the app's back (as another process could).
void behind_the_back(ApiServer& s, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(s.dir.file("hoso.db").c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// `text` with its only occurrence of `from` replaced by `to`.
std::string replaced_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `hoso init` run by another process on the database of `s`: a copy of the shipped config with each file
// named (under config/) rewritten by its edit, installed from a connection of its own.
using ConfigEdits = std::map<std::string, std::function<std::string(std::string)>>;
void init_from_elsewhere(ApiServer& s, const ConfigEdits& edits) {
  const std::string config = s.dir.file("config");
  std::filesystem::remove_all(config);
  std::filesystem::copy(std::string(HOSO_SOURCE_DIR) + "/config", config,
                        std::filesystem::copy_options::recursive);
  for (const auto& [file, edit] : edits) {
    const std::string path = config + "/" + file, edited = edit(file_text(path));  // read whole, then write
    std::ofstream(path) << edited;
  }
  auto project = yaml::load_project(config, std::string(HOSO_SOURCE_DIR) + "/workflows");
  INFO((project.ok() ? "" : project.diagnostics.front().format()));
  REQUIRE(project.ok());
  auto other = SqliteStore::open(s.dir.file("hoso.db"), OpenMode::kExisting);
  REQUIRE(other.ok());
  REQUIRE(
      (*other)
          ->write([&](WriteTx& tx) { return yaml::install_project(tx, project, "2026-03-02T02:00:00.000Z"); })
          .ok());
}

// `text` with every occurrence of `from` replaced by `to` (at least one).
std::string replaced_all(std::string text, const std::string& from, const std::string& to) {
  std::size_t count = 0;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()), ++count)
    text.replace(at, from.size(), to);
  REQUIRE(count > 0);
  return text;
}

}  // namespace

TEST_CASE(
    "api: what hoso init stores while an app serves holds from its next request - people and roles - the "
    "calendar - the current workflows - while dossiers started before keep their definition and limits",
    "[http]") {
  ApiServer s("2026-03-02T02:00:00.000Z");  // Monday 2 March 2026, 09:00 in Hà Nội
  const std::string unit = "xom-khuan-lan.clerk", police = "ca-xa-phuong-tien.clerk";
  const std::int64_t before = create(s);
  s.ok("POST", "/dossiers/" + std::to_string(before) + "/actions/submit", unit);
  s.ok("POST", "/dossiers/" + std::to_string(before) + "/actions/accept", police);  // its limit starts
  const json::value old_view = s.ok("GET", "/dossiers/" + std::to_string(before), unit);
  // 10 working days from the day after: 3–6, 9–13 and 16 March.
  CHECK(old_view.at("deadlines").at(0).at("working_days").as_int64() == 10);
  CHECK(old_view.at("deadlines").at(0).at("due").as_string() == "2026-03-16");
  const std::int64_t version = s.app->config_version;

  // Another process runs `hoso init` with a changed config: a new ministry, the unit's clerk leaves and
  // another takes over, Saturday 7 March 2026 is announced as a working day, and the commune levels get 12
  // working days.
  const std::string commune_limit =
      "  - id: cap_xa\n    levels: [commune_police, commune_culture, commune_peoples_committee]\n";
  init_from_elsewhere(
      s, {// A new ministry ahead of every other org but the root (each later org's place in the tree moves).
          {"orgs.yaml",
           [](std::string text) {
             return replaced_once(
                 std::move(text), "  - id: bo-cong-an\n",
                 "  - id: bo-moi\n    name: \"Bộ Mới\"\n    kind: ministry\n    parent: trung-uong\n"
                 "  - id: bo-cong-an\n");
           }},
          {"users.yaml",
           [](std::string text) {
             return replaced_once(std::move(text), "  - id: xom-khuan-lan.clerk\n",
                                  "  - id: xom-khuan-lan.clerk\n    active: false\n") +
                    "  - id: xom-khuan-lan.clerk2\n    name: \"Hoàng Văn Mới\"\n    email: "
                    "moi.hv@xom-khuan-lan.example\n"
                    "    org: xom-khuan-lan\n    roles: [clerk]\n";
           }},
          {"calendar/2026.yaml",
           [](std::string text) {
             return replaced_once(std::move(text), "working_days:\n",
                                  "working_days:\n  - date: 2026-03-07\n    note: \"Làm bù (thử nghiệm)\"\n");
           }},
          {"awards.yaml", [&](std::string text) {
             return replaced_once(std::move(text), commune_limit + "    working_days: 10\n",
                                  commune_limit + "    working_days: 12\n");
           }}});

  // The app's next request reads it all again (once, and says so for the log).
  Response left = s.call("POST", "/dossiers", unit, kProposal);
  CHECK(left.status == 401);
  CHECK(reason(left) == "inactive_user");
  CHECK_THAT(left.denied, Catch::Contains("user=" + unit + " reason=inactive_user"));
  CHECK_THAT(left.note, Catch::Contains("config: read again at version"));
  CHECK(s.app->config_version > version);
  Response again = s.call("GET", "/inbox", police);
  CHECK(again.status == 200);
  CHECK(again.note.empty());
  // The new clerk acts; the dossier takes the workflow as it is now, its limit counted on the new calendar.
  const std::string newcomer = "xom-khuan-lan.clerk2";
  const std::int64_t after = s.ok("POST", "/dossiers", newcomer, kProposal, 201).at("id").as_int64();
  s.ok("POST", "/dossiers/" + std::to_string(after) + "/actions/submit", newcomer);
  s.ok("POST", "/dossiers/" + std::to_string(after) + "/actions/accept", police);
  const json::value new_view = s.ok("GET", "/dossiers/" + std::to_string(after), newcomer);
  CHECK(new_view.at("definition_hash") != old_view.at("definition_hash"));
  CHECK(new_view.at("deadlines").at(0).at("working_days").as_int64() == 12);
  // 12 working days from the day after: 3–7 (Saturday worked), 9–13, 16 and 17 March.
  CHECK(new_view.at("deadlines").at(0).at("due").as_string() == "2026-03-17");
  CHECK(s.ok("GET", "/calendar/add?from=2026-03-02&days=12", newcomer).at("due").as_string() == "2026-03-17");
  // The dossier submitted before keeps its pinned definition and the limit it was given.
  const json::value kept = s.ok("GET", "/dossiers/" + std::to_string(before), police);
  CHECK(kept.at("definition_hash") == old_view.at("definition_hash"));
  CHECK(kept.at("deadlines").at(0).at("due").as_string() == "2026-03-16");
  // And it goes on under it: appraised at the commune, still on its definition.
  s.ok("POST", "/dossiers/" + std::to_string(before) + "/actions/appraise", "vhxh-xa-phuong-tien.appraiser");
  const json::value appraised = s.ok("GET", "/dossiers/" + std::to_string(before), police);
  CHECK(appraised.at("definition_hash") == old_view.at("definition_hash"));
  CHECK(appraised.at("version").as_int64() == kept.at("version").as_int64() + 1);
}

TEST_CASE(
    "api: a stored config that no longer loads is answered 503 config_unreadable - what fails logged once "
    "and not shown to the client - nothing is written and the app goes on once it is repaired",
    "[http]") {
  ApiServer s;
  const std::string unit = "xom-khuan-lan.clerk";
  create(s);
  const std::int64_t version = s.app->config_version;
  // The directory broken behind the app's back, and the versions moved as an init would.
  behind_the_back(s,
                  "UPDATE users SET org = 'khong-co-don-vi' WHERE key = 'ca-xa-phuong-tien.clerk';"
                  "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                  "WHERE key IN ('config_version', 'directory_version')");
  // The client is told to tell an administrator; what fails is for the server's log, said once: the same
  // version is not read again.
  auto refused = [&](const char* method, const char* target) {
    Response r = s.call(method, target, unit, method == std::string("POST") ? kProposal : "");
    INFO(method << " " << target << ": " << r.body);
    CHECK(r.status == 503);
    CHECK(reason(r) == "config_unreadable");
    CHECK_THAT(r.body, Catch::Contains("hãy báo quản trị viên") && !Catch::Contains("khong-co-don-vi"));
    return r.note;
  };
  CHECK_THAT(refused("POST", "/dossiers"),
             Catch::Contains("cannot be read, the previous one stays") &&
                 Catch::Contains("user 'ca-xa-phuong-tien.clerk': unknown org 'khong-co-don-vi'"));
  CHECK(refused("GET", "/inbox").empty());
  CHECK(refused("POST", "/dossiers").empty());
  CHECK(s.call("GET", "/health").status == 200);
  CHECK(s.app->config_version == version);  // the app is as it was
  {
    auto store = SqliteStore::open(s.dir.file("hoso.db"), OpenMode::kExisting);
    REQUIRE(store.ok());
    CHECK((*store)->last_gseq().value() == 1);  // only the first creation is in the log
  }
  // Repaired (and moved again): the app reads it and answers.
  behind_the_back(s,
                  "UPDATE users SET org = 'ca-xa-phuong-tien' WHERE key = 'ca-xa-phuong-tien.clerk';"
                  "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                  "WHERE key IN ('config_version', 'directory_version')");
  Response created = s.call("POST", "/dossiers", unit, kProposal);
  INFO(created.body);
  CHECK(created.status == 201);
  CHECK_THAT(created.note, Catch::Contains("config: read again at version"));
  CHECK(s.app->config_version == version + 2);
}

TEST_CASE(
    "server: before firing timers the engine reads what hoso init stored since - an overdue dossier's "
    "superior is told at the province police as the config has it now",
    "[http]") {
  ApiServer s("2026-03-02T02:00:00.000Z");
  const std::string at = "/dossiers/" + std::to_string(create(s));
  s.ok("POST", at + "/actions/submit", "xom-khuan-lan.clerk");
  s.ok("POST", at + "/actions/accept", "ca-xa-phuong-tien.clerk");  // the commune's limit runs
  // Its reminder fires (a virtual clock is moved through the due timers, never back).
  s.set_clock("2026-03-12T01:00:00.000Z");
  auto reminded = s.app->service->fire_due(s.app->clock->now(), true);
  REQUIRE(reminded.ok());
  REQUIRE(reminded->fired == 1);
  http::Server server(*s.app, [] {
    ServerSettings any_port;
    any_port.port = 0;
    return any_port;
  }());
  // While the server is down (its app wired already), the province police gets another id, and the limit
  // passes.
  auto renamed = [](std::string text) {
    return replaced_all(std::move(text), "ca-tinh-thai-nguyen", "cong-an-tinh-thai-nguyen");
  };
  init_from_elsewhere(s, {{"orgs.yaml", renamed}, {"users.yaml", renamed}});
  s.set_clock("2026-03-16T17:00:00.000Z");  // the end of the limit's last day
  // Started: the due timers fire at once, no request made.
  std::mutex m;
  std::vector<std::string> logged;
  REQUIRE(server.listen().ok());
  std::promise<void> started;
  auto ran = std::async(std::launch::async, [&] {
    return server.run(
        [&](const std::string& line) {
          std::lock_guard lock(m);
          logged.push_back(line);
        },
        [&] { started.set_value(); });
  });
  started.get_future().wait();
  auto store = SqliteStore::open(s.dir.file("hoso.db"), OpenMode::kExisting);
  REQUIRE(store.ok());
  std::string escalation;
  for (int i = 0; i < 200 && escalation.empty(); ++i) {
    for (const EventRecord& e : (*store)->events(1).value())
      if (e.type == "TimerFired" && e.payload.find("deadline_overdue_superior") != std::string::npos)
        escalation = e.payload;
    if (escalation.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server.stop();
  REQUIRE(ran.get().ok());
  INFO(escalation);
  CHECK_THAT(escalation, Catch::Contains("org:cong-an-tinh-thai-nguyen"));
  CHECK_THAT(escalation, !Catch::Contains("org:ca-tinh-thai-nguyen"));
  std::lock_guard lock(m);
  CHECK(std::count_if(logged.begin(), logged.end(), [](const std::string& l) {
          return l.starts_with("config: read again at version");
        }) == 1);
}
