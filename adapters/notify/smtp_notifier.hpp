// The SMTP notification adapter: sends each notification as one email to the addresses it names, over one
// SMTP session per delivery (greeting, EHLO, optional STARTTLS and AUTH, MAIL, RCPT, DATA, QUIT). Every
// connect, read and write has a deadline, so a dead or silent server costs the caller at most `timeout`
// per step. The Message-ID derives from the notification id: a repeated delivery (delivery is at least
// once) carries the same Message-ID, so a reader can deduplicate.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/result.hpp"
#include "engine/service.hpp"

namespace hoso {

// Error::reason of a failed delivery, so that a caller can tell a retry from a dead letter.
namespace smtp_reason {
inline constexpr std::string_view kConnect = "smtp_connect";      // no connection (refused, unknown host)
inline constexpr std::string_view kTimeout = "smtp_timeout";      // no answer, or no progress, in time
inline constexpr std::string_view kTransient = "smtp_transient";  // a 4xx reply: try again later
inline constexpr std::string_view kPermanent = "smtp_permanent";  // a 5xx reply: retrying will not help
inline constexpr std::string_view kProtocol = "smtp_protocol";    // malformed or unexpected reply, hang-up
inline constexpr std::string_view kTls = "smtp_tls";    // TLS required but not offered, or handshake failed
inline constexpr std::string_view kAuth = "smtp_auth";  // credentials set but no AUTH mechanism we speak
}  // namespace smtp_reason

struct SmtpSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 25;
  std::string helo_name = "hoso.local";
  // The envelope sender and From address, and the From display name (read by people: Vietnamese).
  std::string from;
  std::string from_name = "Hệ thống hồ sơ khen thưởng";
  bool starttls = false;                     // upgrade with STARTTLS when the server offers it
  bool require_tls = false;                  // refuse to go on in clear text (implies starttls)
  bool verify_peer = true;                   // check the server's certificate chain and that it names `host`
  std::string ca_file;                       // PEM trust anchors for verify_peer; empty: the system's
  std::string username, password;            // AUTH PLAIN (or LOGIN) when username is set
  std::chrono::milliseconds timeout{10000};  // for connecting, for each reply and for each write
};

class SmtpNotifier {
 public:
  explicit SmtpNotifier(SmtpSettings settings) : settings_(std::move(settings)) {}
  // Sends `n` to the addresses in n.emails. A recipient the server refuses for good (5xx at RCPT: no such
  // mailbox) is left out and named in `left_out` (with the server's reply), and the others get the message:
  // one stale address in the directory does not keep a notice from the rest of the org; refused all, it fails
  // (permanent). A transient refusal (4xx) of any recipient fails the whole message, tried again later. Fails
  // with kInvalidInput (reason "smtp_input") when n.emails is empty or an address or the sender is malformed;
  // otherwise with kInternal, a reason from smtp_reason, the step in Error::subject and a message naming the
  // server, the step and its reply. Never names the password.
  Status deliver(const Notification& n, std::vector<std::string>* left_out = nullptr);
  // Whether the settings can work at all (the sender address, the HELO name, the trust anchors when TLS is
  // used and checked): kInvalidInput naming what is wrong. Checked when the server starts, so that a mistake
  // stops it instead of dead-lettering every notice at its first attempt.
  Status ready() const;

 private:
  SmtpSettings settings_;
};

// The RFC 5322 message for `n` (CRLF line endings, before dot-stuffing): encoded-word From, To and Subject,
// `date` as Date, a Message-ID from n.id(), and the body (line endings made CRLF) in base64.
std::string smtp_message(const Notification& n, const SmtpSettings& settings,
                         std::chrono::system_clock::time_point date);

// `message` as the DATA stream carries it: a "." doubled at the start of every line, a CRLF at the end,
// then the terminating ".\r\n".
std::string smtp_dot_stuff(std::string_view message);

}  // namespace hoso
