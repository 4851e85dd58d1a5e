// `hoso serve` as a real process on 127.0.0.1: a dossier driven through HTTP by each level's clerk with their
// own token, the permission rules, a stale version, bad and slow clients, notices delivered, SIGTERM, and
// a kill -9 under load after which nothing acknowledged is lost and the history verifies.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/e2e/cli_support.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/smtp_server.hpp"

using namespace hoso::testing;

namespace {

// Sends `request` as it is on a new connection to 127.0.0.1:port and returns everything read until the server
// closes it.
std::string exchange_raw(int port, const std::string& request) {
  const int fd = connect_loopback(port, 5000);
  REQUIRE(fd >= 0);
  REQUIRE(send_all(fd, request));
  std::string answer = read_all(fd);
  ::close(fd);
  return answer;
}

// A running `hoso serve` on a free port of 127.0.0.1; killed (SIGKILL) at scope end if still running.
struct Served {
  Child child;
  int port = 0;

  // `extra` options replace the default --file; `env` is added to the server's environment.
  Served(const Cli& cli, std::vector<std::string> extra = {}, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {HOSO_BINARY, "serve", "--listen", "127.0.0.1:0", "--db", cli.db};
    if (std::find(extra.begin(), extra.end(), "--webhook") == extra.end()) {
      argv.push_back("--file");
      argv.push_back(cli.dir + "/notices.jsonl");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    start(argv, env);
  }
  // Configured only by `yaml`, written as DIR/conf/server.yaml: `hoso serve --config DIR/conf`, nothing else on
  // the command line.
  struct FromConfig {};
  Served(const Cli& cli, FromConfig, const std::string& yaml, const std::vector<std::string>& env) {
    std::filesystem::create_directories(cli.dir + "/conf");
    std::ofstream(cli.dir + "/conf/server.yaml") << yaml;
    start({HOSO_BINARY, "serve", "--config", cli.dir + "/conf"}, env);
  }
  ~Served() {
    if (child.pid > 0) {
      ::kill(child.pid, SIGKILL);
      finish(child);
    }
  }
  // With the default options, on a disk where no file can grow past `bytes` (see spawn()).
  struct DiskFull {
    rlim_t bytes;
  };
  Served(const Cli& cli, DiskFull full) {
    start({HOSO_BINARY, "serve", "--listen", "127.0.0.1:0", "--db", cli.db, "--file", cli.dir + "/notices.jsonl"},
          {}, full.bytes);
  }
  // With the default options, able to hold no more than `files` descriptors (see spawn()).
  struct FewFiles {
    rlim_t files;
  };
  Served(const Cli& cli, FewFiles few) {
    start({HOSO_BINARY, "serve", "--listen", "127.0.0.1:0", "--db", cli.db, "--file", cli.dir + "/notices.jsonl"},
          {}, std::nullopt, few.files);
  }
  // Stops it with `signal` and returns its exit code and stderr.
  RunResult stop(int signal) {
    ::kill(child.pid, signal);
    RunResult r = finish(child);
    child.pid = -1;
    return r;
  }

 private:
  void start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             std::optional<rlim_t> file_size_limit = std::nullopt,
             std::optional<rlim_t> open_files_limit = std::nullopt) {
    child = spawn(argv, env, file_size_limit, open_files_limit);
    REQUIRE(child.pid > 0);
    // The first line on stdout names the address.
    std::string line;
    char ch;
    while (line.find('\n') == std::string::npos && ::read(child.out_fd, &ch, 1) == 1) line += ch;
    const auto colon = line.rfind(':');
    INFO(line);
    REQUIRE(colon != std::string::npos);
    port = std::stoi(line.substr(colon + 1));
  }

 public:
  HttpReply call(const std::string& method, const std::string& target, const std::string& token = "",
                 const std::string& body = "") const {
    return http_request(port, method, target, token, body);
  }
};

std::string token(const Cli& cli, const std::string& user) {
  return std::string(cli.ok_json({"users", "token", user}).at("token").as_string());
}

std::string proposal() {
  std::string docs;
  for (const char* kind : {"to_trinh", "bao_cao_thanh_tich", "bien_ban_hop", "y_kien_hiep_y", "xac_nhan_thanh_tich"})
    docs += std::string(docs.empty() ? "" : ",") + R"({"kind":")" + kind + R"(","filename":"a.pdf","sha256":")" +
            std::string(64, 'a') + R"(","size":1024})";
  return R"({"workflow":"standard","award":"giay_khen_xa","fields":{"recipient_name":"Xóm Khuân Lân",
    "recipient_kind":"collective","recipient_org_type":"residential","leads_cluster":true,"merits_count":3,
    "replicated_models":1,"has_movement_plan":true,"security_certified":true,"security_cert_cycle_end":"2025-11-15",
    "movement_grade":"xuat_sac","good_models":2,"serious_incident":false,"party_org_clean":true,"has_complaints":false},
    "documents":[)" + docs + "]}";
}

json::value body(const HttpReply& r) { return json::parse(r.body); }

// One answer read whole (its head and Content-Length bytes) from a kept-alive connection, which stays open.
HttpReply read_answer(int fd) {
  std::string got;
  for (std::size_t total = std::string::npos; total == std::string::npos || got.size() < total;) {
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    got.append(buf, static_cast<std::size_t>(n));
    const auto head_end = got.find("\r\n\r\n");
    const auto length_at = got.find("Content-Length: ");
    if (head_end != std::string::npos && length_at != std::string::npos && length_at < head_end)
      total = head_end + 4 + std::stoul(got.substr(length_at + 16));
  }
  return parse_reply(got);
}

// The types of a dossier's events, in order.
std::vector<std::string> event_types(const Cli& cli, std::int64_t id) {
  const json::value history = cli.ok_json({"history", std::to_string(id)});
  std::vector<std::string> out;
  for (const auto& e : history.as_array()) out.emplace_back(e.at("type").as_string());
  return out;
}

}  // namespace

TEST_CASE("serve: a dossier driven through HTTP only, every permission rule, a stale version, SIGTERM",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk"), police = token(cli, "ca-xa-phuong-tien.clerk"),
                    culture = token(cli, "vhxh-xa-phuong-tien.appraiser"),
                    signer = token(cli, "ubnd-xa-phuong-tien.signer"), other = token(cli, "ca-tinh-lao-cai.clerk"),
                    auditor = token(cli, "ubnd-tinh-thai-nguyen.auditor");
  Served s(cli);
  REQUIRE(s.call("GET", "/health").status == 200);
  HttpReply created = s.call("POST", "/dossiers", unit, proposal());
  INFO(created.body);
  REQUIRE(created.status == 201);
  const std::string at = "/dossiers/" + std::to_string(body(created).at("id").as_int64());
  REQUIRE(s.call("POST", at + "/actions/submit", unit, R"({"expected_version":1})").status == 200);

  // Refusals: no token, another province, the wrong role, an auditor writing, a stale version.
  CHECK(s.call("GET", at).status == 401);
  CHECK(s.call("GET", at, "hoso_not_a_token").status == 401);
  CHECK(s.call("GET", at, other).status == 403);
  CHECK(s.call("POST", at + "/actions/accept", other).status == 403);
  CHECK(s.call("POST", at + "/actions/accept", culture).status == 403);
  CHECK(s.call("GET", at, auditor).status == 200);
  CHECK(s.call("POST", at + "/actions/accept", auditor).status == 403);
  const json::value before = body(s.call("GET", at, unit));
  HttpReply stale = s.call("POST", at + "/actions/accept", police, R"({"expected_version":1})");
  CHECK(stale.status == 409);
  // Nothing changed: where the submission left it, and no event but the creation and the submission (the
  // dispatcher may meanwhile record the submission's notice going out: an event, not an edit).
  const json::value after = body(s.call("GET", at, unit));
  CHECK(after.at("state") == before.at("state"));
  CHECK(after.at("holder") == before.at("holder"));
  std::vector<std::string> edits;
  const json::value history = body(s.call("GET", at + "/history", unit));
  for (const auto& e : history.as_array())
    if (!e.at("type").as_string().starts_with("Notification")) edits.emplace_back(e.at("type").as_string());
  CHECK(edits == std::vector<std::string>{"DossierCreated", "DossierSubmitted"});

  // The path to the decision, each level with its own token.
  REQUIRE(s.call("POST", at + "/actions/accept", police, R"({"expected_version":2})").status == 200);
  REQUIRE(s.call("POST", at + "/actions/appraise", culture).status == 200);
  HttpReply decided = s.call("POST", at + "/actions/decide", signer,
                             R"({"fields":{"decision_number":"5/QĐ-UBND","decision_date":"2026-03-04"}})");
  INFO(decided.body);
  REQUIRE(decided.status == 200);
  CHECK(body(s.call("GET", at, unit)).at("status").as_string() == "closed");

  // A revoked token stops working at once, while the server runs.
  REQUIRE(cli({"users", "revoke", "ca-tinh-lao-cai.clerk"}).code == 0);
  CHECK(s.call("GET", "/inbox", other).status == 401);

  // The notices went out through the file adapter, each recorded in the history.
  const std::string notices = cli.dir + "/notices.jsonl";
  std::string text;
  for (int i = 0; i < 200 && text.find("dossier_decided") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(notices);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  CHECK(text.find("ca-xa-phuong-tien") != std::string::npos);
  CHECK(text.find("dossier_decided") != std::string::npos);

  RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("stopped"));
  CHECK_THAT(stopped.err, Catch::Contains("denied"));  // refused attempts are logged
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
}

