// The SMTP adapter against a real SMTP server on the loopback (tests/support/smtp_server): the message as
// received, STARTTLS and AUTH, and every kind of failure the caller must tell apart.
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "adapters/notify/smtp_notifier.hpp"
#include "tests/support/smtp_server.hpp"

using namespace hoso;
using hoso::testing::base64_decode;
using hoso::testing::SmtpServer;
using hoso::testing::SmtpServerOptions;

namespace {

Notification vietnamese_notice() {
  Notification n;
  n.gseq = 4211;
  n.n = 1;
  n.dossier = 37;
  n.event_seq = 5;
  n.to_org = "ca-tinh-thai-nguyen";
  n.to_org_name = "Công an tỉnh Thái Nguyên";
  n.template_key = "dossier_submitted";
  n.subject =
      "Hồ sơ số 37 đề nghị tặng Bằng khen của Chủ tịch UBND tỉnh cho tập thể Công an xã "
      "Phượng Tiến đã được trình lên Công an tỉnh";
  n.body =
      "Kính gửi Công an tỉnh Thái Nguyên,\n\nHồ sơ đề nghị khen thưởng số 37 (phong trào Toàn dân bảo vệ an "
      "ninh Tổ quốc) đã được Công an xã Phượng Tiến trình lúc 08:30 ngày 21/4/2026.\nĐề nghị đồng chí "
      "tiếp nhận và thẩm định trong thời hạn quy định.\n\nTrân trọng.";
  n.created_at = "2026-04-21T01:30:00Z";
  n.emails = {"van.thu@catinh.thainguyen.gov.vn", "pho.phong.tm@catinh.thainguyen.gov.vn"};
  return n;
}

SmtpSettings settings_for(const SmtpServer& server) {
  SmtpSettings s;
  s.port = server.port();
  s.from = "khenthuong@snv.thainguyen.gov.vn";
  s.timeout = std::chrono::seconds(10);
  return s;
}

// A received message taken apart: raw header lines, unfolded header fields and the body.
struct Parsed {
  std::vector<std::string> header_lines;
  std::map<std::string, std::string> fields;  // unfolded
  std::string body;
};

Parsed parse(const std::string& data) {
  Parsed p;
  const auto end = data.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::istringstream in(data.substr(0, end + 2));
  std::string name;
  for (std::string line; std::getline(in, line);) {
    REQUIRE(line.ends_with('\r'));
    line.pop_back();
    p.header_lines.push_back(line);
    if (line.starts_with(' ')) {
      p.fields[name] += line;
    } else {
      const auto colon = line.find(':');
      REQUIRE(colon != std::string::npos);
      name = line.substr(0, colon);
      p.fields[name] = line.substr(colon + 1);
    }
  }
  p.body = data.substr(end + 4);
  return p;
}

// An unfolded header value with its RFC 2047 encoded-words decoded (the space between two adjacent ones
// dropped); checks that each is at most 75 characters and holds whole UTF-8 characters.
std::string decode_words(const std::string& value) {
  std::istringstream in(value);
  std::string out;
  bool after_word = false;
  for (std::string token; in >> token;) {
    const bool word = token.starts_with("=?UTF-8?B?") && token.ends_with("?=");
    if (!out.empty() && !(word && after_word)) out += ' ';
    if (word) {
      CHECK(token.size() <= 75);
      const std::string text = base64_decode(token.substr(10, token.size() - 12));
      REQUIRE(!text.empty());
      CHECK((static_cast<unsigned char>(text.front()) & 0xC0) != 0x80);
      out += text;
    } else {
      out += token;
    }
    after_word = word;
  }
  return out;
}

// The body of a base64 part, checking its lines.
std::string decode_body(const std::string& body) {
  std::istringstream in(body);
  std::string joined;
  for (std::string line; std::getline(in, line);) {
    REQUIRE(line.ends_with('\r'));
    line.pop_back();
    CHECK(line.size() <= 76);
    joined += line;
  }
  return base64_decode(joined);
}

std::string crlf(std::string text) {
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 2))
    text.replace(at, 1, "\r\n");
  return text;
}

