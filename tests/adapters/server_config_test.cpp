// The configuration of `hoso serve`: the shipped config/server.yaml, every rule refused at its file:line:col
// (or naming its environment variable), the environment overrides, secrets only from the environment.
#include "adapters/yaml/server_config.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#ifndef HOSO_SOURCE_DIR
#error "HOSO_SOURCE_DIR must be defined as the repository root"
#endif

using namespace hoso;
using yaml::ServerConfig;
using namespace std::chrono_literals;

namespace {

yaml::Env env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

ServerConfig parsed(const std::string& text, std::map<std::string, std::string> vars = {}) {
  auto r = yaml::parse_server_config(text, "s.yaml", env_of(std::move(vars)));
  if (!r) FAIL("unexpected error:\n" << r.error().message);
  return *r;
}

// The message of the error that `text` (with the environment `vars`) is refused with.
std::string refused(const std::string& text, std::map<std::string, std::string> vars = {}) {
  auto r = yaml::parse_server_config(text, "s.yaml", env_of(std::move(vars)));
  if (r) FAIL("accepted, but should be refused:\n" << text);
  CHECK(r.error().code == ErrorCode::kInvalidDefinition);
  CHECK(r.error().reason == "server_config");
  return r.error().message;
}

bool has(const std::string& message, const std::string& text) {
  return message.find(text) != std::string::npos;
}

#define REQUIRE_HAS(message, text)    \
  do {                                \
    const std::string m_ = (message); \
    INFO("message:\n" << m_);         \
    REQUIRE(has(m_, (text)));         \
  } while (0)

const std::string kShipped = std::string(HOSO_SOURCE_DIR) + "/config/server.yaml";

}  // namespace

TEST_CASE("server config: the shipped config/server.yaml loads with its documented values",
          "[server_config]") {
  auto r = yaml::load_server_config(kShipped, env_of({}));
  if (!r) FAIL(r.error().message);
  const ServerConfig& c = *r;
  CHECK(c.address == "127.0.0.1");
  CHECK(c.port == 8080);
  CHECK(c.database.empty());
  CHECK(c.read_timeout == 10000ms);
  CHECK(c.idle_timeout == 30000ms);
  CHECK(c.max_body == 1048576u);
  CHECK(c.max_connections == 4096u);
  CHECK(c.channels == std::vector<std::string>{"file"});
  CHECK(c.retry.max_attempts == 20);
  CHECK(c.retry.initial_backoff == 2000ms);
  CHECK(c.retry.max_backoff == 3600000ms);
  CHECK(c.retry.multiplier == 2.0);
  CHECK(c.file_path.empty());
  CHECK(c.smtp.host == "127.0.0.1");
  CHECK(c.smtp.port == 25);
  CHECK(c.smtp.helo_name == "hoso.local");
  CHECK(c.smtp.from == "khen-thuong@hoso.example");
  CHECK(c.smtp.from_name == "Hệ thống hồ sơ khen thưởng");
  CHECK_FALSE(c.smtp.starttls);
  CHECK_FALSE(c.smtp.require_tls);
  CHECK(c.smtp.verify_peer);
  CHECK(c.smtp.username.empty());
  CHECK(c.password_env == "HOSO_SMTP_PASSWORD");
  CHECK(c.smtp.timeout == 10000ms);
  CHECK(c.webhook.url.empty());
  CHECK(c.secret_env == "HOSO_WEBHOOK_SECRET");
  CHECK(c.webhook.timeout == 10000ms);

  // No file: the same values (but no sender address), from the defaults.
  auto d = yaml::load_server_config(std::nullopt, env_of({}));
  if (!d) FAIL(d.error().message);
  CHECK(d->address == c.address);
  CHECK(d->port == c.port);
  CHECK(d->channels == c.channels);
  CHECK(d->retry.max_attempts == c.retry.max_attempts);
  CHECK(d->max_body == c.max_body);
  CHECK(d->max_connections == c.max_connections);
  CHECK(d->smtp.from.empty());
}