TEST_CASE("serve: a client that expects 100-continue is told to go on at once - and a body over the limit is refused "
          "before it is sent",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli);
  const std::string t = token(cli, "xom-khuan-lan.clerk");
  auto head = [&](std::size_t length) {
    return "POST /dossiers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + t +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) +
           "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
  };
  const std::string body = proposal();
  {  // As curl sends a body past 1 KiB: the head, then the body once the server says to go on.
    const int fd = connect_loopback(s.port, 3000);
    REQUIRE(fd >= 0);
    REQUIRE(send_all(fd, head(body.size())));
    const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    std::string interim;
    char ch;
    while (interim.size() < go_on.size() && ::recv(fd, &ch, 1, 0) == 1) interim += ch;
    CHECK(interim == go_on);  // not after the client's own wait: the receive times out after 3 s
    REQUIRE(send_all(fd, body));
    const HttpReply created = parse_reply(read_all(fd));
    ::close(fd);
    INFO(created.body);
    CHECK(created.status == 201);
  }
  {  // A body over the limit: refused on its head, never asked for.
    const int fd = connect_loopback(s.port, 3000);
    REQUIRE(fd >= 0);
    REQUIRE(send_all(fd, head(2 * 1024 * 1024)));
    const std::string answer = read_all(fd);
    ::close(fd);
    CHECK(answer.find("100 Continue") == std::string::npos);
    CHECK(parse_reply(answer).status == 413);
  }
  CHECK(read_one(cli, "SELECT count(*) FROM dossiers") == "1");
}

