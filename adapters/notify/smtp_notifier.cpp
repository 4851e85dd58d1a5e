#include "adapters/notify/smtp_notifier.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <ctime>
#include <optional>
#include <vector>

#include "adapters/notify/redact.hpp"

namespace hoso {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Deadline = std::chrono::steady_clock::time_point;

constexpr std::size_t kMaxEncodedWord = 75;  // RFC 2047, 2
constexpr std::size_t kMaxHeaderLine = 76;   // RFC 2047, 2: a line holding encoded-words
constexpr std::size_t kBase64Line = 76;      // RFC 2045, 6.8
constexpr std::size_t kMaxReplyLine = 4096;  // RFC 5321 allows 512; be lenient, but bounded
constexpr std::size_t kMaxReplyLines = 100;
constexpr std::size_t kMaxQuoted = 300;  // of a reply, in an error message

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// `text` as RFC 2047 encoded-words holding whole UTF-8 characters, none longer than 75 characters and the
// first no longer than `first_room`.
std::vector<std::string> encoded_words(std::string_view text, std::size_t first_room) {
  static constexpr std::string_view kOpen = "=?UTF-8?B?", kClose = "?=";
  std::vector<std::string> words;
  std::size_t room = std::min(first_room, kMaxEncodedWord);
  while (!text.empty()) {
    const std::size_t max_bytes = (room - kOpen.size() - kClose.size()) / 4 * 3;
    std::size_t take = std::min(max_bytes, text.size());
    while (take > 0 && take < text.size() && (static_cast<unsigned char>(text[take]) & 0xC0) == 0x80) --take;
    if (take == 0) take = std::min(max_bytes, text.size());  // not UTF-8: any split will do
    words.push_back(fmt::format("{}{}{}", kOpen, base64(text.substr(0, take)), kClose));
    text.remove_prefix(take);
    room = kMaxEncodedWord;
  }
  return words;
}

// What is left of the first line of header `name` after "name: ".
std::size_t header_room(std::string_view name) { return kMaxHeaderLine - name.size() - 2; }

// Appends "name: tokens", folded before a token that would take the line past 76 characters.
void append_header(std::string& out, std::string_view name, const std::vector<std::string>& tokens) {
  out += name;
  out += ':';
  const std::size_t start = name.size() + 1;
  std::size_t line = start;
  for (const auto& token : tokens) {
    if (line > start && line + 1 + token.size() > kMaxHeaderLine) {
      out += "\r\n";
      line = 0;
    }
    out += ' ';
    out += token;
    line += 1 + token.size();
  }
  out += "\r\n";
}

// The tokens of `display <address>` (with a comma unless `last`); the first may take `first_room`.
void append_mailbox(std::vector<std::string>& tokens, std::string_view display, std::string_view address,
                    std::size_t first_room, bool last) {
  for (auto& word : encoded_words(display, first_room)) tokens.push_back(std::move(word));
  tokens.push_back(fmt::format("<{}>{}", address, last ? "" : ","));
}

std::string rfc5322_date(std::chrono::system_clock::time_point at) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t secs = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Stable for a notification, so that a repeated delivery can be recognised.
std::string message_id(const Notification& n, const SmtpSettings& s) {
  const auto at = s.from.rfind('@');
  const std::string domain = at == std::string::npos ? s.helo_name : s.from.substr(at + 1);
  return fmt::format("<hoso.notification.{}@{}>", n.id(), domain);
}

// `text` with every bare LF made CRLF (the canonical form of text/plain before base64).
std::string crlf_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

// An address we can put between < > in a command and a header: printable ASCII, no spaces, one part
// before and after an '@'.
bool valid_address(std::string_view a) {
  const auto at = a.rfind('@');
  if (a.size() > 254 || at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  return std::all_of(a.begin(), a.end(),
                     [](char c) { return c > ' ' && c < 0x7f && c != '<' && c != '>' && c != ','; });
}

bool valid_helo_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// A server's text made safe to quote in a log line: control characters replaced, length bounded.
std::string printable(std::string_view text) {
  std::string out(text.substr(0, kMaxQuoted));
  for (auto& c : out)
    if ((c >= 0 && c < ' ') || c == 0x7f) c = '?';
  return text.size() > kMaxQuoted ? out + "..." : out;
}

// `text` with every occurrence of each secret replaced by ***.
std::string masked(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) text = hoso::masked(std::move(text), secret);
  return text;
}

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // the text after "NNN-" or "NNN "