TEST_CASE("server config: a file that cannot be read is an error naming it", "[server_config]") {
  auto r = yaml::load_server_config(std::string(HOSO_SOURCE_DIR) + "/config/no-such-server.yaml", env_of({}));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kNotFound);
  CHECK(has(r.error().message, "no-such-server.yaml"));
}

TEST_CASE("server config: the environment wins over the file", "[server_config]") {
  const std::string file =
      "server:\n  listen: 0.0.0.0:9000\n  database: file.db\n"
      "notify:\n  channels: [file]\n  retry: {max_attempts: 3}\n  file: {path: from-file.jsonl}\n"
      "  email: {host: 127.0.0.1, port: 2525, from: a@file, username: file-user, starttls: false}\n"
      "  webhook: {url: \"http://file.example/hook\"}\n";
  const ServerConfig f = parsed(file, {{"HOSO_SMTP_PASSWORD", "pw"}});
  CHECK(f.address == "0.0.0.0");
  CHECK(f.port == 9000);
  CHECK(f.database == "file.db");
  CHECK(f.smtp.username == "file-user");

  const ServerConfig c = parsed(file, {{"HOSO_LISTEN", "127.0.0.2:0"},
                                       {"HOSO_DB", "env.db"},
                                       {"HOSO_NOTIFY_CHANNELS", "webhook, email"},
                                       {"HOSO_NOTIFY_FILE", "env.jsonl"},
                                       {"HOSO_NOTIFY_MAX_ATTEMPTS", "9"},
                                       {"HOSO_MAX_CONNECTIONS", "100"},
                                       {"HOSO_SMTP_HOST", "mail.env"},
                                       {"HOSO_SMTP_PORT", "587"},
                                       {"HOSO_SMTP_FROM", "b@env"},
                                       {"HOSO_SMTP_USERNAME", "env-user"},
                                       {"HOSO_SMTP_STARTTLS", "true"},
                                       {"HOSO_WEBHOOK_URL", "http://env.example/hook"},
                                       {"HOSO_SMTP_PASSWORD", "pw"},
                                       {"HOSO_WEBHOOK_SECRET", "k"}});
  CHECK(c.address == "127.0.0.2");
  CHECK(c.port == 0);
  CHECK(c.database == "env.db");
  CHECK(c.channels == std::vector<std::string>{"webhook", "email"});
  CHECK(c.file_path == "env.jsonl");
  CHECK(c.retry.max_attempts == 9);
  CHECK(c.max_connections == 100u);
  CHECK(c.smtp.host == "mail.env");
  CHECK(c.smtp.port == 587);
  CHECK(c.smtp.from == "b@env");
  CHECK(c.smtp.username == "env-user");
  CHECK(c.smtp.starttls);
  CHECK(c.webhook.url == "http://env.example/hook");

  // An empty variable counts as not set; no file: the defaults with the overrides.
  CHECK(parsed(file, {{"HOSO_DB", ""}, {"HOSO_SMTP_PASSWORD", "pw"}}).database == "file.db");
  auto d = yaml::load_server_config(std::nullopt, env_of({{"HOSO_LISTEN", "10.0.0.1:81"}}));
  if (!d) FAIL(d.error().message);
  CHECK(d->address == "10.0.0.1");
  CHECK(d->port == 81);
}

TEST_CASE("server config: secrets come only from the environment and never appear in describe",
          "[server_config]") {
  const std::string pw = "pw-3f9a-never-logged";
  const std::string key = "hmac-77c1-never-logged";
  const std::string file =
      "notify:\n  channels: [email, webhook]\n"
      "  email: {from: a@b.example, username: clerk, password_env: MY_SMTP_PW}\n"
      "  webhook: {url: \"http://127.0.0.1:9/h\", secret_env: MY_HOOK_KEY}\n";
  // The default variable names are not read when the file names others.
  const ServerConfig c = parsed(
      file,
      {{"MY_SMTP_PW", pw}, {"MY_HOOK_KEY", key}, {"HOSO_SMTP_PASSWORD", "x"}, {"HOSO_WEBHOOK_SECRET", "y"}});
  CHECK(c.smtp.password == pw);
  CHECK(c.webhook.secret == key);
  const std::string line = yaml::describe(c);
  INFO(line);
  CHECK_FALSE(has(line, pw));
  CHECK_FALSE(has(line, key));
  CHECK(has(line, "MY_SMTP_PW (set)"));
  CHECK(has(line, "MY_HOOK_KEY (set)"));
  CHECK(has(line, "channels email,webhook"));
  CHECK(line.find('\n') == std::string::npos);

  const ServerConfig n = parsed("notify: {channels: [email], email: {from: a@b.example}}\n");
  CHECK(n.smtp.password.empty());
  CHECK(has(yaml::describe(n), "HOSO_SMTP_PASSWORD (not set)"));
}