// Delivers `n` and requires it to fail with `reason`; returns the error.
Error refused(const SmtpSettings& settings, const Notification& n, std::string_view reason) {
  const Status st = SmtpNotifier(settings).deliver(n);
  REQUIRE_FALSE(st.ok());
  INFO(st.error().message);
  CHECK(st.error().reason == reason);
  return st.error();
}

// A file holding `text` in the temporary directory, removed with this object.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text)
      : path((std::filesystem::temp_directory_path() /
              ("hoso-smtp-test-" + std::to_string(::getpid()) + ".pem"))
                 .string()) {
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("smtp: a Vietnamese notification arrives intact, with a stable Message-ID", "[smtp]") {
  SmtpServer server;
  const Notification n = vietnamese_notice();
  const SmtpSettings settings = settings_for(server);
  REQUIRE(SmtpNotifier(settings).deliver(n).ok());
  REQUIRE(SmtpNotifier(settings).deliver(n).ok());  // a repeated delivery
  Notification other = n;
  other.n = 2;
  REQUIRE(SmtpNotifier(settings).deliver(other).ok());

  const auto received = server.messages();
  REQUIRE(received.size() == 3);
  CHECK(received[0].from == settings.from);
  CHECK(received[0].recipients == n.emails);
  CHECK_FALSE(received[0].tls);
  const Parsed p = parse(received[0].data);
  for (const auto& line : p.header_lines) CHECK(line.size() <= 76);
  CHECK(decode_words(p.fields.at("Subject")) == n.subject);
  CHECK(decode_words(p.fields.at("From")) == "Hệ thống hồ sơ khen thưởng <khenthuong@snv.thainguyen.gov.vn>");
  CHECK(decode_words(p.fields.at("To")) ==
        "Công an tỉnh Thái Nguyên <van.thu@catinh.thainguyen.gov.vn>, "
        "Công an tỉnh Thái Nguyên <pho.phong.tm@catinh.thainguyen.gov.vn>");
  CHECK(p.fields.at("MIME-Version") == " 1.0");
  CHECK(p.fields.at("Content-Type") == " text/plain; charset=UTF-8");
  CHECK(p.fields.at("Content-Transfer-Encoding") == " base64");
  CHECK(p.fields.at("X-Hoso-Notification") == " 4211.1");
  const std::string& date = p.fields.at("Date");  // e.g. " Tue, 21 Apr 2026 01:30:00 +0000"
  CHECK(date.size() == 32);
  CHECK(date.ends_with(" +0000"));
  CHECK(decode_body(p.body) == crlf(n.body));  // text/plain is CRLF before base64 (RFC 2045, 6.8)

  const std::string id = p.fields.at("Message-ID");
  CHECK(id == " <hoso.notification.4211.1@snv.thainguyen.gov.vn>");
  CHECK(parse(received[1].data).fields.at("Message-ID") == id);
  CHECK(parse(received[2].data).fields.at("Message-ID") != id);
}

TEST_CASE(
    "smtp: settings that cannot work are found before any message - sender with a display name - "
    "unreadable trust anchors",
    "[smtp]") {
  SmtpSettings s;
  s.from = "khenthuong@laocai.gov.vn";
  CHECK(SmtpNotifier(s).ready().ok());
  SmtpSettings named = s;
  named.from = "Khen thưởng <khenthuong@laocai.gov.vn>";
  const Status sender = SmtpNotifier(named).ready();
  REQUIRE_FALSE(sender.ok());
  CHECK(sender.error().code == ErrorCode::kInvalidInput);
  CHECK_THAT(sender.error().message,
             Catch::Contains("địa chỉ người gửi 'Khen thưởng <khenthuong@laocai.gov.vn>'"));
  SmtpSettings helo = s;
  helo.helo_name = "hoso local";
  CHECK_FALSE(SmtpNotifier(helo).ready().ok());
  SmtpSettings anchors = s;
  anchors.starttls = true;
  anchors.ca_file = "/khong-co/ca.pem";
  const Status unreadable = SmtpNotifier(anchors).ready();
  REQUIRE_FALSE(unreadable.ok());
  CHECK_THAT(unreadable.error().message, Catch::Contains("/khong-co/ca.pem"));
  anchors.verify_peer = false;  // not checked: not read
  CHECK(SmtpNotifier(anchors).ready().ok());
}

TEST_CASE("smtp: lines starting with a dot survive dot-stuffing", "[smtp]") {
  SmtpServer server;
  Notification n = vietnamese_notice();
  n.body = ".\n.. hai chấm\n.Dòng bắt đầu bằng dấu chấm\n.";
  REQUIRE(SmtpNotifier(settings_for(server)).deliver(n).ok());
  REQUIRE(server.messages().size() == 1);
  CHECK(decode_body(parse(server.messages()[0].data).body) == crlf(n.body));

  // A base64 body never starts a line with a dot, so the wire never needs stuffing there: send stuffed
  // lines by hand, pipelined, and check the server gets the original back.
  const std::string original = ".một\r\n..hai\r\nba\r\n.\r\n";
  const std::string stuffed = smtp_dot_stuff(original);
  CHECK(stuffed == "..một\r\n...hai\r\nba\r\n..\r\n.\r\n");
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::address_v4::loopback(), server.port()});
  const timeval limit{10, 0};  // a broken server fails the test instead of hanging it
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  boost::asio::write(socket,
                     boost::asio::buffer("EHLO test\r\nMAIL FROM:<a@b.vn>\r\nRCPT TO:<c@d.vn>\r\nDATA\r\n" +
                                         stuffed + "QUIT\r\n"));
  std::string replies;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(replies), ec);
  CHECK(ec == boost::asio::error::eof);
  CHECK(replies.find("221 ") != std::string::npos);
  REQUIRE(server.messages().size() == 2);
  CHECK(server.messages()[1].data == original);
}

