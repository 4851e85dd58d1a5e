// The webhook adapter against a real HTTP receiver on 127.0.0.1: signed delivery of the notification JSON,
// statuses told apart as transient or permanent, timeouts, a receiver down and up again, refused URLs, and
// the secret kept out of every message.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <fstream>

#include "adapters/notify/notification_json.hpp"
#include "adapters/notify/redact.hpp"
#include "adapters/notify/webhook_notifier.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/temp_dir.hpp"

using namespace hoso;
using hoso::testing::HttpReceiver;

namespace {

constexpr const char* kSecret = "khoa-bi-mat-9f3c2a71";
const Timestamp kAt{1776646800000};  // 2026-04-20T01:00:00Z

Notification vietnamese_notice() {
  Notification n;
  n.gseq = 42;
  n.n = 1;
  n.dossier = 7;
  n.event_seq = 3;
  n.to_org = "ca-tinh-thai-nguyen";
  n.to_org_name = "Công an tỉnh Thái Nguyên";
  n.template_key = "ho_so_den";
  n.subject = "Hồ sơ đề nghị khen thưởng số 7 đã đến";
  n.body =
      "Kính gửi Công an tỉnh Thái Nguyên,\nhồ sơ \"Bằng khen của UBND tỉnh\" đang chờ tiếp nhận.\tTrân "
      "trọng.";
  n.created_at = "2026-04-20T00:59:59.000Z";
  n.emails = {"van.thu@catn.gov.vn", "lanh.dao@catn.gov.vn"};
  return n;
}

WebhookSettings settings(std::string url, std::string secret = kSecret) {
  WebhookSettings s;
  s.url = std::move(url);
  s.secret = std::move(secret);
  s.timeout = std::chrono::milliseconds(2000);
  return s;
}

Status deliver(const WebhookSettings& s) { return WebhookNotifier(s).deliver(vietnamese_notice(), kAt); }

// Checks that `st` failed with `reason`, names `shown_url` and never the secret.
void check_failure(const Status& st, std::string_view reason, const std::string& shown_url,
                   const std::string& secret = kSecret) {
  REQUIRE_FALSE(st.ok());
  INFO(st.error().message);
  CHECK(st.error().code == ErrorCode::kInternal);
  CHECK(st.error().reason == reason);
  CHECK(st.error().message.find(shown_url) != std::string::npos);
  CHECK(st.error().message.find(secret) == std::string::npos);
}

}  // namespace