TEST_CASE("server config: a password or secret written in the file is refused", "[server_config]") {
  const std::string m = refused("notify:\n  email:\n    password: hunter2-in-file\n");
  REQUIRE_HAS(m, "s.yaml:3:5: error: notify.email.password: ");
  REQUIRE_HAS(m, "notify.email.password_env");
  CHECK_FALSE(has(m, "hunter2-in-file"));
  const std::string s = refused("notify:\n  webhook: {url: \"http://h/\", secret: abc-in-file}\n");
  REQUIRE_HAS(s, "s.yaml:2:31: error: notify.webhook.secret: ");
  REQUIRE_HAS(s, "notify.webhook.secret_env");
  CHECK_FALSE(has(s, "abc-in-file"));
  // A name that is not a variable name (a secret written in its place) is refused without echoing it.
  const std::string e = refused("notify:\n  email: {password_env: \"p@ss w0rd!\"}\n");
  REQUIRE_HAS(e, "s.yaml:2:25: error: notify.email.password_env: ");
  CHECK_FALSE(has(e, "p@ss w0rd!"));
}

TEST_CASE("server config: unknown keys are refused with the keys allowed there", "[server_config]") {
  REQUIRE_HAS(
      refused("server:\n  listen: 127.0.0.1:1\n  lisen: x\n"),
      "s.yaml:3:3: error: server.lisen: khóa không được biết (các khóa được phép: 'listen', 'database', "
      "'read_timeout_ms', 'idle_timeout_ms', 'max_body_bytes', 'max_connections')");
  REQUIRE_HAS(refused("servr: {}\n"),
              "s.yaml:1:1: error: servr: khóa không được biết (các khóa được phép ở gốc tệp: "
              "'server', 'notify')");
  REQUIRE_HAS(refused("notify:\n  retry:\n    attempts: 3\n"), "s.yaml:3:5: error: notify.retry.attempts: ");
  REQUIRE_HAS(refused("notify:\n  sms: {}\n"), "'channels', 'retry', 'file', 'email', 'webhook'");
}

TEST_CASE("server config: values of the wrong type are refused at the value", "[server_config]") {
  REQUIRE_HAS(refused("server:\n  listen: [a]\n"),
              "s.yaml:2:11: error: server.listen: cần một chuỗi, nhận được một danh sách");
  REQUIRE_HAS(refused("server:\n  read_timeout_ms: abc\n"),
              "s.yaml:2:20: error: server.read_timeout_ms: cần số mili giây từ 1 đến 2592000000 (30 ngày), "
              "nhận được 'abc'");
  REQUIRE_HAS(refused("notify:\n  email: {starttls: yes}\n"),
              "s.yaml:2:21: error: notify.email.starttls: cần true hoặc false, nhận được 'yes'");
  REQUIRE_HAS(refused("notify:\n  retry: {multiplier: two}\n"),
              "s.yaml:2:23: error: notify.retry.multiplier: cần một số từ 1 trở lên, nhận được 'two'");
  REQUIRE_HAS(refused("server: 5\n"), "s.yaml:1:9: error: server: cần một bảng");
  REQUIRE_HAS(refused("notify:\n  channels: file\n"),
              "s.yaml:2:13: error: notify.channels: cần một danh sách kênh, nhận được 'file'");
  REQUIRE_HAS(refused("notify:\n  email: {port: \"25\"}\n"),
              "s.yaml:2:17: error: notify.email.port: cần số cổng 1–65535");
  REQUIRE_HAS(refused("notify:\n  channels: [file, {x: 1}]\n"),
              "s.yaml:2:20: error: notify.channels: cần một chuỗi");
}