TEST_CASE("smtp: STARTTLS, then AUTH", "[smtp]") {
  SmtpServerOptions options;
  options.starttls = true;
  options.user = "hoso-gui-thu";
  options.password = "Mật khẩu đúng 2026";
  std::string mechanism;
  SECTION("PLAIN") { mechanism = "PLAIN"; }
  SECTION("LOGIN") { mechanism = "LOGIN"; }
  options.auth_mechanisms = mechanism;
  SmtpServer server(options);
  SmtpSettings settings = settings_for(server);
  settings.starttls = true;
  settings.require_tls = true;
  const TempFile ca(server.certificate_pem());
  settings.ca_file = ca.path;
  settings.username = options.user;
  settings.password = options.password;
  const Status st = SmtpNotifier(settings).deliver(vietnamese_notice());
  INFO((st.ok() ? std::string() : st.error().message));
  REQUIRE(st.ok());
  const auto received = server.messages();
  REQUIRE(received.size() == 1);
  CHECK(received[0].tls);
  CHECK(received[0].user == options.user);
}

TEST_CASE("smtp: the server's certificate is checked", "[smtp]") {
  SmtpServerOptions options;
  options.starttls = true;
  SmtpServer server(options);
  SmtpSettings settings = settings_for(server);
  settings.starttls = true;
  SECTION("not trusted") {
    const Error e = refused(settings, vietnamese_notice(), smtp_reason::kTls);
    CHECK(e.subject == "TLS handshake");
    CHECK(server.messages().empty());
  }
  SECTION("trusted through ca_file, by address and by name") {
    const TempFile ca(server.certificate_pem());
    settings.ca_file = ca.path;
    CHECK(SmtpNotifier(settings).deliver(vietnamese_notice()).ok());
    settings.host = "localhost";  // the certificate names it too
    CHECK(SmtpNotifier(settings).deliver(vietnamese_notice()).ok());
    CHECK(server.messages().size() == 2);
  }
  SECTION("not checked when verify_peer is off") {
    settings.verify_peer = false;
    CHECK(SmtpNotifier(settings).deliver(vietnamese_notice()).ok());
    REQUIRE(server.messages().size() == 1);
    CHECK(server.messages()[0].tls);
  }
}