TEST_CASE(
    "serve: what hoso init changes while the server runs holds from the next request - a clerk who left is "
    "refused and new ones act and get notices without a restart - an init that changes nothing changes "
    "nothing",
    "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string clerk = token(cli, "xom-khuan-lan.clerk"), police = token(cli, "ca-xa-phuong-tien.clerk");
  // A copy of the shipped config, to change.
  const std::string config = cli.copy_config();
  auto reinit = [&] {
    auto r = cli({"init", "--config", config, "--workflows", kSource + "/workflows"});
    INFO(r.err);
    REQUIRE(r.code == 0);
  };
  auto s = std::make_unique<Served>(cli);
  REQUIRE(s->call("POST", "/dossiers", clerk, proposal()).status == 201);
  // The copy loaded (its files' paths are stored with them: a change), then the same again: no change.
  auto config_version = [&] { return read_one(cli, "SELECT value FROM meta WHERE key = 'config_version'"); };
  reinit();
  const std::string version = config_version();
  reinit();
  CHECK(config_version() == version);
  CHECK(s->call("POST", "/dossiers", clerk, proposal()).status == 201);
  // The unit's clerk leaves and another takes over; the commune police gets a second clerk. Loaded by init
  // while the server runs.
  std::string users;
  {
    std::ifstream in(config + "/users.yaml");
    users.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string entry = "  - id: xom-khuan-lan.clerk\n";
  const auto at = users.find(entry);
  REQUIRE(at != std::string::npos);
  users.insert(at + entry.size(), "    active: false\n");
  users +=
      "  - id: xom-khuan-lan.clerk2\n    name: \"Hoàng Văn Mới\"\n    email: moi.hv@xom-khuan-lan.example\n"
      "    org: xom-khuan-lan\n    roles: [clerk]\n"
      "  - id: ca-xa-phuong-tien.clerk2\n    name: \"Đinh Thị Hai\"\n    email: "
      "hai.dt@ca-xa-phuong-tien.example\n"
      "    org: ca-xa-phuong-tien\n    roles: [clerk]\n";
  std::ofstream(config + "/users.yaml") << users;
  reinit();
  // No restart: the clerk who left is refused, by the engine (a command) and by the reader (a read) alike.
  const HttpReply left = s->call("POST", "/dossiers", clerk, proposal());
  CHECK(left.status == 401);
  CHECK(body(left).at("error").at("reason").as_string() == "inactive_user");
  CHECK(s->call("GET", "/inbox", clerk).status == 401);
  // Leaving revoked the clerk's tokens: taken back (or the post given to someone new), the old one stays
  // refused, and a new one is needed.
  {
    std::string back = users;
    back.erase(back.find("    active: false\n"), std::string("    active: false\n").size());
    std::ofstream(config + "/users.yaml") << back;
    reinit();
    const HttpReply old = s->call("GET", "/inbox", clerk);
    CHECK(old.status == 401);
    CHECK(body(old).at("error").at("reason").as_string() == "revoked_token");
    CHECK(s->call("GET", "/inbox", token(cli, "xom-khuan-lan.clerk")).status == 200);
    std::ofstream(config + "/users.yaml") << users;
    reinit();
  }
  // The new clerk acts at once; the others go on.
  const std::string newcomer = token(cli, "xom-khuan-lan.clerk2");
  CHECK(s->call("GET", "/inbox", newcomer).status == 200);
  const HttpReply created = s->call("POST", "/dossiers", newcomer, proposal());
  REQUIRE(created.status == 201);
  const std::string path = "/dossiers/" + std::to_string(body(created).at("id").as_int64());
  REQUIRE(s->call("POST", path + "/actions/submit", newcomer, R"({"expected_version":1})").status == 200);
  CHECK(s->call("GET", "/inbox", police).status == 200);
  // The notice of the submission goes to the commune police's clerks as they are now: the new one too.
  const std::string notices = cli.dir + "/notices.jsonl";
  std::string received;
  for (int i = 0; i < 200 && received.empty(); ++i) {
    std::ifstream in(notices);
    for (std::string line; std::getline(in, line);)
      if (line.find("dossier_received") != std::string::npos &&
          line.find("\"dossier\":" + path.substr(path.rfind('/') + 1) + ",") != std::string::npos)
        received = line;
    if (received.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(received);
  CHECK_THAT(received, Catch::Contains("hai.dt@ca-xa-phuong-tien.example"));
  CHECK_THAT(received, Catch::Contains("vinh.lm@ca-xa-phuong-tien.example"));
  CHECK(read_one(cli, "SELECT count(*) FROM dossiers") == "3");
  const RunResult stopped = s->stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("config: read again at version"));
  CHECK_THAT(stopped.err, Catch::Contains("notify: config read again at version"));
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve: HEAD gets the head of the GET answer only - and a method a path does not take gets 405 with Allow",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli);
  auto raw = [&](const std::string& request) { return exchange_raw(s.port, request); };
  const std::string got = raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const std::string head = raw("HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  INFO(head);
  REQUIRE(parse_reply(got).status == 200);
  CHECK(parse_reply(head).status == 200);
  const auto length = "Content-Length: " + std::to_string(parse_reply(got).body.size()) + "\r\n";
  CHECK_THAT(head, Catch::Contains(length));
  CHECK(head.size() == head.find("\r\n\r\n") + 4);  // the head alone
  const std::string wrong = raw("DELETE /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  INFO(wrong);
  CHECK(parse_reply(wrong).status == 405);
  CHECK_THAT(wrong, Catch::Contains("\r\nAllow: GET, HEAD\r\n"));
  CHECK(s.stop(SIGTERM).code == 0);
}

TEST_CASE(
    "serve: timers another process adds fire without any request to the server - hoso reports open on a "
    "live database",
    "[e2e][serve]") {
  Cli cli;
  init_virtual(cli, "2026-11-20T01:00:00Z");
  Served s(cli);
  // The obligations of 2026 were due on 04/11: their timers are due as soon as they are written.
  cli.ok_json({"reports", "open", "--year", "2026"});
  auto due = [&] {
    return read_one(cli, "SELECT count(*) FROM timers WHERE due_at <= '2026-11-20T01:00:00.000Z'");
  };
  REQUIRE(due() != "0");
  for (int i = 0; i < 600 && due() != "0"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(due() == "0");
  CHECK(read_one(cli, "SELECT count(*) FROM events WHERE type = 'TimerFired'") != "0");
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("timers: fired"));
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve: a 401 names the Bearer scheme - and the scheme's name is taken in any case",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  Served s(cli);
  auto raw = [&](const std::string& authorization) {
    return exchange_raw(
        s.port, "GET /inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + authorization + "\r\n");
  };
  const std::string none = raw("");
  INFO(none);
  CHECK(parse_reply(none).status == 401);
  CHECK_THAT(none, Catch::Contains("\r\nWWW-Authenticate: Bearer realm=\"hoso\"\r\n"));
  CHECK_THAT(raw("Authorization: Bearer hoso_sai\r\n"), Catch::Contains("\r\nWWW-Authenticate: Bearer"));
  for (const char* scheme : {"Bearer", "bearer", "BEARER"}) {
    const std::string got = raw(fmt::format("Authorization: {} {}\r\n", scheme, unit));
    INFO(scheme << ": " << got);
    CHECK(parse_reply(got).status == 200);
    CHECK(got.find("WWW-Authenticate") == std::string::npos);
  }
  CHECK(parse_reply(raw("Authorization: Basic " + unit + "\r\n")).status == 401);
  CHECK(s.stop(SIGTERM).code == 0);
}

TEST_CASE("serve: malformed, oversize, slow and random requests get a 4xx or a closed connection, never a crash",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  Served s(cli, {"--read-timeout", "300"});
  CHECK(s.call("POST", "/dossiers", unit, "{not json").status == 400);
  CHECK(s.call("POST", "/dossiers", unit, R"({"workflow":1,"award":"x"})").status == 400);
  CHECK(s.call("GET", "/no/such/route", unit).status == 404);
  // Oversize: 413, or the connection closed while the client was still sending (both are allowed).
  const int oversize = s.call("POST", "/dossiers", unit, std::string(2 << 20, 'x')).status;
  CHECK((oversize == 413 || oversize == 0));
  {  // Random bytes.
    const int fd = connect_loopback(s.port);
    REQUIRE(fd >= 0);
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919 + 13) % 256);
    send_all(fd, junk);
    const HttpReply r = parse_reply(read_all(fd));
    ::close(fd);
    CHECK((r.status == 400 || r.status == 0));
  }
  {  // A slow client that never finishes its headers is cut off by the read timeout.
    const int fd = connect_loopback(s.port);
    REQUIRE(fd >= 0);
    send_all(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    const std::string rest = read_all(fd);  // returns when the server closes
    ::close(fd);
    CHECK(rest.find("200 OK") == std::string::npos);
  }
  CHECK(s.call("GET", "/health").status == 200);  // still serving
  CHECK(s.stop(SIGINT).code == 0);
}

// A POST to `target` of `head_rest` (headers after the request line, ending with the blank line) and `body`
// on a connection of its own; the server's whole answer, read until it closes.
HttpReply raw_post(int port, const std::string& head_rest, const std::string& body,
                   const std::string& target = "/dossiers") {
  const int fd = connect_loopback(port);
  REQUIRE(fd >= 0);
  send_all(fd, "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + head_rest + body);
  const HttpReply r = parse_reply(read_all(fd));
  ::close(fd);
  return r;
}

TEST_CASE(
    "serve: a chunked body is read whole - and chunk framing or a trailer past the limits gets 413 at once, "
    "not a read that lasts until the timeout",
    "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  // Long enough that a connection merely cut off at its read timeout gets no answer within the test's reads.
  Served s(cli, {"--read-timeout", "4000"});
  const std::string head = "Authorization: Bearer " + unit +
                           "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  {  // A proposal in two chunks (one with an extension) and a short trailer: created.
    const std::string p = proposal();
    const std::string first = p.substr(0, 100), second = p.substr(100);
    const HttpReply r = raw_post(s.port, head,
                                 fmt::format("{:x}\r\n{}\r\n{:x};note=x\r\n{}\r\n0\r\nX-Done: yes\r\n\r\n",
                                             first.size(), first, second.size(), second));
    INFO(r.body);
    REQUIRE(r.status == 201);
    CHECK(body(r).at("version").as_int64() == 1);
    // A body just under the size limit is read whole - in one chunk, in chunks of 64 KiB, or with a
    // Content-Length - and answered by the API itself (its note is too long for a dossier), not by the
    // limits.
    const std::string submit = "/dossiers/" + std::to_string(body(r).at("id").as_int64()) + "/actions/submit";
    const std::string big = R"({"note":")" + std::string(1000 * 1024, 'n') + R"("})";
    std::string in_pieces;
    for (std::size_t at = 0; at < big.size(); at += 65536) {
      const std::string piece = big.substr(at, 65536);
      in_pieces += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
    }
    for (const auto& [how, framed] :
         {std::pair{head, fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", big.size(), big)},
          std::pair{head, in_pieces + "0\r\n\r\n"},
          std::pair{"Authorization: Bearer " + unit +
                        "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(big.size()) + "\r\n\r\n",
                    big}}) {
      const HttpReply refused = raw_post(s.port, how, framed, submit);
      INFO(refused.body.substr(0, 300));
      CHECK(refused.status == 400);
      if (refused.status == 400) CHECK(body(refused).at("error").at("reason").as_string() == "note_too_long");
    }
  }
  // A chunk-size line whose extension never ends, and a trailer that never ends: each is refused once it is
  // past what a request's head and one read may hold, not read on (into memory) until the timeout.
  for (const std::string& endless : {"1;" + std::string(200 * 1024, 'a'),
                                     "5\r\nhello\r\n0\r\nX-Trailer: " + std::string(200 * 1024, 'b')}) {
    const HttpReply r = raw_post(s.port, head, endless);
    INFO(r.body.substr(0, 200));
    CHECK(r.status == 413);
    if (r.status == 413) CHECK(body(r).at("error").at("reason").as_string() == "request_too_large");
  }
  // A Content-Length body over the limit: 413 once the head is read; the server then reads and drops the rest
  // of the body (the client, which sends it all before it reads, is not reset halfway) and the connection
  // ends with the server's end of sending after the answer (RFC 9112 9.6: a reset could cost the client the
  // answer).
  {
    const int fd = connect_loopback(s.port);
    REQUIRE(fd >= 0);
    const bool sent =
        send_all(fd, "POST /dossiers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + unit +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(2 << 20) +
                         "\r\n\r\n" + std::string(2 << 20, 'x'));
    CHECK(sent);
    std::string got;
    int ended = 0;  // 0: the server's FIN; else the error the connection ended with
    for (;;) {
      char buf[65536];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      ended = n == 0 ? 0 : errno;
      break;
    }
    ::close(fd);
    CHECK(parse_reply(got).status == 413);
    INFO(std::strerror(ended));
    CHECK(ended == 0);
  }
  CHECK(s.call("POST", "/dossiers", unit, std::string(2 << 20, 'x')).status == 413);
  CHECK(s.call("GET", "/health").status == 200);  // still serving
  CHECK(s.stop(SIGTERM).code == 0);
}

TEST_CASE(
    "serve: a kept-alive connection's next request has the read timeout from its first byte - not the "
    "idle timeout",
    "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli, {"--read-timeout", "300"});  // the idle timeout between requests stays 30 s
  const int fd = connect_loopback(s.port);
  REQUIRE(fd >= 0);
  REQUIRE(send_all(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  CHECK(read_answer(fd).status == 200);  // the connection stays open
  // The next request begins and stalls: cut off by the read timeout, long before the idle timeout would.
  REQUIRE(send_all(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  pollfd p{fd, POLLRDHUP, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  CHECK((p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0);
  ::close(fd);
  CHECK(s.stop(SIGTERM).code == 0);
}

TEST_CASE(
    "serve: kept-alive connections whose commands were answered together each go on to their next request",
    "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  Served s(cli);
  // Every connection's proposal is sent before any answer is read, so the commands share group commits and
  // their answers go out together; then each connection asks again, twice, on the same connection.
  constexpr int kConnections = 24;
  const std::string create =
      "POST /dossiers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + unit +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(proposal().size()) +
      "\r\n\r\n" + proposal();
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    fds.push_back(connect_loopback(s.port));
    REQUIRE(fds.back() >= 0);
  }
  for (int fd : fds) REQUIRE(send_all(fd, create));
  std::vector<std::int64_t> ids;
  std::vector<std::string> states;  // each dossier's state after its submission
  for (int fd : fds) {
    const HttpReply created = read_answer(fd);
    INFO(created.body);
    REQUIRE(created.status == 201);
    ids.push_back(body(created).at("id").as_int64());
  }
  for (int round = 1; round <= 2; ++round) {
    for (std::size_t i = 0; i < fds.size(); ++i) {
      const std::string ask =
          round == 1 ? "POST /dossiers/" + std::to_string(ids[i]) +
                           "/actions/submit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                           "Bearer " +
                           unit + "\r\nContent-Length: 0\r\n\r\n"
                     : "GET /dossiers/" + std::to_string(ids[i]) +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + unit + "\r\n\r\n";
      REQUIRE(send_all(fds[i], ask));
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      const HttpReply r = read_answer(fds[i]);
      INFO("round " << round << " connection " << i << ": " << r.body);
      REQUIRE(r.status == 200);
      CHECK(body(r).at("id").as_int64() == ids[i]);
      const std::string state(body(r).at("state").as_string());
      if (round == 1)
        states.push_back(state);
      else
        CHECK(state == states[i]);
    }
  }
  for (int fd : fds) ::close(fd);
  for (std::int64_t id : ids) {
    const auto types = event_types(cli, id);
    CHECK(std::count(types.begin(), types.end(), "DossierSubmitted") == 1);
  }
  CHECK(s.stop(SIGTERM).code == 0);
}

TEST_CASE("serve: a client that asks and never reads its answers is cut off by the read timeout",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli, {"--read-timeout", "300"});
  const int fd = connect_loopback(s.port);
  REQUIRE(fd >= 0);
  // Requests one after another on one connection (pipelined), far more answers than the sockets' buffers
  // hold: the server's write of an answer stops for want of room, and its deadline passes.
  std::string asks;
  for (int i = 0; i < 3000; ++i) asks += "GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  REQUIRE(send_all(fd, asks));
  // Closed by the server (a reset: it leaves requests unread) with answers still unread here. Without a write
  // deadline the connection would stay open and this wait would end at its own limit.
  pollfd p{fd, POLLRDHUP, 0};
  REQUIRE(::poll(&p, 1, 30000) == 1);
  CHECK((p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0);
  ::close(fd);
  CHECK(s.call("GET", "/health").status == 200);  // still serving
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
}

TEST_CASE("serve: a kill -9 under load loses nothing acknowledged, and the restarted server goes on, with its "
          "timers and undelivered notices",
          "[e2e][serve]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");  // Monday 02/03/2026, a stored clock the test moves
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  HttpReceiver receiver("bí-mật-thử");
  receiver.stop();  // notices cannot go out before the kill: they stay in the outbox
  const std::vector<std::string> webhook = {"--webhook", receiver.url("/hoso")};
  const std::vector<std::string> secret = {"HOSO_WEBHOOK_SECRET=bí-mật-thử"};
  // Three clients, each creating and submitting dossiers (concurrent commands share group commits).
  std::mutex m;
  std::vector<std::int64_t> created, submitted;  // acknowledged with a 2xx
  {
    Served s(cli, webhook, secret);
    std::atomic<bool> go{true};
    std::atomic<int> count{0};
    std::vector<std::thread> load;
    for (int t = 0; t < 3; ++t)
      load.emplace_back([&] {
        while (go) {
          HttpReply r = s.call("POST", "/dossiers", unit, proposal());
          if (r.status == 0) break;  // the server is gone
          if (r.status != 201) continue;
          const auto id = body(r).at("id").as_int64();
          {
            std::lock_guard lock(m);
            created.push_back(id);
          }
          HttpReply sub = s.call("POST", "/dossiers/" + std::to_string(id) + "/actions/submit", unit,
                                 R"({"expected_version":1})");
          if (sub.status == 0) break;
          if (sub.status == 200) {
            std::lock_guard lock(m);
            submitted.push_back(id);
            ++count;
          }
        }
      });
    while (count < 10) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    s.stop(SIGKILL);
    go = false;
    for (auto& t : load) t.join();
  }
  REQUIRE(submitted.size() >= 10);
  // Every acknowledged command is in the history exactly once, and the whole history verifies.
  for (std::int64_t id : created) {
    const auto types = event_types(cli, id);
    const auto creations = std::count(types.begin(), types.end(), "DossierCreated");
    const auto submissions = std::count(types.begin(), types.end(), "DossierSubmitted");
    CHECK(creations == 1);
    if (std::find(submitted.begin(), submitted.end(), id) != submitted.end()) CHECK(submissions == 1);
  }
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
  // While it is down: one dossier accepted (its level's legal clock starts: a timer), then 30 days pass.
  const std::string accepted = std::to_string(submitted.front());
  REQUIRE(cli({"dossier", "act", accepted, "accept", "--as", "ca-xa-phuong-tien.clerk"}).code == 0);
  REQUIRE_FALSE(cli.ok_json({"timers", "list"}).as_array().empty());
  REQUIRE(cli({"clock", "advance", "30d"}).code == 0);
  // Restarted, with the receiver up: the overdue timers fire at once, every notice the log holds goes out
  // exactly once (none was delivered before the kill), and new commands go on with the log.
  receiver.start();
  Served again(cli, webhook, secret);
  auto settled = [&] {
    if (!cli.ok_json({"timers", "list"}).as_array().empty()) return false;
    for (std::int64_t id : submitted) {
      const auto types = event_types(cli, id);
      if (std::find(types.begin(), types.end(), "NotificationDelivered") == types.end()) return false;
    }
    return true;
  };
  for (int i = 0; i < 150 && !settled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(settled());
  const auto accepted_types = event_types(cli, submitted.front());
  CHECK(std::find(accepted_types.begin(), accepted_types.end(), "TimerFired") != accepted_types.end());
  for (const auto& r : receiver.requests()) CHECK(receiver.count(r.header("Idempotency-Key")) == 1);
  CHECK(receiver.requests().size() >= submitted.size());
  HttpReply next = again.call("POST", "/dossiers", unit, proposal());
  REQUIRE(next.status == 201);
  CHECK(body(next).at("id").as_int64() > *std::max_element(created.begin(), created.end()));
  CHECK(again.stop(SIGTERM).code == 0);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve: SIGTERM closes connections waiting for a request, whatever their read timeout", "[e2e][serve]") {
  Cli cli;
  cli.init();
  // A read timeout far beyond the test's own: only closing idle connections on shutdown lets it exit.
  Served s(cli, {"--read-timeout", "3600000"});
  const int idle = connect_loopback(s.port);
  REQUIRE(idle >= 0);
  const int half = connect_loopback(s.port);
  REQUIRE(half >= 0);
  send_all(half, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // headers not finished
  REQUIRE(s.call("GET", "/health").status == 200);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK(read_all(idle).empty());  // closed without an answer
  ::close(idle);
  ::close(half);
}

TEST_CASE(
    "serve: past its connection limit a new connection is answered 503 and closed - once one closes, "
    "requests are served again",
    "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli, {}, {"HOSO_MAX_CONNECTIONS=2"});
  const int first = connect_loopback(s.port);
  const int second = connect_loopback(s.port);
  REQUIRE(first >= 0);
  REQUIRE(second >= 0);
  // Both are served (and so counted) before the third comes.
  send_all(first, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  send_all(second, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  for (int fd : {first, second}) {
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && ::read(fd, &ch, 1) == 1) head += ch;
    CHECK_THAT(head, Catch::StartsWith("HTTP/1.1 200"));
  }
  const HttpReply refused = s.call("GET", "/health");
  CHECK(refused.status == 503);
  CHECK(body(refused).at("error").at("reason").as_string() == "too_many_connections");
  CHECK_THAT(std::string(body(refused).at("error").at("message").as_string()),
             Catch::Contains("quá nhiều kết nối"));
  // One closes: the next request is served (once the server has seen it go).
  ::close(first);
  HttpReply again;
  for (int i = 0; i < 100 && again.status != 200; ++i) {
    again = s.call("GET", "/health");
    if (again.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(again.status == 200);
  ::close(second);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("max connections 2"));
  CHECK_THAT(stopped.err,
             Catch::Contains("accept: 2 connections open, the limit: new ones are answered 503"));
  CHECK_THAT(stopped.err, Catch::Contains("accept: below the connection limit again"));
}

// The nice value of each of the process's threads, by thread name (/proc/PID/task/TID/comm and stat).
std::map<std::string, int> thread_nices(pid_t pid) {
  std::map<std::string, int> out;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    std::ifstream in(task.path() / "stat");
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (name.empty() || stat.rfind(')') == std::string::npos) continue;  // the thread ended meanwhile
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string f;
    for (int i = 3; i <= 19 && fields >> f; ++i)  // nice is field 19
      if (i == 19) out[name] = std::stoi(f);
  }
  return out;
}

TEST_CASE("serve: the checkpoint and notice threads run at a lower CPU priority than the loop and the engine",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli);
  // The main thread ("hoso") runs the loop at the priority the server was started with.
  std::map<std::string, int> nices;
  for (int tries = 0; tries < 250; ++tries) {
    nices = thread_nices(s.child.pid);
    if (nices.contains("hoso") && nices.contains("hoso-notices") && nices.contains("hoso-checkpoint") &&
        nices["hoso-checkpoint"] != nices["hoso"] && nices["hoso-notices"] != nices["hoso"])
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(nices.contains("hoso"));
  const int base = nices["hoso"];
  CHECK(nices["hoso-engine"] == base);
  CHECK(nices["hoso-reader"] == base);
  CHECK(nices["hoso-flush"] == base);
  CHECK(nices["hoso-checkpoint"] == std::min(base + 5, 19));
  CHECK(nices["hoso-notices"] == std::min(base + 10, 19));
  // And it still serves (a command goes through the engine; its flush and answer are not held up).
  const std::string clerk = token(cli, "xom-khuan-lan.clerk");
  CHECK(s.call("POST", "/dossiers", clerk, proposal()).status == 201);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err,
             Catch::Contains("checkpoint thread: background work, CPU priority lowered to nice"));
  CHECK_THAT(stopped.err, Catch::Contains("notice thread: background work, CPU priority lowered to nice"));
}

TEST_CASE("serve: notices go to a signed webhook, and a receiver that is down, then up, gets each exactly once",
          "[e2e][serve][notify]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  HttpReceiver receiver("bí-mật-thử");
  receiver.stop();  // down: connections to its port are refused
  Served s(cli, {"--webhook", receiver.url("/hoso")}, {"HOSO_WEBHOOK_SECRET=bí-mật-thử"});
  HttpReply created = s.call("POST", "/dossiers", unit, proposal());
  REQUIRE(created.status == 201);
  const auto id = body(created).at("id").as_int64();
  REQUIRE(s.call("POST", "/dossiers/" + std::to_string(id) + "/actions/submit", unit).status == 200);
  // The submission tells Công an xã: notice <gseq>.0 of the submit event. Nothing can be delivered yet.
  const auto history = cli.ok_json({"history", std::to_string(id)}).as_array();
  REQUIRE(history.size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a few rounds against the closed port
  CHECK(receiver.requests().empty());
  receiver.start();
  std::vector<ReceivedRequest> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    got = receiver.requests();
  }
  REQUIRE(got.size() == 1);
  const std::string key = got[0].header("Idempotency-Key");
  CHECK(receiver.count(key) == 1);
  const json::value notice = json::parse(got[0].body);
  CHECK(notice.at("to_org").as_string() == "ca-xa-phuong-tien");
  // The delivery is in the dossier's history, once, by the webhook channel; nothing goes out again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(receiver.count(key) == 1);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK(stopped.err.find("bí-mật-thử") == std::string::npos);  // the secret is never logged
  const auto after = cli.ok_json({"history", std::to_string(id)}).as_array();
  // The failed attempt against the closed port is evidence too, with the time of the next one (2 s later).
  REQUIRE(after.size() == 4);
  CHECK(after[2].at("type").as_string() == "NotificationFailed");
  CHECK(after[2].at("payload").at("delivery").at("attempt").as_int64() == 1);
  CHECK_FALSE(after[2].at("payload").at("delivery").at("retry_at").as_string().empty());
  CHECK(after[3].at("type").as_string() == "NotificationDelivered");
  CHECK(after[3].at("payload").at("delivery").at("attempt").as_int64() == 2);
  CHECK(after[3].at("payload").at("delivery").at("channel").as_string() == "webhook");
  CHECK(after[3].at("payload").at("delivery").at("notification").as_string() == key);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE(
    "serve: a second SIGTERM while the first waits for a receiver that does not answer ends the server at "
    "once "
    "- a restart delivers the notice and the database verifies",
    "[e2e][serve][notify]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  HttpReceiver receiver("bí-mật-dừng-gấp");
  receiver.stall();  // takes the notice and never answers: a graceful stop waits for its reply's timeout
  const std::vector<std::string> webhook = {"--webhook", receiver.url("/hoso")};
  const std::vector<std::string> secret = {"HOSO_WEBHOOK_SECRET=bí-mật-dừng-gấp"};
  std::string key;
  {
    Served s(cli, webhook, secret);
    HttpReply created = s.call("POST", "/dossiers", unit, proposal());
    REQUIRE(created.status == 201);
    const std::string id = std::to_string(body(created).at("id").as_int64());
    REQUIRE(s.call("POST", "/dossiers/" + id + "/actions/submit", unit).status == 200);
    key = read_one(cli, "SELECT gseq FROM events WHERE type = 'DossierSubmitted' AND dossier_id = " + id) +
          ".0";
    for (int i = 0; i < 200 && receiver.requests().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(receiver.requests().size() == 1);
    ::kill(s.child.pid, SIGTERM);
    for (int i = 0; i < 200; ++i) {  // stopping once it no longer accepts connections
      const int fd = connect_loopback(s.port, 200);
      if (fd < 0) break;
      ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int status = 0;
    REQUIRE(::waitpid(s.child.pid, &status, WNOHANG) == 0);  // still waiting for the receiver's reply
    const RunResult stopped = s.stop(SIGTERM);
    INFO(stopped.err);
    CHECK(stopped.code == 128 + SIGTERM);  // ended by the second signal, not by the wait running out
    CHECK_THAT(stopped.err,
               Catch::Contains("signal 15: stopping (a second SIGTERM or SIGINT stops at once)"));
  }
  CHECK(read_one(cli, "SELECT count(*) FROM events WHERE type LIKE 'Notification%'") == "0");
  receiver.start();
  receiver.answer(200);
  {
    Served s(cli, webhook, secret);
    for (int i = 0; i < 300 && receiver.count(key) < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(s.stop(SIGTERM).code == 0);
  }
  CHECK(receiver.count(key) == 2);  // the attempt cut short, then its delivery (at least once)
  CHECK(read_one(cli, "SELECT count(*) FROM events WHERE type = 'NotificationDelivered'") == "1");
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE(
    "serve: SIGTERM during a delivery sends nothing more and records the attempt - after a restart each "
    "notice left goes out once",
    "[e2e][serve][notify]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  HttpReceiver receiver("bí-mật-dừng");
  receiver.stall();  // takes the first notice and never answers
  const std::vector<std::string> webhook = {"--webhook", receiver.url("/hoso")};
  const std::vector<std::string> secret = {"HOSO_WEBHOOK_SECRET=bí-mật-dừng"};
  auto notices = [&](const char* type) {
    return read_one(cli, fmt::format("SELECT count(*) FROM events WHERE type = '{}'", type));
  };
  std::vector<std::string> keys;  // of the three submissions' notices, in log order
  {
    Served s(cli, webhook, secret);
    for (int i = 0; i < 3; ++i) {
      HttpReply created = s.call("POST", "/dossiers", unit, proposal());
      REQUIRE(created.status == 201);
      const std::string id = std::to_string(body(created).at("id").as_int64());
      REQUIRE(s.call("POST", "/dossiers/" + id + "/actions/submit", unit).status == 200);
      keys.push_back(
          read_one(cli, "SELECT gseq FROM events WHERE type = 'DossierSubmitted' AND dossier_id = " + id) +
          ".0");
    }
    for (int i = 0; i < 200 && receiver.requests().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(receiver.requests().size() == 1);
    CHECK(receiver.requests()[0].header("Idempotency-Key") == keys[0]);
    ::kill(s.child.pid, SIGTERM);
    // The server has begun to stop once it no longer accepts connections.
    for (int i = 0; i < 200; ++i) {
      const int fd = connect_loopback(s.port, 200);
      if (fd < 0) break;
      ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    receiver.stop();  // the delivery under way fails now: its connection closes unanswered
    const RunResult stopped = s.stop(0);
    INFO(stopped.err);
    CHECK(stopped.code == 0);
    CHECK(stopped.err.find("không chạy") == std::string::npos);  // its record was not refused
  }
  // Only the notice under way was tried, and its attempt is in the history; the other two wait.
  CHECK(receiver.requests().size() == 1);
  CHECK(notices("NotificationFailed") == "1");
  CHECK(notices("NotificationDelivered") == "0");
  CHECK(read_one(cli,
                 "SELECT count(*) FROM events WHERE type = 'NotificationFailed' AND "
                 "json_extract(payload, '$.delivery.notification') = '" +
                     keys[0] + "'") == "1");
  receiver.start();
  receiver.answer(200);
  {
    Served s(cli, webhook, secret);
    for (int i = 0; i < 300 && notices("NotificationDelivered") != "3"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(s.stop(SIGTERM).code == 0);
  }
  CHECK(notices("NotificationDelivered") == "3");
  CHECK(receiver.count(keys[0]) == 2);  // the attempt cut short, then its delivery (at least once)
  CHECK(receiver.count(keys[1]) == 1);
  CHECK(receiver.count(keys[2]) == 1);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve: notices go to an https webhook whose certificate the configured trust anchors vouch for",
          "[e2e][serve][notify]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  HttpReceiver receiver("bí-mật-tls", 0, HttpReceiver::Scheme::kHttps);
  const std::string anchors = cli.dir + "/receiver-ca.pem";
  std::ofstream(anchors) << receiver.certificate_pem();
  Served s(cli, Served::FromConfig{}, fmt::format(R"(server:
  listen: 127.0.0.1:0
  database: {}
notify:
  channels: [webhook]
  webhook: {{url: "{}", ca_file: "{}", timeout_ms: 2000}}
)",
                                                  cli.db, receiver.url("/hoso"), anchors),
           {"HOSO_WEBHOOK_SECRET=bí-mật-tls"});
  HttpReply created = s.call("POST", "/dossiers", unit, proposal());
  REQUIRE(created.status == 201);
  const std::string id = std::to_string(body(created).at("id").as_int64());
  REQUIRE(s.call("POST", "/dossiers/" + id + "/actions/submit", unit).status == 200);
  std::vector<ReceivedRequest> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    got = receiver.requests();
  }
  REQUIRE(got.size() == 1);  // over TLS, its signature checked by the receiver
  CHECK(receiver.refused() == 0);
  CHECK(json::parse(got[0].body).at("to_org").as_string() == "ca-xa-phuong-tien");
  // Its delivery is then recorded in the dossier's history.
  auto recorded = [&] {
    return read_one(cli, "SELECT count(*) FROM events WHERE type = 'NotificationDelivered' AND dossier_id = " + id);
  };
  for (int i = 0; i < 100 && recorded() != "1"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("ca_file " + anchors));
  CHECK(stopped.err.find("bí-mật-tls") == std::string::npos);
  const auto after = cli.ok_json({"history", id}).as_array();
  REQUIRE(after.size() == 3);
  CHECK(after[2].at("type").as_string() == "NotificationDelivered");
  CHECK(after[2].at("payload").at("delivery").at("channel").as_string() == "webhook");
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve: configured from a file, notices go by email and webhook, and a webhook that never comes up "
          "ends in a dead letter",
          "[e2e][serve][notify]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  SmtpServer smtp(SmtpServerOptions{false, "hoso", "mật-khẩu-smtp", "PLAIN LOGIN"});
  HttpReceiver never("bí-mật-webhook");
  const std::string dead_url = never.url("/hoso");
  never.stop();  // its port refuses connections for the whole test
  // No --listen, --db or channel on the command line: all from the file; the secrets from the environment.
  Served s(cli, Served::FromConfig{}, fmt::format(R"(server:
  listen: 127.0.0.1:0
  database: {}
notify:
  channels: [email, webhook]
  retry: {{max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 200}}
  email: {{host: 127.0.0.1, port: {}, from: khen-thuong@hoso.example, username: hoso, timeout_ms: 2000}}
  webhook: {{url: "{}", timeout_ms: 500}}
)",
                                                  cli.db, smtp.port(), dead_url),
           {"HOSO_SMTP_PASSWORD=mật-khẩu-smtp", "HOSO_WEBHOOK_SECRET=bí-mật-webhook"});
  const int port = s.port;
  HttpReply created = http_request(port, "POST", "/dossiers", unit, proposal());
  REQUIRE(created.status == 201);
  const std::string id = std::to_string(body(created).at("id").as_int64());
  REQUIRE(http_request(port, "POST", "/dossiers/" + id + "/actions/submit", unit).status == 200);
  // Three webhook attempts (100 ms, then 200 ms apart), then the dead letter; the email goes at once.
  auto settled = [&] {
    auto h = cli.ok_json({"history", id}).as_array();
    return !h.empty() && h.back().at("type").as_string() == "NotificationDeadLettered";
  };
  for (int i = 0; i < 100 && !settled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  // Secrets are never logged, though the log names the channels and that the secrets are set.
  CHECK(stopped.err.find("mật-khẩu-smtp") == std::string::npos);
  CHECK(stopped.err.find("bí-mật-webhook") == std::string::npos);
  CHECK(stopped.err.find("dead letter") != std::string::npos);
  // The email: to the commune police's clerk (who acts next), authenticated, its subject in Vietnamese.
  const auto mail = smtp.messages();
  REQUIRE(mail.size() == 1);
  CHECK(mail[0].user == "hoso");
  CHECK(mail[0].recipients == std::vector<std::string>{"vinh.lm@ca-xa-phuong-tien.example"});
  CHECK(mail[0].data.find("Subject: =?UTF-8?") != std::string::npos);
  // The history: delivered by email once; the webhook failed twice, each with its retry time, then gave up.
  const auto h = cli.ok_json({"history", id}).as_array();
  REQUIRE(h.size() == 6);
  auto delivery = [&](std::size_t i) { return h[i].at("payload").at("delivery").as_object(); };
  CHECK(h[2].at("type").as_string() == "NotificationDelivered");
  CHECK(delivery(2).at("channel").as_string() == "email");
  for (std::size_t i : {3u, 4u}) {
    CHECK(h[i].at("type").as_string() == "NotificationFailed");
    CHECK(delivery(i).at("channel").as_string() == "webhook");
    CHECK(delivery(i).at("attempt").as_int64() == static_cast<std::int64_t>(i) - 2);
    CHECK_FALSE(delivery(i).at("retry_at").as_string().empty());
  }
  CHECK(h[5].at("type").as_string() == "NotificationDeadLettered");
  CHECK(delivery(5).at("attempt").as_int64() == 3);
  CHECK_FALSE(delivery(5).contains("retry_at"));
  CHECK(delivery(5).at("notification") == delivery(2).at("notification"));
  // The human history says so in Vietnamese, and the audit accepts the whole record.
  CHECK(cli({"history", id}).out.find("hàng lỗi") != std::string::npos);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
}

TEST_CASE(
    "serve: an email the mail server takes for one clerk and refuses for another reaches the one - the "
    "history names the one left out",
    "[e2e][serve][notify]") {
  Cli cli;
  // The commune police gets a second clerk, whose address the mail server does not know.
  const std::string config = cli.copy_config();
  std::ofstream(config + "/users.yaml", std::ios::app)
      << "  - id: ca-xa-phuong-tien.clerk2\n    name: \"Đinh Thị Hai\"\n    email: "
         "hai.dt@ca-xa-phuong-tien.example\n"
         "    org: ca-xa-phuong-tien\n    roles: [clerk]\n";
  const RunResult init = cli({"init", "--config", config, "--workflows", kSource + "/workflows"});
  INFO(init.err);
  REQUIRE(init.code == 0);
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  SmtpServer smtp;
  smtp.refuse_recipient("hai.dt@ca-xa-phuong-tien.example");
  Served s(cli, Served::FromConfig{},
           fmt::format(R"(server:
  listen: 127.0.0.1:0
  database: {}
notify:
  channels: [email]
  email: {{host: 127.0.0.1, port: {}, from: khen-thuong@hoso.example, timeout_ms: 2000}}
)",
                       cli.db, smtp.port()),
           {});
  HttpReply created = http_request(s.port, "POST", "/dossiers", unit, proposal());
  REQUIRE(created.status == 201);
  const std::string id = std::to_string(body(created).at("id").as_int64());
  REQUIRE(http_request(s.port, "POST", "/dossiers/" + id + "/actions/submit", unit).status == 200);
  auto delivered = [&] {
    auto h = body(http_request(s.port, "GET", "/dossiers/" + id + "/history", unit)).as_array();
    return !h.empty() && h.back().at("type").as_string() == "NotificationDelivered";
  };
  for (int i = 0; i < 100 && !delivered(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(delivered());
  // The clerk the server knows got it; the other was refused at RCPT and left out.
  const auto mail = smtp.messages();
  REQUIRE(mail.size() == 1);
  CHECK(mail[0].recipients == std::vector<std::string>{"vinh.lm@ca-xa-phuong-tien.example"});
  // The history over HTTP records the delivery and who was left out, with the mail server's reply.
  const auto h = body(http_request(s.port, "GET", "/dossiers/" + id + "/history", unit)).as_array();
  const auto& delivery = h.back().at("payload").at("delivery").as_object();
  CHECK(delivery.at("channel").as_string() == "email");
  const std::string left_out(delivery.at("left_out").as_string());
  CHECK_THAT(left_out, Catch::Contains("RCPT TO:<hai.dt@ca-xa-phuong-tien.example>"));
  CHECK_THAT(left_out, Catch::Contains("550"));
  CHECK_THAT(left_out, !Catch::Contains("vinh.lm@"));
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("delivered, but left out: "));
  // In Vietnamese for people, and the audit accepts the record.
  CHECK_THAT(cli({"history", id}).out, Catch::Contains("không gửi được đến: smtp 127.0.0.1"));
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
}

TEST_CASE("serve: a webhook that stays down holds up neither the other channel nor the notices after the first",
          "[e2e][serve][notify]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk");
  HttpReceiver never("bí-mật-webhook");
  const std::string dead_url = never.url("/hoso");
  never.stop();  // its port refuses connections for the whole test
  const std::string lines = cli.dir + "/notices.jsonl";
  // A long backoff: one notice waiting for its retry would, if notices went out one after another, hold the
  // rest for half a minute each.
  Served s(cli, Served::FromConfig{}, fmt::format(R"(server:
  listen: 127.0.0.1:0
  database: {}
notify:
  channels: [file, webhook]
  retry: {{max_attempts: 3, initial_backoff_ms: 30000, max_backoff_ms: 60000}}
  file: {{path: "{}"}}
  webhook: {{url: "{}", timeout_ms: 500}}
)",
                                                  cli.db, lines, dead_url),
           {"HOSO_WEBHOOK_SECRET=bí-mật-webhook"});
  const int port = s.port;
  constexpr int kDossiers = 4;
  std::vector<std::string> ids;
  for (int i = 0; i < kDossiers; ++i) {
    HttpReply created = http_request(port, "POST", "/dossiers", unit, proposal());
    REQUIRE(created.status == 201);
    ids.push_back(std::to_string(body(created).at("id").as_int64()));
    REQUIRE(http_request(port, "POST", "/dossiers/" + ids.back() + "/actions/submit", unit).status == 200);
  }
  // Every submission's notice: delivered by file and tried once by the webhook, within seconds.
  auto types = [&](const std::string& id) {
    std::vector<std::string> out;
    const auto history = cli.ok_json({"history", id});
    for (const auto& e : history.as_array())
      if (e.at("payload").as_object().contains("delivery"))
        out.push_back(std::string(e.at("type").as_string()) + "/" +
                      std::string(e.at("payload").at("delivery").at("channel").as_string()));
    return out;
  };
  auto all_tried = [&] {
    return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) { return types(id).size() == 2; });
  };
  for (int i = 0; i < 100 && !all_tried(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(s.stop(SIGTERM).code == 0);
  for (const auto& id : ids) {
    INFO("dossier " << id);
    CHECK(types(id) == std::vector<std::string>{"NotificationDelivered/file", "NotificationFailed/webhook"});
  }
  std::ifstream in(lines);
  int count = 0;
  for (std::string l; std::getline(in, l);) ++count;
  CHECK(count == kDossiers);
  // None has settled on every channel, so the cursor has not moved; the audit accepts the attempts after it.
  CHECK(read_one(cli, "SELECT value FROM meta WHERE key = 'dispatch_cursor'").empty());
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve refuses a bad configuration file, naming the file, line and field, and writes nothing",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string before = cli.dump();
  std::filesystem::create_directories(cli.dir + "/conf");
  std::ofstream(cli.dir + "/conf/server.yaml") << "server:\n  listen: 127.0.0.1:8080\nnotify:\n  channels: [fax]\n";
  const RunResult r = cli({"serve", "--config", cli.dir + "/conf"});
  CHECK(r.code != 0);
  CHECK(r.err.find("server.yaml:4:") != std::string::npos);
  CHECK(r.err.find("fax") != std::string::npos);
  std::ofstream(cli.dir + "/conf/server.yaml") << "notify:\n  webhook:\n    secret: lộ-ra\n";
  const RunResult secret = cli({"serve", "--config", cli.dir + "/conf"});
  CHECK(secret.code != 0);
  CHECK(secret.err.find("secret_env") != std::string::npos);
  CHECK(secret.err.find("lộ-ra") == std::string::npos);
  CHECK(cli.dump() == before);
}

TEST_CASE("serve and users token/revoke refuse bad options and unknown users, and write nothing", "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string before = cli.dump();
  auto refused = [&](std::vector<std::string> args, int code, const std::string& message,
                     const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), HOSO_BINARY);
    args.push_back("--db");
    args.push_back(cli.db);
    const RunResult r = finish(spawn(args, env));
    INFO(r.err);
    CHECK(r.code == code);
    CHECK_THAT(r.err, Catch::Contains(message));
    CHECK(cli.dump() == before);
  };
  refused({"users", "token", "nobody"}, 3, "Không có người dùng 'nobody'");
  refused({"users", "revoke", "nobody"}, 3, "Không có người dùng 'nobody'");
  refused({"users", "token"}, 2, "cách dùng: hoso users");
  for (const char* bad : {"soon", "0d", "3651d", "-1d", "12"})
    refused({"users", "token", "xom-khuan-lan.clerk", "--expires-in", bad}, 2,
            fmt::format("--expires-in '{}' không hợp lệ", bad));
  refused({"users", "revoke", "xom-khuan-lan.clerk", "--expires-in", "1d"}, 2,
          "lệnh 'users' không dùng tùy chọn --expires-in");
  refused({"serve", "--listen", "127.0.0.1"}, 2, "--listen cần dạng ĐỊA_CHỈ:CỔNG");
  refused({"serve", "--listen", "127.0.0.1:99999"}, 2, "--listen cần dạng ĐỊA_CHỈ:CỔNG");
  refused({"serve", "--listen", "not-an-address:80"}, 2, "không hợp lệ");
  refused({"serve", "--read-timeout", "0"}, 2, "--read-timeout phải lớn hơn 0");
  refused({"serve", "--read-timeout", "10s"}, 2, "--read-timeout cần số mili giây, nhận được '10s'");
  refused({"serve", "--read-timeout", "99999999999999"}, 2,
          "--read-timeout không được quá 2592000000 mili giây");
  // A webhook setting that cannot work stops the server before it serves, and its password is not shown.
  refused({"serve", "--webhook", "http://hoso:mat-khau@127.0.0.1:9/x"}, 7,
          "cấu hình kênh thông báo 'webhook' không dùng được: webhook: địa chỉ http://***@127.0.0.1:9/x",
          {"HOSO_WEBHOOK_SECRET=k"});
  refused({"serve", "--webhook", "http://[::1]:9/x"}, 7, "địa chỉ IPv6 chưa được hỗ trợ",
          {"HOSO_WEBHOOK_SECRET=k"});
  refused({"serve", "--listen", "127.0.0.1:0"}, 7,
          "cấu hình kênh thông báo 'email' không dùng được: smtp: địa chỉ người gửi 'Khen thưởng "
          "<kt@tinh.gov.vn>' "
          "không hợp lệ",
          {"HOSO_NOTIFY_CHANNELS=email", "HOSO_SMTP_FROM=Khen thưởng <kt@tinh.gov.vn>"});
  refused({"serve", "--webhook", "http://127.0.0.1:9/x"}, 2, "HOSO_WEBHOOK_SECRET");
  refused({"serve", "--webhook", "http://127.0.0.1:9/x", "--file", "x.jsonl"}, 2, "chỉ dùng một trong --file và --webhook",
          {"HOSO_WEBHOOK_SECRET=k"});
  refused({"serve", "extra"}, 2, "cách dùng: hoso serve");
}

TEST_CASE(
    "serve: a token works until its expiry on the database's clock and is refused from then on - one issued "
    "to never expire goes on",
    "[e2e][serve]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T02:00:00Z");
  const auto hour = cli.ok_json({"users", "token", "xom-khuan-lan.clerk", "--expires-in", "1h"});
  CHECK(hour.at("expires_at").as_string() == "2026-03-02T03:00:00.000Z");
  const auto usual = cli.ok_json({"users", "token", "xom-khuan-lan.clerk"});
  CHECK(usual.at("expires_at").as_string() == "2026-05-31T02:00:00.000Z");  // 90 days
  const auto forever = cli.ok_json({"users", "token", "xom-khuan-lan.clerk", "--expires-in", "never"});
  CHECK(forever.at("expires_at").is_null());
  // For people: when it expires, in Vietnam's time.
  CHECK_THAT(cli({"users", "token", "xom-khuan-lan.clerk", "--expires-in", "2d"}).out,
             Catch::Contains("hết hạn lúc 2026-03-04 09:00:00 (UTC+7)"));
  Served s(cli);
  const std::string short_lived(hour.at("token").as_string()), lasting(forever.at("token").as_string());
  CHECK(s.call("GET", "/inbox", short_lived).status == 200);
  // The database's clock moves on while the server runs: from then on the token is refused.
  REQUIRE(cli({"clock", "advance", "1h"}).code == 0);
  const HttpReply expired = s.call("GET", "/inbox", short_lived);
  CHECK(expired.status == 401);
  CHECK(body(expired).at("error").at("reason").as_string() == "expired_token");
  CHECK(s.call("POST", "/dossiers", short_lived, proposal()).status == 401);
  CHECK(s.call("POST", "/dossiers", lasting, proposal()).status == 201);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("reason=expired_token"));
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE(
    "serve: one token revoked by its id is refused at once by the running server while the user's other "
    "token goes on - bad ids are refused and change nothing",
    "[e2e][serve]") {
  Cli cli;
  cli.init();
  const auto lost = cli.ok_json({"users", "token", "xom-khuan-lan.clerk"});
  const auto kept = cli.ok_json({"users", "token", "xom-khuan-lan.clerk", "--expires-in", "never"});
  const std::string lost_id(lost.at("id").as_string()), kept_id(kept.at("id").as_string());
  CHECK(lost_id.size() == 12);
  CHECK(lost_id != kept_id);
  // The list names them by id, never by their text, which is not kept.
  const auto listed = cli.ok_json({"users", "tokens", "xom-khuan-lan.clerk"});
  const auto& tokens = listed.at("tokens").as_array();
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0].at("id").as_string() == lost_id);
  CHECK(tokens[0].at("valid").as_bool());
  CHECK(tokens[1].at("id").as_string() == kept_id);
  CHECK(tokens[1].at("expires_at").is_null());
  CHECK(json::serialize(listed).find(std::string(lost.at("token").as_string())) == std::string::npos);
  const std::string listing = cli({"users", "tokens", "xom-khuan-lan.clerk"}).out;
  CHECK_THAT(listing, Catch::Contains(lost_id + "  cấp lúc"));
  CHECK_THAT(listing, Catch::Contains("còn hiệu lực, không tự hết hạn"));

  Served s(cli);
  const std::string lost_token(lost.at("token").as_string()), kept_token(kept.at("token").as_string());
  CHECK(s.call("GET", "/inbox", lost_token).status == 200);
  // Bad ids: told why, nothing written, both tokens still work.
  const std::string before = cli.dump();
  auto refused = [&](const std::string& id, int code, const std::string& message) {
    const RunResult r = cli({"users", "revoke", "xom-khuan-lan.clerk", "--token", id});
    INFO(r.err);
    CHECK(r.code == code);
    CHECK_THAT(r.err, Catch::Contains(message));
    CHECK(cli.dump() == before);
  };
  refused(lost_id.substr(0, 7), 2, "cần 8 đến 64 chữ số thập lục phân");
  refused("ZZZZZZZZ", 2, "không hợp lệ");
  refused("00000000", 3, "không có mã truy cập nào mang mã số '00000000'");
  const RunResult others = cli({"users", "revoke", "bo-noi-vu.auditor", "--token", lost_id});
  CHECK(others.code == 3);  // an id is looked for among that user's tokens only
  CHECK(cli.dump() == before);
  CHECK(s.call("GET", "/inbox", lost_token).status == 200);

  // Revoked by the first 8 digits of its id: refused by the server from the next request on.
  const auto revoked =
      cli.ok_json({"users", "revoke", "xom-khuan-lan.clerk", "--token", lost_id.substr(0, 8)});
  CHECK(revoked.at("id").as_string() == lost_id);
  const HttpReply refused_now = s.call("GET", "/inbox", lost_token);
  CHECK(refused_now.status == 401);
  CHECK(body(refused_now).at("error").at("reason").as_string() == "revoked_token");
  CHECK(s.call("POST", "/dossiers", lost_token, proposal()).status == 401);
  CHECK(s.call("POST", "/dossiers", kept_token, proposal()).status == 201);
  // Once is enough: again is a conflict, and the list says when.
  const RunResult again = cli({"users", "revoke", "xom-khuan-lan.clerk", "--token", lost_id});
  CHECK(again.code == 6);
  CHECK_THAT(again.err, Catch::Contains("đã bị thu hồi lúc"));
  const auto after = cli.ok_json({"users", "tokens", "xom-khuan-lan.clerk"});
  CHECK_FALSE(after.at("tokens").at(0).at("valid").as_bool());
  CHECK(after.at("tokens").at(0).at("revoked_at").is_string());
  CHECK(after.at("tokens").at(1).at("valid").as_bool());
  const std::string settled = cli.dump();
  const RunResult nobody = cli({"users", "tokens", "nobody"});
  CHECK(nobody.code == 3);
  CHECK_THAT(nobody.err, Catch::Contains("Không có người dùng 'nobody'"));
  const RunResult misplaced = cli({"users", "token", "xom-khuan-lan.clerk", "--token", kept_id});
  CHECK(misplaced.code == 2);
  CHECK_THAT(misplaced.err, Catch::Contains("lệnh 'users' không dùng tùy chọn --token"));
  CHECK(cli.dump() == settled);  // no token issued by the refused command
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("reason=revoked_token"));
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("serve: on a full disk writes get 507 and keep nothing while reads go on - once there is room again "
          "it goes on by itself and the database verifies",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string unit = token(cli, "xom-khuan-lan.clerk"), auditor = token(cli, "bo-noi-vu.auditor");
  std::error_code ec;
  const auto log_size = std::filesystem::file_size(cli.db + "-wal", ec);
  const auto room = std::max<std::uintmax_t>(std::filesystem::file_size(cli.db), ec ? 0 : log_size) + (1u << 20);
  std::vector<std::int64_t> created;
  HttpReply refused;
  Served s(cli, Served::DiskFull{static_cast<rlim_t>(room)});
  // Dossiers are created until the log cannot grow any more.
  for (int i = 0; i < 2000 && refused.status == 0; ++i) {
    HttpReply r = s.call("POST", "/dossiers", unit, proposal());
    if (r.status == 201)
      created.push_back(body(r).at("id").as_int64());
    else
      refused = r;
  }
  INFO(refused.body);
  REQUIRE(refused.status == 507);
  REQUIRE(created.size() >= 10);
  const json::value error = body(refused).at("error");
  CHECK(error.at("code").as_string() == "internal");
  CHECK(error.at("reason").as_string() == "storage_full");
  CHECK_THAT(std::string(error.at("message").as_string()), Catch::Contains("đĩa đã đầy"));
  // Still full: an action is refused the same way; reads and the health check go on.
  const std::string first = "/dossiers/" + std::to_string(created.front());
  CHECK(s.call("POST", first + "/actions/submit", unit, R"({"expected_version":1})").status == 507);
  CHECK(body(s.call("GET", first, unit)).at("version").as_int64() == 1);
  CHECK(s.call("GET", "/health").status == 200);
  // An operator makes room (here: the running server's file size limit lifted): no restart needed.
  rlimit lifted{};
  REQUIRE(prlimit(s.child.pid, RLIMIT_FSIZE, nullptr, &lifted) == 0);
  lifted.rlim_cur = lifted.rlim_max;
  REQUIRE(prlimit(s.child.pid, RLIMIT_FSIZE, &lifted, nullptr) == 0);
  CHECK(s.call("POST", first + "/actions/submit", unit, R"({"expected_version":1})").status == 200);
  HttpReply again = s.call("POST", "/dossiers", unit, proposal());
  REQUIRE(again.status == 201);
  created.push_back(body(again).at("id").as_int64());
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  CHECK_THAT(stopped.err, Catch::Contains("group commit failed"));

  // Restarted: every acknowledged dossier once and nothing of the refused writes.
  Served restarted(cli);
  const json::value all = body(restarted.call("GET", "/dossiers?per_page=100&page=1", auditor));
  CHECK(all.at("total").as_int64() == static_cast<std::int64_t>(created.size()));
  CHECK(restarted.stop(SIGTERM).code == 0);
  const std::vector<std::string> types = event_types(cli, created.front());
  REQUIRE(types.size() >= 2);  // and the submission's notice, when it went out before the stop
  CHECK(types[0] == "DossierCreated");
  CHECK(types[1] == "DossierSubmitted");
  CHECK(std::count(types.begin(), types.end(), "DossierSubmitted") == 1);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
}

TEST_CASE("serve: a due timer whose dossier fails its head check is tried again after a growing wait - never in "
          "a loop - and holds up no other timer",
          "[e2e][serve]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");
  const std::string forged = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  const std::string sound = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  // One dossier's projection edited behind the log's back, a due timer row for it, and after it a due row
  // the other dossier does not list (to be dropped unfired once the firing gets past the first).
  forge(cli, "UPDATE dossiers SET fields = '{\"recipient_name\":\"Người khác\"}' WHERE id = " + forged);
  forge(cli, "INSERT INTO timers (due_at, dossier_id, name) VALUES ('2026-03-01T00:00:00.000Z', " + forged +
                 ", 'processing'), ('2026-03-01T00:00:01.000Z', " + sound + ", 'processing')");
  auto rows_of = [&](const std::string& id) {
    return read_one(cli, "SELECT count(*) FROM timers WHERE dossier_id = " + id);
  };
  Served s(cli);
  for (int i = 0; i < 100 && rows_of(sound) != "0"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(rows_of(sound) == "0");
  // A while with the forged dossier's timer due all along: the server serves, and tries it a few times only.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(s.call("GET", "/health").status == 200);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  std::size_t attempts = 0;
  for (auto at = stopped.err.find("left unfired"); at != std::string::npos; at = stopped.err.find("left unfired", at + 1))
    ++attempts;
  INFO(stopped.err.substr(0, 2000));
  CHECK(attempts >= 1);
  CHECK(attempts <= 5);  // at once, after 1 s, after 2 s more: not thousands
  CHECK_THAT(stopped.err, Catch::Contains("dossier " + forged + " timer processing"));
  CHECK(rows_of(forged) == "1");  // left as it was, for the operator
}

// CPU seconds (user + system) the process has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)  // utime and stime are fields 14 and 15
    if (i >= 14) ticks += std::stod(f);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST_CASE("serve: out of descriptors it stops accepting for a while instead of spinning - open connections are "
          "served and new ones are accepted again once some close",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  Served s(cli, Served::FewFiles{64});
  // More connections than it can hold: the kernel queues the ones it cannot accept.
  std::vector<int> conns;
  for (int i = 0; i < 80; ++i) {
    const int fd = connect_loopback(s.port, 5000);
    REQUIRE(fd >= 0);
    conns.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Out of descriptors for a second: the server does not spin on the queued connections.
  const double cpu0 = cpu_seconds(s.child.pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CHECK(cpu_seconds(s.child.pid) - cpu0 < 0.5);
  // A connection it accepted is served meanwhile.
  REQUIRE(send_all(conns.front(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  const std::string answered = read_all(conns.front());
  INFO(answered);
  CHECK(parse_reply(answered).status == 200);
  CHECK_THAT(answered, Catch::Contains("\r\nContent-Type: application/json; charset=utf-8\r\n"));
  for (int fd : conns) ::close(fd);
  // Once they are closed it accepts again, without a restart.
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = s.call("GET", "/health").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(status == 200);
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  INFO(stopped.err.substr(0, 3000));
  CHECK_THAT(stopped.err, Catch::Contains("open files limit 64"));
  std::size_t pauses = 0;
  for (auto at = stopped.err.find("new connections wait"); at != std::string::npos;
       at = stopped.err.find("new connections wait", at + 1))
    ++pauses;
  CHECK(pauses >= 1);
  CHECK(pauses <= 3);  // once per time it ran out, not once per failed accept
  CHECK_THAT(stopped.err, Catch::Contains("accept: Too many open files"));
  CHECK_THAT(stopped.err, Catch::Contains("accept: accepting connections again"));
}

TEST_CASE("serve: a notice of a dossier that fails its head check is held and never sent - the one after it goes "
          "out once and the held one is tried again after a growing wait",
          "[e2e][serve]") {
  Cli cli;
  cli.init();
  const std::string forged = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  const std::string sound = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_args(cli));
  for (const std::string& id : {forged, sound})
    REQUIRE(cli({"dossier", "act", id, "submit", "--as", "xom-khuan-lan.clerk"}).code == 0);
  // The first dossier's projection edited behind the log's back: its delivery could never be recorded, and
  // its notice comes first in the log.
  forge(cli, "UPDATE dossiers SET fields = '{\"recipient_name\":\"Người khác\"}' WHERE id = " + forged);
  const std::string notices = cli.dir + "/notices.jsonl";
  auto lines = [&] {
    std::ifstream in(notices);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  Served s(cli);
  for (int i = 0; i < 100 && lines().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // rounds go on meanwhile
  const RunResult stopped = s.stop(SIGTERM);
  CHECK(stopped.code == 0);
  const std::vector<std::string> sent = lines();
  REQUIRE(sent.size() == 1);  // the sound dossier's notice, once
  CHECK(json::parse(sent.front()).at("dossier").as_int64() == std::stoll(sound));
  const auto sound_types = event_types(cli, std::stoll(sound));
  CHECK(std::count(sound_types.begin(), sound_types.end(), "NotificationDelivered") == 1);
  CHECK(read_one(cli, "SELECT count(*) FROM events WHERE dossier_id = " + forged) == "2");  // nothing written to it
  std::size_t tries = 0;
  for (auto at = stopped.err.find("held, not sent"); at != std::string::npos;
       at = stopped.err.find("held, not sent", at + 1))
    ++tries;
  INFO(stopped.err.substr(0, 2000));
  CHECK_THAT(stopped.err, Catch::Contains("notify: notice "));
  CHECK_THAT(stopped.err, Catch::Contains(" of dossier " + forged + " held, not sent"));
  CHECK_THAT(stopped.err, Catch::Contains("Hồ sơ " + forged + " không khớp với lịch sử"));
  CHECK(tries >= 1);
  CHECK(tries <= 4);  // at once, after 1 s, after 2 s more: a growing wait
}