TEST_CASE("server config: listen must be ADDRESS:PORT with a port 0 to 65535", "[server_config]") {
  for (const char* bad : {"localhost", "h:70000", ":80", "h:-1", "h:", "h:8o"}) {
    INFO(bad);
    REQUIRE_HAS(
        refused(std::string("server:\n  listen: \"") + bad + "\"\n"),
        std::string("s.yaml:2:11: error: server.listen: cần dạng ĐỊA_CHỈ:CỔNG, cổng 0–65535 (0: một cổng "
                    "trống bất kỳ), nhận được '") +
            bad + "'");
  }
  CHECK(parsed("server: {listen: \"0.0.0.0:0\"}\n").port == 0);
  CHECK(parsed("server: {listen: \"::1:65535\"}\n").address == "::1");
}

TEST_CASE("server config: durations are at most 30 days - beyond that adding one to a time would overflow",
          "[server_config]") {
  REQUIRE_HAS(refused("notify:\n  retry: {max_backoff_ms: 9223372036854775807}\n"),
              "notify.retry.max_backoff_ms: cần số mili giây từ 1 đến 2592000000 (30 ngày), nhận được "
              "'9223372036854775807'");
  REQUIRE_HAS(refused("notify:\n  retry: {initial_backoff_ms: 2592000001}\n"),
              "notify.retry.initial_backoff_ms: cần số mili giây từ 1 đến 2592000000 (30 ngày)");
  REQUIRE_HAS(
      refused("notify:\n  webhook:\n    timeout_ms: 10000000000000\n"),
      "s.yaml:3:17: error: notify.webhook.timeout_ms: cần số mili giây từ 1 đến 2592000000 (30 ngày)");
  REQUIRE_HAS(refused("server:\n  read_timeout_ms: 10000000000000\n"),
              "s.yaml:2:20: error: server.read_timeout_ms: cần số mili giây từ 1 đến 2592000000 (30 ngày)");
  const auto longest =
      parsed("notify:\n  retry: {initial_backoff_ms: 2592000000, max_backoff_ms: 2592000000}\n");
  CHECK(longest.retry.max_backoff.count() == 2592000000);
}

TEST_CASE("server config: timeouts and sizes must be greater than 0", "[server_config]") {
  REQUIRE_HAS(refused("server:\n  idle_timeout_ms: 0\n"),
              "s.yaml:2:20: error: server.idle_timeout_ms: cần số mili giây từ 1 đến 2592000000 (30 ngày), "
              "nhận được '0'");
  REQUIRE_HAS(refused("server:\n  max_body_bytes: -1\n"),
              "s.yaml:2:19: error: server.max_body_bytes: cần số byte lớn hơn 0, nhận được '-1'");
  REQUIRE_HAS(refused("server:\n  max_connections: 0\n"),
              "s.yaml:2:20: error: server.max_connections: cần số kết nối từ 1 đến 1000000, nhận được '0'");
  REQUIRE_HAS(refused("server:\n  max_connections: 1000001\n"),
              "s.yaml:2:20: error: server.max_connections: cần số kết nối từ 1 đến 1000000");
  REQUIRE_HAS(refused("server: {}\n", {{"HOSO_MAX_CONNECTIONS", "many"}}),
              "biến môi trường HOSO_MAX_CONNECTIONS: cần số kết nối từ 1 đến 1000000");
  REQUIRE_HAS(refused("notify:\n  email:\n    timeout_ms: 0\n"),
              "s.yaml:3:17: error: notify.email.timeout_ms: ");
  REQUIRE_HAS(refused("notify:\n  webhook:\n    timeout_ms: -5\n"),
              "s.yaml:3:17: error: notify.webhook.timeout_ms: ");
  REQUIRE_HAS(refused("notify:\n  retry:\n    initial_backoff_ms: 0\n"),
              "s.yaml:3:25: error: notify.retry.initial_backoff_ms: ");
}