TEST_CASE("smtp: require_tls refuses a server without STARTTLS", "[smtp]") {
  SmtpServer server;
  SmtpSettings settings = settings_for(server);
  settings.require_tls = true;
  const Error e = refused(settings, vietnamese_notice(), smtp_reason::kTls);
  CHECK(e.code == ErrorCode::kInternal);
  CHECK(e.message.find("STARTTLS") != std::string::npos);
  CHECK(server.messages().empty());
}

TEST_CASE("smtp: a wrong password is refused and never shown", "[smtp]") {
  SmtpServerOptions options;
  options.user = "hoso-gui-thu";
  options.password = "dung-roi";
  SmtpServer server(options);
  SmtpSettings settings = settings_for(server);
  settings.username = options.user;
  settings.password = "sai-mat-khau-7Qx";
  SECTION("the server's own refusal") {}
  SECTION("a refusal that quotes the password") {
    server.reply_to("AUTH", 535, "5.7.8 wrong password sai-mat-khau-7Qx");
  }
  SECTION("a refusal that quotes it where the quote is cut to length") {
    server.reply_to("AUTH", 535, "5.7.8 " + std::string(288, 'x') + " sai-mat-khau-7Qx");
  }
  const Error e = refused(settings, vietnamese_notice(), smtp_reason::kPermanent);
  CHECK(e.subject == "AUTH PLAIN");
  CHECK(e.message.find("535") != std::string::npos);
  CHECK(e.message.find(settings.password) == std::string::npos);
  CHECK(e.message.find("sai-m") == std::string::npos);  // nor a part of it
  CHECK(server.messages().empty());
}

TEST_CASE("smtp: a server that refuses EHLO is greeted with HELO - and gets the message without extensions",
          "[smtp]") {
  SmtpServer server;
  server.reply_to("EHLO", 502, "5.5.1 command not implemented");
  SmtpSettings settings = settings_for(server);
  REQUIRE(SmtpNotifier(settings).deliver(vietnamese_notice()).ok());
  REQUIRE(server.messages().size() == 1);
  CHECK(server.messages()[0].recipients == vietnamese_notice().emails);
  // What needs an extension fails as with a server that lacks it.
  settings.require_tls = true;
  const Error e = refused(settings, vietnamese_notice(), smtp_reason::kTls);
  CHECK(e.subject == "STARTTLS");
  CHECK(server.messages().size() == 1);
}

TEST_CASE("smtp: with STARTTLS configured and not offered the credentials are not sent in clear text",
          "[smtp]") {
  SmtpServerOptions options;
  options.user = "hoso-gui-thu";
  options.password = "dung-roi";
  SmtpServer server(options);  // offers AUTH, not STARTTLS
  SmtpSettings settings = settings_for(server);
  settings.username = options.user;
  settings.password = options.password;
  settings.starttls = true;
  const Error e = refused(settings, vietnamese_notice(), smtp_reason::kTls);
  CHECK(e.subject == "STARTTLS");
  CHECK(e.message.find("clear text") != std::string::npos);
  CHECK(server.messages().empty());
  settings.starttls = false;  // plain SMTP chosen on purpose: AUTH goes as configured
  CHECK(SmtpNotifier(settings).deliver(vietnamese_notice()).ok());
  REQUIRE(server.messages().size() == 1);
  CHECK(server.messages()[0].user == options.user);
}

TEST_CASE("smtp: a 4xx is transient and a 5xx permanent", "[smtp]") {
  SmtpServer server;
  const Notification n = vietnamese_notice();
  SECTION("4xx on RCPT") {
    server.reply_to("RCPT", 450, "4.2.1 mailbox busy, try later");
    const Error e = refused(settings_for(server), n, smtp_reason::kTransient);
    CHECK(e.subject == "RCPT TO:<van.thu@catinh.thainguyen.gov.vn>");
    CHECK(e.message.find("450 4.2.1 mailbox busy, try later") != std::string::npos);
  }
  SECTION("5xx on RCPT") {
    server.reply_to("RCPT", 550, "5.1.1 no such user");
    const Error e = refused(settings_for(server), n, smtp_reason::kPermanent);
    CHECK(e.message.find("550 5.1.1 no such user") != std::string::npos);
  }
  SECTION("5xx at the end of the data") {
    server.reply_to(".", 554, "5.6.0 message refused");
    CHECK(refused(settings_for(server), n, smtp_reason::kPermanent).subject == "end of data");
  }
  CHECK(server.messages().empty());
}