  // The reply as an error quotes it: `secrets` masked in the whole text before it is cut to length, so that
  // no part of one is left at the cut.
  std::string describe(const std::vector<std::string>& secrets) const {
    std::string joined;
    for (const auto& line : lines) joined += (joined.empty() ? "" : " / ") + line;
    return fmt::format("{} {}", code, printable(masked(std::move(joined), secrets)));
  }
};

// The capabilities an EHLO reply lists, one keyword line each, upper-cased.
struct Capabilities {
  std::vector<std::string> lines;

  // The parameters of `keyword` ("" when it is listed without any), or nullopt when it is not listed.
  std::optional<std::string> find(std::string_view keyword) const {
    for (const auto& line : lines) {
      if (line.compare(0, keyword.size(), keyword) != 0) continue;
      if (line.size() == keyword.size()) return std::string();
      if (line[keyword.size()] == ' ') return line.substr(keyword.size() + 1);
    }
    return std::nullopt;
  }
};

// One SMTP session on one connection; every operation ends by its deadline.
class Session {
 public:
  explicit Session(const SmtpSettings& s) : s_(s) {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
    if (!s_.password.empty()) secrets_.push_back(s_.password);
  }

  // The whole dialogue for one message; a QUIT ends it whenever the connection is still in step. The
  // recipients the server refused for good (and the others took) go to `left_out`, with its reply.
  Status send(const std::vector<std::string>& recipients, std::string_view message,
              std::vector<std::string>& left_out) {
    Status st = dialogue(recipients, message, left_out);
    if (in_step_) quit();
    return st;
  }

 private:
  Status dialogue(const std::vector<std::string>& recipients, std::string_view message,
                  std::vector<std::string>& left_out) {
    if (auto st = connect(); !st) return st;
    if (auto greeting = exchange("greeting", "", 2); !greeting) return greeting.error();
    auto caps = hello();
    if (!caps) return caps.error();
    if (s_.starttls || s_.require_tls) {
      if (caps->find("STARTTLS")) {
        if (auto st = start_tls(); !st) return st;
        caps = hello();
        if (!caps) return caps.error();
      } else if (s_.require_tls) {
        return fail("STARTTLS", smtp_reason::kTls, "TLS is required but the server does not offer STARTTLS");
      } else if (!s_.username.empty()) {
        // Asked for and not offered (perhaps stripped on the way): the credentials do not go in clear text.
        return fail(
            "STARTTLS", smtp_reason::kTls,
            "STARTTLS is configured but the server does not offer it: the credentials are not sent in "
            "clear text");
      }
    }
    if (!s_.username.empty())
      if (auto st = authenticate(*caps); !st) return st;
    if (auto r = exchange("MAIL FROM", fmt::format("MAIL FROM:<{}>", s_.from), 2); !r) return r.error();
    std::optional<Error> refused;  // the first recipient refused for good
    for (const auto& to : recipients) {
      const std::string command = fmt::format("RCPT TO:<{}>", to);
      auto r = exchange(command, command, 2);
      if (r) continue;
      if (r.error().reason != smtp_reason::kPermanent) return r.error();  // later, for everyone
      left_out.push_back(r.error().message);
      if (!refused) refused = r.error();
    }
    if (left_out.size() == recipients.size()) {
      left_out.clear();
      return *refused;  // nobody to send it to
    }
    if (auto r = exchange("DATA", "DATA", 3); !r) return r.error();
    if (auto st = write("end of data", smtp_dot_stuff(message)); !st) return st;
    if (auto r = exchange("end of data", "", 2); !r) return r.error();
    return Status::Ok();
  }