TEST_CASE("server config: the retry policy rules", "[server_config]") {
  REQUIRE_HAS(refused("notify:\n  retry:\n    max_attempts: 0\n"),
              "s.yaml:3:19: error: notify.retry.max_attempts: cần số nguyên từ 1 trở lên, nhận được '0'");
  REQUIRE_HAS(
      refused("notify:\n  retry:\n    initial_backoff_ms: 5000\n    max_backoff_ms: 4000\n"),
      "s.yaml:3:25: error: notify.retry.initial_backoff_ms: notify.retry.initial_backoff_ms không được lớn "
      "hơn notify.retry.max_backoff_ms (5000 > 4000)");
  // Only the maximum given: the problem is at it.
  REQUIRE_HAS(refused("notify:\n  retry:\n    max_backoff_ms: 1000\n"),
              "s.yaml:3:21: error: notify.retry.max_backoff_ms: ");
  REQUIRE_HAS(refused("notify:\n  retry:\n    multiplier: 0.5\n"),
              "s.yaml:3:17: error: notify.retry.multiplier: cần một số từ 1 trở lên, nhận được '0.5'");
  REQUIRE_HAS(refused("notify:\n  retry:\n    multiplier: .inf\n"),
              "s.yaml:3:17: error: notify.retry.multiplier: ");
  CHECK(parsed("notify:\n  retry: {multiplier: 1.5, initial_backoff_ms: 100, max_backoff_ms: 100}\n")
            .retry.multiplier == 1.5);
}

TEST_CASE("server config: channels must be known, each at most once, and at least one", "[server_config]") {
  REQUIRE_HAS(refused("notify:\n  channels: [file, sms]\n"),
              "s.yaml:2:20: error: notify.channels: kênh 'sms' không có (các kênh: file, email, webhook)");
  REQUIRE_HAS(refused("notify:\n  channels: [file, file]\n"),
              "s.yaml:2:20: error: notify.channels: kênh 'file' lặp lại");
  REQUIRE_HAS(refused("notify:\n  channels: []\n"),
              "s.yaml:2:13: error: notify.channels: cần ít nhất một kênh");
  REQUIRE_HAS(refused("server: {}\n", {{"HOSO_NOTIFY_CHANNELS", "file,,email"}}),
              "biến môi trường HOSO_NOTIFY_CHANNELS: kênh '' không có");
  REQUIRE_HAS(refused("server: {}\n", {{"HOSO_NOTIFY_CHANNELS", "file,file"}}),
              "biến môi trường HOSO_NOTIFY_CHANNELS: kênh 'file' lặp lại");
}

