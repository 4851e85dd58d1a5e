// A fixed-length, seeded fuzz run of the HTTP API's request → command mapping (adapters/http/api.*),
// built with AddressSanitizer and UndefinedBehaviorSanitizer by scripts/test.sh. Requests are grown from
// the API's own grammar (routes, ids, query parameters, tokens, command bodies) and then mutated byte by
// byte. Every answer must be a JSON document with an expected status; a 500 is a defect (bad input must
// never reach an internal error). After the run the history must still verify.
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "adapters/http/api.hpp"
#include "adapters/http/auth.hpp"
#include "adapters/runtime/app.hpp"
#include "tests/support/temp_dir.hpp"

using namespace hoso;

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "api_fuzz: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 20000;
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::atol(argv[2])) : 20261123u;
  testing::TempDir dir;
  auto store = SqliteStore::open(dir.file("hoso.db"), OpenMode::kCreate, SqliteStore::kDefaultBusyTimeout,
                                 Durability::kNoSync);
  if (!store) return fail(store.error().message);
  auto project = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config", std::string(HOSO_SOURCE_DIR) + "/workflows");
  if (!project.ok()) return fail("project");
  if (auto st = (*store)->write([&](WriteTx& tx) { return yaml::install_project(tx, project, "2026-01-01T00:00:00.000Z"); }); !st)
    return fail(st.error().message);
  auto app = App::over(std::move(store.value()));
  if (!app) return fail(app.error().message);
  http::Api api(**app);
  std::vector<std::string> tokens = {""};
  for (const char* user : {"xom-khuan-lan.clerk", "ca-xa-phuong-tien.clerk", "vhxh-xa-phuong-tien.appraiser",
                           "ubnd-xa-phuong-tien.signer", "ubnd-tinh-thai-nguyen.auditor", "ca-tinh-lao-cai.clerk"}) {
    auto t = http::issue_token(*(*app)->store, (*app)->directory, user, (*app)->clock->now());
    if (!t) return fail(t.error().message);
    tokens.push_back("Bearer " + t->token);
  }
  tokens.push_back("Bearer hoso_ffff");
  tokens.push_back("Basic abc");

  std::mt19937 rng(seed);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "", "G\x01T"};
  const std::vector<std::string> actions = {"submit", "accept", "appraise", "decide", "return", "reject", "withdraw",
                                            "vote", "resubmit", "forward", "nope", "%00", ""};
  const std::vector<std::string> bodies = {
      R"({"workflow":"standard","award":"giay_khen_xa","fields":{"recipient_name":"Xóm","recipient_kind":"collective","merits_count":3,"leads_cluster":true},"documents":[{"kind":"to_trinh","filename":"a.pdf","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1}]})",
      R"({"expected_version":1})",
      R"({"fields":{"decision_number":"1/QĐ","decision_date":"2026-03-04"}})",
      R"({"ballot":"yes","note":"Đồng ý"})",
      R"({"note":"x"})",
      "",
      "[]",
      "null",
      R"({"fields":{"a":{"b":[1,2,{"c":null}]}}})",
      R"({"documents":[{"kind":1}],"expected_version":-1})"};
  auto id = [&]() -> std::string {
    switch (rng() % 5) {
      case 0: return std::to_string(1 + rng() % 8);
      case 1: return "-1";
      case 2: return "99999999999999999999";
      case 3: return "abc";
      default: return "0";
    }
  };
  auto target = [&]() -> std::string {
    switch (rng() % 9) {
      case 0: return "/dossiers";
      case 1: return "/dossiers/" + id();
      case 2: return "/dossiers/" + id() + "/actions/" + pick(actions);
      case 3: return "/dossiers/" + id() + "/history";
      case 4: return "/inbox";
      case 5: return "/dossiers?state=" + pick(actions) + "&page=" + id() + "&per_page=" + id() + "&q=%C3%A2";
      case 6: return "/calendar/add?from=2026-04-2" + std::to_string(rng() % 10) + "&days=" + id();
      case 7: return "/reports/status?year=" + id();
      default: return "/" + pick(actions) + "/%" + pick(actions);
    }
  };
  auto mutate = [&](std::string s) {
    const int edits = static_cast<int>(rng() % 4);
    for (int i = 0; i < edits && !s.empty(); ++i) {
      const std::size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = static_cast<char>(rng() % 256); break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        default: {
          static constexpr char kSpecial[] = "{}[]\",:\\%\x80\xff";
          s.insert(at, 1, kSpecial[rng() % (sizeof kSpecial - 1)]);
        }
      }
    }
    return s;
  };
  long answered = 0;
  for (long i = 0; i < iterations; ++i) {
    http::Request req{pick(methods), target(), pick(tokens), pick(bodies)};
    if (rng() % 3 == 0) req.target = mutate(req.target);
    if (rng() % 2 == 0) req.body = mutate(req.body);
    if (rng() % 10 == 0) req.authorization = mutate(req.authorization);
    // Half of them as the server hands them over: the body parsed, and mapped onto a command's input, ahead.
    if (rng() % 2 == 0 && !req.body.empty()) req.parsed = http::parse_body(req.body, req.target);
    const http::Response r = api.handle(req);
    boost::system::error_code ec;
    boost::json::parse(r.body, ec);
    if (ec) return fail("not JSON: " + req.method + " " + req.target + " -> " + r.body);
    switch (r.status) {
      case 200: case 201: case 400: case 401: case 403: case 404: case 405: case 409: case 422: ++answered; break;
      default:
        return fail("status " + std::to_string(r.status) + " for " + req.method + " " + req.target + " " + req.body +
                    " -> " + r.body);
    }
  }
  auto audit = (*app)->service->audit_verify();
  if (!audit || !audit->ok) return fail("the history does not verify after the run");
  std::printf("api_fuzz: %ld requests answered, history verifies (%lld events)\n", answered,
              static_cast<long long>(audit->events));
  return 0;
}