TEST_CASE("smtp: a recipient refused for good is left out and named - the others get the message", "[smtp]") {
  SmtpServer server;
  Notification n = vietnamese_notice();
  n.emails = {"van.thu@catinh.thainguyen.gov.vn", "nghi.huu@catinh.thainguyen.gov.vn",
              "pho.phong@catinh.thainguyen.gov.vn"};
  server.refuse_recipient("nghi.huu@catinh.thainguyen.gov.vn");
  SmtpNotifier notifier(settings_for(server));
  std::vector<std::string> left_out;
  const Status sent = notifier.deliver(n, &left_out);
  INFO((sent ? "" : sent.error().message));
  REQUIRE(sent.ok());
  const auto received = server.messages();
  REQUIRE(received.size() == 1);
  CHECK(received[0].recipients ==
        std::vector<std::string>{"van.thu@catinh.thainguyen.gov.vn", "pho.phong@catinh.thainguyen.gov.vn"});
  // The one left out is named with the server's reply (for the history).
  REQUIRE(left_out.size() == 1);
  CHECK_THAT(left_out[0], Catch::Contains("RCPT TO:<nghi.huu@catinh.thainguyen.gov.vn>"));
  CHECK_THAT(left_out[0], Catch::Contains("550 5.1.1 <nghi.huu@catinh.thainguyen.gov.vn>: no such user"));
  // All taken: nobody left out.
  SmtpServer all_ok;
  std::vector<std::string> none{"stale"};
  REQUIRE(SmtpNotifier(settings_for(all_ok)).deliver(n, &none).ok());
  CHECK(none.empty());
  // Every recipient refused: nothing is sent, a permanent failure naming the first.
  server.refuse_recipient("van.thu@catinh.thainguyen.gov.vn");
  server.refuse_recipient("pho.phong@catinh.thainguyen.gov.vn");
  const Error e = refused(settings_for(server), n, smtp_reason::kPermanent);
  CHECK_THAT(e.message, Catch::Contains("van.thu@catinh.thainguyen.gov.vn"));
  CHECK(server.messages().size() == 1);
}

TEST_CASE("smtp: a silent server times out", "[smtp]") {
  SmtpServer server;
  SmtpSettings settings = settings_for(server);
  settings.timeout = std::chrono::milliseconds(300);
  std::string step;
  SECTION("no greeting") {
    server.stall_at("CONNECT");
    step = "greeting";
  }
  SECTION("no answer to the data") {
    server.stall_at(".");
    step = "end of data";
  }
  const Error e = refused(settings, vietnamese_notice(), smtp_reason::kTimeout);
  CHECK(e.subject == step);
  CHECK(server.messages().empty());
}

TEST_CASE("smtp: a closed port is a connect failure", "[smtp]") {
  SmtpServer server;
  const SmtpSettings settings = settings_for(server);
  server.stop();
  CHECK(refused(settings, vietnamese_notice(), smtp_reason::kConnect).subject == "connect");
}

TEST_CASE("smtp: a notification without addresses is invalid input", "[smtp]") {
  SmtpServer server;
  Notification n = vietnamese_notice();
  n.emails.clear();
  const Status st = SmtpNotifier(settings_for(server)).deliver(n);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::kInvalidInput);
  n.emails = {"khong-hop-le\r\nRCPT TO:<x@y.vn>"};
  CHECK(SmtpNotifier(settings_for(server)).deliver(n).error().code == ErrorCode::kInvalidInput);
  CHECK(server.messages().empty());
}