TEST_CASE("server config: each channel needs its settings", "[server_config]") {
  // Email: a sender address with '@'.
  REQUIRE_HAS(refused("notify:\n  channels: [email]\n  email: {from: \"\"}\n"),
              "s.yaml:3:17: error: notify.email.from: kênh email cần địa chỉ người gửi");
  REQUIRE_HAS(refused("notify:\n  email: {from: nobody}\n"),
              "s.yaml:2:17: error: notify.email.from: cần một địa chỉ email có '@', nhận được 'nobody'");
  REQUIRE_HAS(refused("notify:\n  channels: [file, email]\n"),
              "s.yaml:2:20: error: notify.channels: kênh email cần");
  CHECK(parsed("notify:\n  channels: [email]\n  email: {from: a@b}\n").channels ==
        std::vector<std::string>{"email"});

  // Webhook: an http:// URL and the key in the variable the file names; the message names the variable only.
  const std::string hook =
      "notify:\n  channels: [webhook]\n  webhook: {url: \"http://127.0.0.1:9/h\", secret_env: K}\n";
  REQUIRE_HAS(refused(hook),
              "s.yaml:2:14: error: notify.channels: kênh webhook cần khóa ký HMAC trong biến môi trường K ");
  REQUIRE_HAS(refused(hook, {{"K", ""}}), "biến môi trường K ");
  CHECK(parsed(hook, {{"K", "s3"}}).webhook.secret == "s3");
  REQUIRE_HAS(refused("notify:\n  channels: [webhook]\n", {{"HOSO_WEBHOOK_SECRET", "s3"}}),
              "s.yaml:2:14: error: notify.channels: kênh webhook cần notify.webhook.url");
  const std::string ftp = refused("notify:\n  webhook: {url: \"ftp://h/x\"}\n");
  REQUIRE_HAS(ftp, "s.yaml:2:18: error: notify.webhook.url: cần một URL http:// hoặc https://");
  // An https:// URL with its trust anchors.
  const ServerConfig tls = parsed(
      "notify:\n  channels: [webhook]\n  webhook: {url: \"https://hook.example/h\", secret_env: K, ca_file: "
      "/etc/hoso/ca.pem, verify_peer: true}\n",
      {{"K", "s3"}});
  CHECK(tls.webhook.url == "https://hook.example/h");
  CHECK(tls.webhook.ca_file == "/etc/hoso/ca.pem");
  CHECK(tls.webhook.verify_peer);
  REQUIRE_HAS(refused("notify:\n  webhook: {verify_peer: maybe}\n"), "s.yaml:2:26: error: notify.webhook.verify_peer: cần true hoặc false");
  REQUIRE_HAS(
      refused("server: {}\n", {{"HOSO_NOTIFY_CHANNELS", "webhook"}, {"HOSO_WEBHOOK_URL", "http://h/"}}),
      "biến môi trường HOSO_NOTIFY_CHANNELS: kênh webhook cần khóa ký HMAC trong biến môi trường "
      "HOSO_WEBHOOK_SECRET");

  // A username needs the password variable set.
  const std::string user = refused("notify:\n  email: {username: clerk}\n", {{"HOSO_SMTP_PASSWORD", ""}});
  REQUIRE_HAS(user,
              "s.yaml:2:21: error: notify.email.username: có tên đăng nhập nhưng biến môi trường "
              "HOSO_SMTP_PASSWORD (notify.email.password_env) chưa đặt hoặc trống");
  REQUIRE_HAS(refused("server: {}\n", {{"HOSO_SMTP_USERNAME", "u"}}),
              "biến môi trường HOSO_SMTP_USERNAME: có tên đăng nhập");
  // A username for a server across the network needs TLS: the password is not sent in clear text. A relay on
  // this machine may take it without; with starttls or require_tls any host will do.
  REQUIRE_HAS(refused("notify:\n  email: {host: mail.example.vn, from: a@b.vn, username: clerk}\n",
                      {{"HOSO_SMTP_PASSWORD", "pw"}}),
              "s.yaml:2:58: error: notify.email.username: có tên đăng nhập nhưng không dùng TLS với máy chủ "
              "SMTP mail.example.vn: mật khẩu sẽ đi qua mạng không mã hóa");
  for (const char* here : {"localhost", "127.0.0.1", "127.1.2.3", "::1"})
    CHECK(parsed(std::string("notify:\n  email: {host: \"") + here + "\", from: a@b.vn, username: clerk}\n",
                 {{"HOSO_SMTP_PASSWORD", "pw"}})
              .smtp.username == "clerk");
  // A name that merely starts like a loopback address is another machine.
  REQUIRE_HAS(refused("notify:\n  email: {host: 127.0.0.1.mail.example.vn, from: a@b.vn, username: clerk}\n",
                      {{"HOSO_SMTP_PASSWORD", "pw"}}),
              "không dùng TLS với máy chủ SMTP 127.0.0.1.mail.example.vn");
  for (const std::string with : {"starttls: true", "require_tls: true"})
    CHECK(parsed("notify:\n  email: {host: mail.example.vn, from: a@b.vn, username: clerk, " + with + "}\n",
                 {{"HOSO_SMTP_PASSWORD", "pw"}})
              .smtp.username == "clerk");
}