  Status connect() {
    const Deadline deadline = std::chrono::steady_clock::now() + s_.timeout;
    tcp::resolver::results_type endpoints;
    error_code ec = run(
        [&](auto done) {
          resolver_.async_resolve(
              s_.host, std::to_string(s_.port),
              [&endpoints, done](error_code e, tcp::resolver::results_type found) mutable {
                endpoints = std::move(found);
                done(e);
              });
        },
        deadline);
    if (!ec)
      ec = run([&](auto done) { asio::async_connect(stream_.next_layer(), endpoints, done); }, deadline);
    return ec ? Status(io_failure("connect", ec, smtp_reason::kConnect)) : Status::Ok();
  }

  // EHLO, or HELO when the server refuses EHLO with a 5xx (RFC 5321 3.2: an older server): then it offers no
  // extension (no STARTTLS, no AUTH), and what needs one fails as it would with a server that lacks it.
  Result<Capabilities> hello() {
    auto reply = exchange("EHLO", "EHLO " + s_.helo_name, 2);
    if (!reply && reply.error().reason == smtp_reason::kPermanent) {
      if (auto helo = exchange("HELO", "HELO " + s_.helo_name, 2); !helo) return helo.error();
      return Capabilities{};
    }
    if (!reply) return reply.error();
    Capabilities caps;
    for (std::size_t i = 1; i < reply->lines.size(); ++i) {
      std::string line = reply->lines[i];
      std::transform(line.begin(), line.end(), line.begin(),
                     [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
      caps.lines.push_back(std::move(line));
    }
    return caps;
  }

  Status start_tls() {
    if (auto r = exchange("STARTTLS", "STARTTLS", 2); !r) return r.error();
    // Anything the server sent before the handshake was not protected by it (RFC 3207, 6).
    if (!in_.empty())
      return fail("STARTTLS", smtp_reason::kProtocol, "the server sent data before the TLS handshake");
    error_code ec;
    if (s_.verify_peer) {
      if (s_.ca_file.empty())
        ctx_.set_default_verify_paths(ec);
      else
        ctx_.load_verify_file(s_.ca_file, ec);
      if (ec)
        return fail("TLS", smtp_reason::kTls, fmt::format("cannot load trust anchors: {}", ec.message()));
      stream_.set_verify_mode(ssl::verify_peer);
      stream_.set_verify_callback(ssl::host_name_verification(s_.host));
    } else {
      stream_.set_verify_mode(ssl::verify_none);
    }
    asio::ip::make_address(s_.host, ec);
    if (ec) SSL_set_tlsext_host_name(stream_.native_handle(), s_.host.c_str());  // SNI takes names only
    const Deadline deadline = std::chrono::steady_clock::now() + s_.timeout;
    ec = run([&](auto done) { stream_.async_handshake(ssl::stream_base::client, done); }, deadline);
    if (ec == asio::error::timed_out) return io_failure("TLS handshake", ec, smtp_reason::kTls);
    if (ec) {
      in_step_ = false;
      return fail("TLS handshake", smtp_reason::kTls, ec.message());
    }
    tls_ = true;
    return Status::Ok();
  }

  Status authenticate(const Capabilities& caps) {
    const std::string mechanisms = caps.find("AUTH").value_or("");
    const auto offers = [&](std::string_view mechanism) {
      return (" " + mechanisms + " ").find(fmt::format(" {} ", mechanism)) != std::string::npos;
    };
    if (offers("PLAIN")) {
      secrets_.push_back(base64(std::string(1, '\0') + s_.username + '\0' + s_.password));
      return status_of(exchange("AUTH PLAIN", "AUTH PLAIN " + secrets_.back(), 2));
    }
    if (offers("LOGIN")) {
      secrets_.push_back(base64(s_.password));
      if (auto r = exchange("AUTH LOGIN", "AUTH LOGIN", 3); !r) return r.error();
      if (auto r = exchange("AUTH LOGIN username", base64(s_.username), 3); !r) return r.error();
      return status_of(exchange("AUTH LOGIN password", secrets_.back(), 2));
    }
    return fail("AUTH", smtp_reason::kAuth,
                mechanisms.empty()
                    ? "a username is set but the server does not offer AUTH"
                    : fmt::format("no mechanism we speak (PLAIN, LOGIN) among: {}", mechanisms));
  }

  void quit() { (void)exchange("QUIT", "QUIT", 2); }

  // Sends `line` (unless empty) and reads the reply; fails unless the reply's first digit is `want`.
  Result<Reply> exchange(std::string_view step, std::string_view line, int want) {
    if (!line.empty())
      if (auto st = write(step, fmt::format("{}\r\n", line)); !st) return st.error();
    auto reply = read_reply(step);
    if (!reply || reply->code / 100 == want) return reply;
    const int kind = reply->code / 100;
    return fail(step,
                kind == 4   ? smtp_reason::kTransient
                : kind == 5 ? smtp_reason::kPermanent
                            : smtp_reason::kProtocol,
                reply->describe(secrets_));
  }

  Result<Reply> read_reply(std::string_view step) {
    const Deadline deadline = std::chrono::steady_clock::now() + s_.timeout;
    Reply reply;
    while (reply.lines.size() < kMaxReplyLines) {
      std::size_t n = 0;
      const error_code ec = run(
          [&](auto done) {
            on_stream([&](auto& stream) {
              asio::async_read_until(stream, asio::dynamic_buffer(in_, kMaxReplyLine), '\n',
                                     [&n, done](error_code e, std::size_t got) mutable {
                                       n = got;
                                       done(e);
                                     });
            });
          },
          deadline);
      if (ec) return io_failure(step, ec, smtp_reason::kProtocol);
      std::string line = in_.substr(0, n - 1);
      in_.erase(0, n);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const bool well_formed =
          line.size() >= 3 &&
          std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) &&
          (line.size() == 3 || line[3] == ' ' || line[3] == '-');
      const int code = well_formed ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : 0;
      if (!well_formed || (!reply.lines.empty() && code != reply.code))
        return fail(step, smtp_reason::kProtocol, fmt::format("malformed reply: {}", printable(line)));
      reply.code = code;
      reply.lines.push_back(line.size() > 4 ? line.substr(4) : "");
      if (line.size() == 3 || line[3] == ' ') return reply;
    }
    return fail(step, smtp_reason::kProtocol, "a reply of too many lines");
  }

  Status write(std::string_view step, std::string_view bytes) {
    const Deadline deadline = std::chrono::steady_clock::now() + s_.timeout;
    const error_code ec = run(
        [&](auto done) {
          on_stream([&](auto& stream) { asio::async_write(stream, asio::buffer(bytes), done); });
        },
        deadline);
    return ec ? Status(io_failure(step, ec, smtp_reason::kProtocol)) : Status::Ok();
  }

  // Runs the asynchronous operation that `start` begins (handing it a completion handler) until it
  // completes or `deadline` passes; then the connection is closed, which aborts it, and the result is
  // asio::error::timed_out.
  template <typename Start>
  error_code run(Start&& start, Deadline deadline) {
    std::optional<error_code> result;
    start([&result](error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run_until(deadline);
    if (result) return *result;
    resolver_.cancel();
    error_code ignored;
    stream_.next_layer().close(ignored);
    io_.restart();
    io_.run();
    return asio::error::timed_out;
  }

  template <typename Op>
  void on_stream(Op&& op) {
    if (tls_)
      op(stream_);
    else
      op(stream_.next_layer());
  }

  static Status status_of(const Result<Reply>& r) { return r ? Status::Ok() : Status(r.error()); }

  Error io_failure(std::string_view step, error_code ec, std::string_view otherwise) {
    if (ec == asio::error::timed_out)
      return fail(step, smtp_reason::kTimeout, fmt::format("no answer within {} ms", s_.timeout.count()));
    if (ec == asio::error::eof) return fail(step, otherwise, "the server closed the connection");
    return fail(step, otherwise, ec.message());
  }

  // An error naming the server and `step`, with every secret this session holds masked. After a failure of
  // the connection or of the protocol, the session is out of step and a QUIT would be in vain.
  Error fail(std::string_view step, std::string_view reason, std::string_view detail) {
    if (reason == smtp_reason::kConnect || reason == smtp_reason::kTimeout ||
        reason == smtp_reason::kProtocol)
      in_step_ = false;
    Error e = make_error(ErrorCode::kInternal,
                         masked(fmt::format("smtp {}:{}: {}: {}", s_.host, s_.port, step, detail), secrets_));
    e.reason = reason;
    e.subject = step;
    return e;
  }

  const SmtpSettings& s_;
  asio::io_context io_;
  ssl::context ctx_{ssl::context::tls_client};
  ssl::stream<tcp::socket> stream_{io_, ctx_};
  tcp::resolver resolver_{io_};
  bool tls_ = false;
  bool in_step_ = true;               // both sides agree where the dialogue is: a QUIT can end it cleanly
  std::string in_;                    // received, not yet read as a reply line
  std::vector<std::string> secrets_;  // never to appear in an error
};

Error input_error(std::string message) {
  Error e = make_error(ErrorCode::kInvalidInput, std::move(message));
  e.reason = "smtp_input";
  return e;
}

}  // namespace

std::string smtp_message(const Notification& n, const SmtpSettings& settings,
                         std::chrono::system_clock::time_point date) {
  std::string m;
  std::vector<std::string> from;
  append_mailbox(from, settings.from_name, settings.from, header_room("From"), true);
  append_header(m, "From", from);
  std::vector<std::string> to;
  for (std::size_t i = 0; i < n.emails.size(); ++i)
    append_mailbox(to, n.to_org_name, n.emails[i], i == 0 ? header_room("To") : kMaxEncodedWord,
                   i + 1 == n.emails.size());
  append_header(m, "To", to);
  append_header(m, "Subject", encoded_words(n.subject, header_room("Subject")));
  append_header(m, "Date", {rfc5322_date(date)});
  append_header(m, "Message-ID", {message_id(n, settings)});
  m +=
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n";
  append_header(m, "X-Hoso-Notification", {n.id()});
  m += "\r\n";
  const std::string body = base64(crlf_lines(n.body));
  for (std::size_t at = 0; at < body.size(); at += kBase64Line) {
    m.append(body, at, kBase64Line);
    m += "\r\n";
  }
  return m;
}

std::string smtp_dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 16);
  bool line_start = true;
  for (const char c : message) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
  return out;
}