TEST_CASE("webhook: the signature is HMAC-SHA256 in lowercase hex (RFC 4231 test case 2)", "[webhook]") {
  CHECK(webhook_signature("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhook: a Vietnamese notification arrives signed, and its body parses back intact", "[webhook]") {
  HttpReceiver receiver(kSecret);
  const Status st = deliver(settings(receiver.url("/hoso/thong-bao?nguon=hoso")));
  REQUIRE(st.ok());
  const auto got = receiver.requests();
  REQUIRE(got.size() == 1);
  const auto& r = got[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/hoso/thong-bao?nguon=hoso");
  CHECK(r.answered == 200);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("Idempotency-Key") == "42.1");
  CHECK(r.header("X-Hoso-Notification") == "42.1");
  CHECK(r.header("User-Agent") == "hoso");
  CHECK(r.header("X-Hoso-Signature") == webhook_signature(kSecret, r.body));
  // The same shape the file adapter writes, byte for byte.
  CHECK(r.body == boost::json::serialize(notification_json(vietnamese_notice(), kAt)));
  const auto body = boost::json::parse(r.body).as_object();
  CHECK(body.at("id").as_string() == "42.1");
  CHECK(body.at("to_org_name").as_string() == "Công an tỉnh Thái Nguyên");
  CHECK(body.at("subject").as_string() == vietnamese_notice().subject);
  CHECK(body.at("body").as_string() == vietnamese_notice().body);
  CHECK(body.at("emails").as_array().size() == 2);
  CHECK(body.at("delivered_at").as_string() == "2026-04-20T01:00:00.000Z");
  CHECK(receiver.count("42.1") == 1);
  CHECK(receiver.refused() == 0);
}

TEST_CASE("webhook: a wrong secret is refused by the receiver (401, permanent)", "[webhook]") {
  HttpReceiver receiver(kSecret);
  const std::string wrong = "khoa-sai-0000";
  check_failure(deliver(settings(receiver.url(), wrong)), kWebhookPermanent, receiver.url(), wrong);
  CHECK(deliver(settings(receiver.url(), wrong)).error().message.find("401") != std::string::npos);
  CHECK(receiver.refused() == 2);
  CHECK(receiver.requests().empty());
}

TEST_CASE("webhook: 5xx, 408 and 429 are transient, other non-2xx answers permanent", "[webhook]") {
  HttpReceiver receiver(kSecret);
  const std::vector<std::pair<unsigned, std::string_view>> cases = {
      {500, kWebhookTransient}, {503, kWebhookTransient}, {408, kWebhookTransient}, {429, kWebhookTransient},
      {404, kWebhookPermanent}, {400, kWebhookPermanent}, {410, kWebhookPermanent}, {301, kWebhookPermanent}};
  for (const auto& [status, reason] : cases) {
    INFO("HTTP " << status);
    receiver.answer(status);
    const Status st = deliver(settings(receiver.url()));
    check_failure(st, reason, receiver.url());
    CHECK(st.error().message.find(std::to_string(status)) != std::string::npos);
  }
  for (const unsigned ok : {200u, 201u, 202u, 204u}) {
    INFO("HTTP " << ok);
    receiver.answer(ok, ok == 204 ? "" : "ok");
    CHECK(deliver(settings(receiver.url())).ok());
  }
  CHECK(receiver.count("42.1") == cases.size() + 4);
}

TEST_CASE("webhook: interim 1xx answers are read past to the final one - which alone decides", "[webhook]") {
  HttpReceiver receiver(kSecret);
  receiver.interim({100, 103});
  CHECK(deliver(settings(receiver.url())).ok());
  receiver.answer(503);
  check_failure(deliver(settings(receiver.url())), kWebhookTransient, receiver.url());
  receiver.answer(404);
  check_failure(deliver(settings(receiver.url())), kWebhookPermanent, receiver.url());
  // A receiver that only ever sends interim answers is given up on (transient: it may recover).
  receiver.interim(std::vector<unsigned>(40, 100));
  receiver.answer(200);
  const Status endless = deliver(settings(receiver.url()));
  check_failure(endless, kWebhookTransient, receiver.url());
  CHECK(endless.error().message.find("1xx") != std::string::npos);
  CHECK(receiver.count("42.1") == 4);
}

TEST_CASE("webhook: a response body beyond the limit is not read, the status decides", "[webhook]") {
  HttpReceiver receiver(kSecret);
  auto s = settings(receiver.url());
  s.max_response_bytes = 1024;
  receiver.answer(200, std::string(256 * 1024, 'x'));
  CHECK(deliver(s).ok());
  receiver.answer(503, std::string(256 * 1024, 'y'));
  check_failure(deliver(s), kWebhookTransient, receiver.url());
}

TEST_CASE("webhook: a receiver that never answers times out (transient)", "[webhook]") {
  HttpReceiver receiver(kSecret);
  receiver.stall();
  auto s = settings(receiver.url());
  s.timeout = std::chrono::milliseconds(300);
  check_failure(deliver(s), kWebhookTransient, receiver.url());
  CHECK(receiver.requests().size() == 1);  // it did arrive; only the answer never came
}

TEST_CASE("webhook: a receiver down is transient, and back up the same notification is accepted", "[webhook]") {
  HttpReceiver receiver(kSecret);
  const auto s = settings(receiver.url());
  receiver.answer(503);
  check_failure(deliver(s), kWebhookTransient, receiver.url());
  receiver.stop();
  check_failure(deliver(s), kWebhookTransient, receiver.url());  // connection refused
  receiver.start();
  receiver.answer(200);
  REQUIRE(deliver(s).ok());
  const auto got = receiver.requests();
  REQUIRE(got.size() == 2);
  CHECK(got[0].answered == 503);
  CHECK(got[1].answered == 200);
  CHECK(got[0].header("Idempotency-Key") == "42.1");
  CHECK(got[1].header("Idempotency-Key") == "42.1");
  CHECK(got[0].body == got[1].body);
  CHECK(receiver.count("42.1") == 2);
}

TEST_CASE("webhook: over https the receiver's certificate is checked - trusted it delivers signed, untrusted it "
          "is refused and nothing is sent",
          "[webhook]") {
  HttpReceiver receiver(kSecret, 0, HttpReceiver::Scheme::kHttps);
  REQUIRE(receiver.url().rfind("https://127.0.0.1:", 0) == 0);
  hoso::testing::TempDir dir;
  const std::string anchors = dir.file("ca.pem");
  std::ofstream(anchors) << receiver.certificate_pem();
  // Trusted (its certificate given as the trust anchor, naming 127.0.0.1): delivered, signed, once.
  auto trusted = settings(receiver.url());
  trusted.ca_file = anchors;
  REQUIRE(WebhookNotifier(trusted).deliver(vietnamese_notice(), kAt).ok());
  REQUIRE(receiver.requests().size() == 1);
  CHECK(receiver.count(vietnamese_notice().id()) == 1);
  CHECK(receiver.refused() == 0);
  CHECK(boost::json::parse(receiver.requests()[0].body).at("subject").as_string() == vietnamese_notice().subject);
  // By name: the certificate names localhost too.
  auto by_name = trusted;
  by_name.url = "https://localhost:" + std::to_string(receiver.port()) + "/hoso";
  CHECK(WebhookNotifier(by_name).deliver(vietnamese_notice(), kAt).ok());
  CHECK(receiver.requests().size() == 2);
  // Untrusted (the system's anchors do not know a self-signed certificate): refused in the handshake, before
  // the notice is sent; transient, as a receiver may put a proper certificate in place.
  const Status untrusted = deliver(settings(receiver.url()));
  check_failure(untrusted, kWebhookTransient, receiver.url());
  CHECK(untrusted.error().message.find("TLS") != std::string::npos);
  CHECK(receiver.requests().size() == 2);
  // Not checked (verify_peer off, for testing only): delivered.
  auto unchecked = settings(receiver.url());
  unchecked.verify_peer = false;
  CHECK(WebhookNotifier(unchecked).deliver(vietnamese_notice(), kAt).ok());
  CHECK(receiver.requests().size() == 3);
  // Plain http to a receiver that speaks TLS: no answer it can read, transient, nothing recorded.
  auto plain = settings("http://127.0.0.1:" + std::to_string(receiver.port()) + "/hoso");
  check_failure(deliver(plain), kWebhookTransient, plain.url);
  CHECK(receiver.requests().size() == 3);
}

TEST_CASE("webhook: malformed URLs and settings are refused before any connection", "[webhook]") {
  HttpReceiver receiver(kSecret);
  const std::string port = std::to_string(receiver.port());
  auto missing_anchors = settings("https://127.0.0.1:" + port + "/hoso");
  missing_anchors.ca_file = "/khong-co/ca.pem";
  const auto no_ca = deliver(missing_anchors);
  check_failure(no_ca, kWebhookPermanent, "https://127.0.0.1:" + port + "/hoso");
  CHECK(no_ca.error().message.find("/khong-co/ca.pem") != std::string::npos);
  const std::vector<std::string> malformed = {"",
                                              "127.0.0.1:" + port + "/hoso",
                                              "ftp://127.0.0.1/hoso",
                                              "https://",
                                              "https://127.0.0.1:0/hoso",
                                              "http://",
                                              "http:///hoso",
                                              "http://:80/",
                                              "http://127.0.0.1:/hoso",
                                              "http://127.0.0.1:0/hoso",
                                              "http://127.0.0.1:65536/hoso",
                                              "http://127.0.0.1:8o/hoso",
                                              "http://may chu/hoso",
                                              "http://127.0.0.1/hồ-sơ",
                                              "http://[::1]:80/",
                                              "http://127.0.0.1/hoso#phan",
                                              "http://127.0.0.1/hoso\n"};
  for (const auto& url : malformed) {
    INFO("URL " << url);
    // Named as logs show it (a fragment hidden like a query).
    check_failure(deliver(settings(url)), kWebhookPermanent,
                  url.ends_with("#phan") ? "http://127.0.0.1/hoso#***" : url);
  }
  auto no_timeout = settings(receiver.url());
  no_timeout.timeout = std::chrono::milliseconds(0);
  check_failure(deliver(no_timeout), kWebhookPermanent, receiver.url());
  check_failure(deliver(settings(receiver.url(), "")), kWebhookPermanent, receiver.url());
  CHECK(receiver.requests().empty());
  CHECK(receiver.refused() == 0);
}

TEST_CASE("webhook: the secret never appears in a message, even where it is put in the URL", "[webhook]") {
  HttpReceiver receiver(kSecret);
  const std::string port = std::to_string(receiver.port());
  const Status st = deliver(settings("http://hoso:" + std::string(kSecret) + "@127.0.0.1:" + port + "/hoso"));
  check_failure(st, kWebhookPermanent, "http://***@127.0.0.1:" + port + "/hoso");
  receiver.stop();
  check_failure(deliver(settings(receiver.url("/hoso?khoa=" + std::string(kSecret)))), kWebhookTransient,
                receiver.url("/hoso?***"));
  // A query is hidden whatever it holds: services put access tokens there, and a recorded error stays in
  // the dossier's history for good.
  const Status with_token = deliver(settings(receiver.url("/hoso?access_token=tk-5e1f&x=1")));
  check_failure(with_token, kWebhookTransient, receiver.url("/hoso?***"));
  CHECK(with_token.error().message.find("tk-5e1f") == std::string::npos);
  receiver.start();
  receiver.answer(500);
  check_failure(deliver(settings(receiver.url("/" + std::string(kSecret)))), kWebhookTransient,
                receiver.url("/***"));
}

TEST_CASE("secrets are masked wherever they occur - even a secret that occurs in the mask itself",
          "[webhook][smtp]") {
  CHECK(masked("pw=abc; again abc.", "abc") == "pw=***; again ***.");
  CHECK(masked("abcabc", "abc") == "******");
  CHECK(masked("nothing here", "") == "nothing here");
  // A secret of asterisks: masked once each, neither looping nor growing.
  CHECK(masked("a*b**c", "*") == "a***b******c");
  CHECK(masked("x***y", "***") == "x***y");
  CHECK(redacted_url("https://h.example/p/***/q", "*") == "https://h.example/p/*********/q");
  CHECK(redacted_url("https://u:p@h.example/a?t=1#f", "") == "https://***@h.example/a?***");
  CHECK(redacted_url("https://h.example/a#frag", "") == "https://h.example/a#***");
  CHECK(redacted_url("https://h.example?t=1", "") == "https://h.example?***");
  CHECK(redacted_url("https://h.example/a", "") == "https://h.example/a");
}