TEST_CASE("server config: a bad environment value is an error naming the variable", "[server_config]") {
  const std::string ok = "server: {}\n";
  const std::string port = refused(ok, {{"HOSO_SMTP_PORT", "abc"}});
  CHECK(port == "biến môi trường HOSO_SMTP_PORT: cần số cổng 1–65535, nhận được 'abc'");
  REQUIRE_HAS(refused(ok, {{"HOSO_SMTP_PORT", "0"}}),
              "biến môi trường HOSO_SMTP_PORT: cần số cổng 1–65535, nhận được '0'");
  REQUIRE_HAS(refused(ok, {{"HOSO_LISTEN", "8080"}}), "biến môi trường HOSO_LISTEN: cần dạng ĐỊA_CHỈ:CỔNG");
  REQUIRE_HAS(refused(ok, {{"HOSO_SMTP_STARTTLS", "yes"}}),
              "biến môi trường HOSO_SMTP_STARTTLS: cần true hoặc false, nhận được 'yes'");
  REQUIRE_HAS(refused(ok, {{"HOSO_NOTIFY_MAX_ATTEMPTS", "0"}}),
              "biến môi trường HOSO_NOTIFY_MAX_ATTEMPTS: cần số nguyên từ 1");
  REQUIRE_HAS(refused(ok, {{"HOSO_NOTIFY_CHANNELS", "sms"}}),
              "biến môi trường HOSO_NOTIFY_CHANNELS: kênh 'sms' không có");
  // Problems of the file and of the environment are all reported, a line each.
  const std::string both = refused("server: {listen: x}\n", {{"HOSO_SMTP_PORT", "abc"}});
  REQUIRE_HAS(both, "s.yaml:1:18: error: server.listen: ");
  REQUIRE_HAS(both, "\nbiến môi trường HOSO_SMTP_PORT: ");
}

TEST_CASE("server config: invalid UTF-8 and YAML syntax errors are located", "[server_config]") {
  REQUIRE_HAS(refused("server:\n  database: \"a\xff\"\n"), "s.yaml:2:15: error: invalid UTF-8: byte 0xFF");
  REQUIRE_HAS(refused("server:\n  listen: [127.0.0.1:80\n"), "s.yaml:");
  const std::string syntax = refused("server:\n  listen: \"x\n");
  CHECK(syntax.rfind("s.yaml:", 0) == 0);
  REQUIRE_HAS(refused(""), "s.yaml:1:1: error: empty file");
  REQUIRE_HAS(refused("server: {}\nserver: {}\n"), "s.yaml:2:1: error: duplicate key 'server'");

  // The same through a file on disk: located in that file.
  const auto path =
      std::filesystem::temp_directory_path() / ("hoso-server-config-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << "server:\n  read_timeout_ms: 0\n";
  auto r = yaml::load_server_config(path.string(), env_of({}));
  std::filesystem::remove(path);
  REQUIRE_FALSE(r);
  REQUIRE_HAS(r.error().message, path.string() + ":2:20: error: server.read_timeout_ms: ");
}

TEST_CASE("server config: the backoff doubles from the initial delay up to the maximum", "[server_config]") {
  yaml::RetryPolicy p;
  CHECK(p.backoff(1) == 2s);
  CHECK(p.backoff(2) == 4s);
  CHECK(p.backoff(3) == 8s);
  CHECK(p.backoff(4) == 16s);
  CHECK(p.backoff(9) == 512s);
  CHECK(p.backoff(11) == 2048s);
  CHECK(p.backoff(12) == 3600s);  // 4096 s, capped at an hour
  CHECK(p.backoff(5000) == 3600s);
  CHECK(p.backoff(0) == 2s);
  p.multiplier = 1.5;
  p.initial_backoff = 1000ms;
  p.max_backoff = 3000ms;
  CHECK(p.backoff(2) == 1500ms);
  CHECK(p.backoff(3) == 2250ms);
  CHECK(p.backoff(4) == 3000ms);
  p.multiplier = 1;
  CHECK(p.backoff(100) == 1000ms);
}