// The sender and HELO name of `s`: checked at start-up and before every message.
static Status check_sender(const SmtpSettings& s) {
  if (!valid_address(s.from))
    return input_error(
        fmt::format("smtp: địa chỉ người gửi '{}' không hợp lệ (cần dạng ten@mien, không kèm tên "
                    "hiển thị; tên hiển thị đặt ở from_name)",
                    printable(s.from)));
  if (!valid_helo_name(s.helo_name))
    return input_error(fmt::format("smtp: tên HELO '{}' không hợp lệ", printable(s.helo_name)));
  return Status::Ok();
}

Status SmtpNotifier::ready() const {
  if (Status sender = check_sender(settings_); !sender) return sender;
  if ((settings_.starttls || settings_.require_tls) && settings_.verify_peer && !settings_.ca_file.empty()) {
    ssl::context ctx{ssl::context::tls_client};
    error_code ec;
    ctx.load_verify_file(settings_.ca_file, ec);
    if (ec)
      return input_error(
          fmt::format("smtp: không đọc được chứng chỉ gốc {}: {}", settings_.ca_file, ec.message()));
  }
  return Status::Ok();
}

Status SmtpNotifier::deliver(const Notification& n, std::vector<std::string>* left_out) {
  if (n.emails.empty())
    return input_error(
        fmt::format("notification {} for {} has no email address to send to", n.id(), n.to_org));
  for (const auto& address : n.emails)
    if (!valid_address(address))
      return input_error(
          fmt::format("notification {}: malformed email address '{}'", n.id(), printable(address)));
  if (Status sender = check_sender(settings_); !sender) return sender;
  Session session(settings_);
  std::vector<std::string> refused;
  Status sent = session.send(n.emails, smtp_message(n, settings_, std::chrono::system_clock::now()), refused);
  if (sent && left_out) *left_out = std::move(refused);
  return sent;
}

}  // namespace hoso
