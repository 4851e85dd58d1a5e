// A minimal SMTP server for tests: listens on 127.0.0.1 only, serves on a thread of its own and speaks
// enough SMTP for the SMTP adapter (EHLO with capabilities, STARTTLS with a self-signed certificate made at
// start-up, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT). It records every
// message it accepts, and can be told to answer a command with a failure or never to answer it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hoso::testing {

struct SmtpServerOptions {
  bool starttls = false;                        // offer STARTTLS (until the session is upgraded)
  std::string user, password;                   // when user is set: offer AUTH and require it before MAIL
  std::string auth_mechanisms = "PLAIN LOGIN";  // as listed in the EHLO reply
};

struct ReceivedMessage {
  std::string from;                     // the envelope sender
  std::vector<std::string> recipients;  // the envelope recipients, in order
  std::string data;                     // dot-unstuffed, every line ending in CRLF, without the final "."
  bool tls = false;                     // the session was upgraded by STARTTLS
  std::string user;                     // who authenticated, if anyone
};

class SmtpServer {
 public:
  // Listening on 127.0.0.1 at a free port when it returns; throws when it cannot start.
  explicit SmtpServer(SmtpServerOptions options = {});
  ~SmtpServer();  // stop()
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  std::uint16_t port() const { return port_; }
  // The certificate STARTTLS presents (PEM, naming IP 127.0.0.1 and localhost); empty without starttls.
  const std::string& certificate_pem() const { return certificate_pem_; }

  // From now on, answers `command` (a verb such as "EHLO", "AUTH", "MAIL", "RCPT", "DATA"; "." for the end
  // of the data) with `code` and `text` instead of carrying it out.
  void reply_to(const std::string& command, int code, const std::string& text);
  // From now on, refuses `address` at RCPT with 550 (no such user); the other recipients are taken.
  void refuse_recipient(const std::string& address);
  // From now on, never answers `command` ("CONNECT": the greeting); the session reads on until the client
  // hangs up.
  void stall_at(const std::string& command);
  // Every message accepted so far, in order.
  std::vector<ReceivedMessage> messages() const;
  // Closes the listener and every session (a connection is then refused); idempotent.
  void stop();

  struct Shared;   // what the test's thread and the server's share (smtp_server.cpp)
  struct Running;  // the listener, its sessions and the server's thread (smtp_server.cpp)

 private:
  std::uint16_t port_ = 0;
  std::string certificate_pem_;
  std::unique_ptr<Shared> shared_;
  std::unique_ptr<Running> running_;
};

// Decodes standard base64 (padding optional, whitespace ignored); stops at the first other character.
std::string base64_decode(std::string_view text);

}  // namespace hoso::testing
