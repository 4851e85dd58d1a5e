#include "tests/support/smtp_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/self_signed.hpp"

namespace hoso::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

constexpr std::size_t kMaxLine = 1 << 20;

std::string upper(std::string text) {
  for (auto& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

// The address in "<address>" after `prefix` (e.g. "FROM:"), ignoring parameters; nullopt when malformed.
std::optional<std::string> path_after(const std::string& arg, std::string_view prefix) {
  if (upper(arg.substr(0, prefix.size())) != prefix) return std::nullopt;
  const auto open = arg.find('<', prefix.size());
  const auto close = arg.find('>', prefix.size());
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  return arg.substr(open + 1, close - open - 1);
}

struct Fault {
  bool stall = false;
  int code = 0;
  std::string text;
};

}  // namespace

struct SmtpServer::Shared {
  const SmtpServerOptions options;
  mutable std::mutex mutex;
  std::map<std::string, Fault> faults;    // by command; under mutex
  std::set<std::string> no_such_mailbox;  // recipients refused with 550; under mutex
  bool refuses(const std::string& address) const {
    std::lock_guard lock(mutex);
    return no_such_mailbox.contains(address);
  }
  std::vector<ReceivedMessage> messages;  // under mutex

  std::optional<Fault> fault(const std::string& command) const {
    std::lock_guard lock(mutex);
    const auto it = faults.find(command);
    return it == faults.end() ? std::nullopt : std::optional<Fault>(it->second);
  }
};

namespace {

// One client's session.
class Connection {
 public:
  Connection(SmtpServer::Shared& shared, ssl::context& tls, tcp::socket socket)
      : shared_(shared), stream_(std::move(socket), tls) {}

  awaitable<void> serve() {
    if (!co_await faulted("CONNECT")) co_await reply(220, "127.0.0.1 hoso test SMTP ready");
    for (;;) {
      const std::string line = co_await read_line();
      const auto space = line.find(' ');
      const std::string verb = upper(line.substr(0, space));
      const std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
      if (co_await faulted(verb)) continue;
      if (verb == "QUIT") {
        co_await reply(221, "2.0.0 bye");
        co_return;
      }
      co_await handle(verb, arg);
    }
  }

 private:
  // Carries out an injected fault for `command`: true when it answered it (the caller goes on with the next
  // command); a stall reads on until the client hangs up and never returns.
  awaitable<bool> faulted(const std::string& command) {
    const auto fault = shared_.fault(command);
    if (!fault) co_return false;
    if (fault->stall)
      for (;;) co_await read_line();
    co_await reply(fault->code, fault->text);
    co_return true;
  }

  awaitable<void> handle(const std::string& verb, const std::string& arg) {
    const auto& options = shared_.options;
    if (verb == "EHLO") {
      mail_.reset();
      std::string lines = "250-127.0.0.1 hello " + arg + "\r\n250-8BITMIME\r\n";
      if (options.starttls && !tls_) lines += "250-STARTTLS\r\n";
      if (!options.user.empty()) lines += "250-AUTH " + options.auth_mechanisms + "\r\n";
      co_await write(lines + "250 HELP\r\n");
    } else if (verb == "HELO") {
      mail_.reset();
      co_await reply(250, "127.0.0.1");
    } else if (verb == "STARTTLS" && options.starttls && !tls_) {
      co_await reply(220, "2.0.0 ready to start TLS");
      in_.clear();
      co_await stream_.async_handshake(ssl::stream_base::server, use_awaitable);
      tls_ = true;
      user_.clear();
      mail_.reset();
    } else if (verb == "AUTH" && !options.user.empty() && user_.empty()) {
      co_await authenticate(arg);
    } else if (verb == "MAIL") {
      const auto from = path_after(arg, "FROM:");
      if (!from) co_return co_await reply(501, "5.5.4 syntax: MAIL FROM:<address>");
      if (!options.user.empty() && user_.empty())
        co_return co_await reply(530, "5.7.0 authentication required");
      if (mail_) co_return co_await reply(503, "5.5.1 nested MAIL");
      mail_ = ReceivedMessage{*from, {}, {}, tls_, user_};
      co_await reply(250, "2.1.0 sender ok");
    } else if (verb == "RCPT") {
      const auto to = path_after(arg, "TO:");
      if (!to) co_return co_await reply(501, "5.5.4 syntax: RCPT TO:<address>");
      if (!mail_) co_return co_await reply(503, "5.5.1 MAIL first");
      if (shared_.refuses(*to)) co_return co_await reply(550, "5.1.1 <" + *to + ">: no such user");
      mail_->recipients.push_back(*to);
      co_await reply(250, "2.1.5 recipient ok");
    } else if (verb == "DATA") {
      if (!mail_ || mail_->recipients.empty()) co_return co_await reply(503, "5.5.1 RCPT first");
      co_await receive_data();
    } else if (verb == "RSET") {
      mail_.reset();
      co_await reply(250, "2.0.0 reset");
    } else if (verb == "NOOP") {
      co_await reply(250, "2.0.0 ok");
    } else {
      co_await reply(502, "5.5.1 command not implemented");
    }
  }

  awaitable<void> authenticate(const std::string& arg) {
    const auto space = arg.find(' ');
    const std::string mechanism = upper(arg.substr(0, space));
    std::string initial = space == std::string::npos ? "" : arg.substr(space + 1);
    std::string user, password;
    if (mechanism == "PLAIN") {
      if (initial.empty()) initial = co_await challenge("");
      const std::string token = base64_decode(initial);
      const auto first = token.find('\0');
      const auto second = first == std::string::npos ? first : token.find('\0', first + 1);
      if (second == std::string::npos) co_return co_await reply(501, "5.5.2 malformed PLAIN response");
      user = token.substr(first + 1, second - first - 1);
      password = token.substr(second + 1);
    } else if (mechanism == "LOGIN") {
      if (initial.empty()) initial = co_await challenge("VXNlcm5hbWU6");
      user = base64_decode(initial);
      password = base64_decode(co_await challenge("UGFzc3dvcmQ6"));
    } else {
      co_return co_await reply(504, "5.5.4 unrecognised authentication mechanism");
    }
    if (user != shared_.options.user || password != shared_.options.password)
      co_return co_await reply(535, "5.7.8 authentication credentials invalid");
    user_ = user;
    co_await reply(235, "2.7.0 authentication successful");
  }

  // Sends a 334 challenge and returns the client's answer.
  awaitable<std::string> challenge(const std::string& text) {
    co_await reply(334, text);
    co_return co_await read_line();
  }

  awaitable<void> receive_data() {
    co_await reply(354, "end data with <CR><LF>.<CR><LF>");
    std::string data;
    for (std::string line = co_await read_line(); line != "."; line = co_await read_line())
      data += (line.starts_with('.') ? line.substr(1) : line) + "\r\n";
    ReceivedMessage message = std::move(*mail_);
    mail_.reset();
    if (co_await faulted(".")) co_return;
    message.data = std::move(data);
    std::size_t count = 0;
    {
      std::lock_guard lock(shared_.mutex);
      shared_.messages.push_back(std::move(message));
      count = shared_.messages.size();
    }
    co_await reply(250, "2.0.0 queued as " + std::to_string(count));
  }

  awaitable<std::string> read_line() {
    auto buffer = asio::dynamic_buffer(in_, kMaxLine);
    // (no co_await inside ?: — GCC 12 miscompiles it)
    std::size_t n = 0;
    if (tls_)
      n = co_await asio::async_read_until(stream_, buffer, "\r\n", use_awaitable);
    else
      n = co_await asio::async_read_until(stream_.next_layer(), buffer, "\r\n", use_awaitable);
    std::string line = in_.substr(0, n - 2);
    in_.erase(0, n);
    co_return line;
  }

  awaitable<void> reply(int code, const std::string& text) {
    co_await write(std::to_string(code) + " " + text + "\r\n");
  }

  awaitable<void> write(std::string bytes) {
    if (tls_)
      co_await asio::async_write(stream_, asio::buffer(bytes), use_awaitable);
    else
      co_await asio::async_write(stream_.next_layer(), asio::buffer(bytes), use_awaitable);
  }

  SmtpServer::Shared& shared_;
  ssl::stream<tcp::socket> stream_;
  bool tls_ = false;
  std::string in_;                       // received, not yet read as a line
  std::string user_;                     // authenticated as
  std::optional<ReceivedMessage> mail_;  // the transaction under way
};

awaitable<void> serve(SmtpServer::Shared& shared, ssl::context& tls, tcp::socket socket) {
  Connection connection(shared, tls, std::move(socket));
  try {
    co_await connection.serve();
  } catch (const std::exception&) {
    // The client hung up, or the TLS handshake failed: the session is over.
  }
}

}  // namespace

struct SmtpServer::Running {
  ssl::context tls{ssl::context::tls_server};  // before io: sessions that io destroys use it
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::thread thread;

  ~Running() {
    io.stop();
    if (thread.joinable()) thread.join();
  }

  awaitable<void> accept(Shared& shared) {
    for (;;) {
      tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
      asio::co_spawn(io, serve(shared, tls, std::move(socket)), asio::detached);
    }
  }
};

SmtpServer::SmtpServer(SmtpServerOptions options)
    : shared_(std::make_unique<Shared>(std::move(options))), running_(std::make_unique<Running>()) {
  if (shared_->options.starttls) certificate_pem_ = install_self_signed(running_->tls);
  port_ = running_->acceptor.local_endpoint().port();
  asio::co_spawn(running_->io, running_->accept(*shared_), asio::detached);
  running_->thread = std::thread([&io = running_->io] { io.run(); });
}

SmtpServer::~SmtpServer() { stop(); }

void SmtpServer::stop() { running_.reset(); }

void SmtpServer::reply_to(const std::string& command, int code, const std::string& text) {
  std::lock_guard lock(shared_->mutex);
  shared_->faults[command] = Fault{false, code, text};
}

void SmtpServer::refuse_recipient(const std::string& address) {
  std::lock_guard lock(shared_->mutex);
  shared_->no_such_mailbox.insert(address);
}

void SmtpServer::stall_at(const std::string& command) {
  std::lock_guard lock(shared_->mutex);
  shared_->faults[command] = Fault{true, 0, {}};
}

std::vector<ReceivedMessage> SmtpServer::messages() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->messages;
}

std::string base64_decode(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int pending = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\r' || c == '\n' || c == '\t') continue;
    const auto value = kAlphabet.find(c);
    if (value == std::string_view::npos) break;  // '=' or anything else ends the data
    bits = (bits << 6) | static_cast<unsigned>(value);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out += static_cast<char>((bits >> pending) & 0xFF);
    }
  }
  return out;
}

}  // namespace hoso::testing
