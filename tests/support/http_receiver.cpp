#include "tests/support/http_receiver.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>

#include "adapters/notify/webhook_notifier.hpp"
#include "tests/support/self_signed.hpp"

namespace hoso::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

// One connection: reads requests and writes the answers `receiver` decides, until either side closes.
template <typename Stream>
net::awaitable<void> exchange(HttpReceiver& receiver, Stream& stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    const auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (read_error) co_return;
    const auto& req = parser.get();
    ReceivedRequest got{std::string(req.method_string()), std::string(req.target()), req.body(), {}, 0};
    for (const auto& field : req) got.headers[lower(field.name_string())] = std::string(field.value());
    const ReceiverAnswer answer = receiver.handle(std::move(got));
    if (answer.status == 0) {  // stall: hold the connection, silent, until stop() destroys this frame
      net::steady_timer never(stream.get_executor(), net::steady_timer::time_point::max());
      co_await never.async_wait(kNoThrow);
      co_return;
    }
    for (const unsigned status : answer.interim) {
      http::response<http::empty_body> early{static_cast<http::status>(status), req.version()};
      if (status == 103) early.set(http::field::link, "</style.css>; rel=preload; as=style");
      const auto [early_error, early_written] = co_await http::async_write(stream, early, kNoThrow);
      if (early_error) co_return;
    }
    http::response<http::string_body> res{static_cast<http::status>(answer.status), req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = answer.body;
    res.prepare_payload();
    const auto [write_error, written] = co_await http::async_write(stream, res, kNoThrow);
    if (write_error || !res.keep_alive()) break;
  }
}

net::awaitable<void> serve(HttpReceiver& receiver, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  co_await exchange(receiver, stream);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> serve_tls(HttpReceiver& receiver, tcp::socket socket, net::ssl::context& tls) {
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls);
  const auto [handshake_error] = co_await stream.async_handshake(net::ssl::stream_base::server, kNoThrow);
  if (handshake_error) co_return;  // e.g. a client that does not trust the certificate
  co_await exchange(receiver, stream);
  co_await stream.async_shutdown(kNoThrow);
}

net::awaitable<void> accept_loop(HttpReceiver& receiver, tcp::acceptor acceptor, net::ssl::context* tls) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(kNoThrow);
    if (error) co_return;
    if (tls)
      net::co_spawn(acceptor.get_executor(), serve_tls(receiver, std::move(socket), *tls), net::detached);
    else
      net::co_spawn(acceptor.get_executor(), serve(receiver, std::move(socket)), net::detached);
  }
}

}  // namespace

std::string ReceivedRequest::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpReceiver::HttpReceiver(std::string secret, std::uint16_t port, Scheme scheme)
    : secret_(std::move(secret)), port_(port) {
  if (scheme == Scheme::kHttps) {
    tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    certificate_pem_ = install_self_signed(*tls_);
  }
  start();
}

HttpReceiver::~HttpReceiver() { stop(); }

std::string HttpReceiver::url(std::string_view path) const {
  return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) + std::string(path);
}

void HttpReceiver::start() {
  if (ioc_) return;
  auto ioc = std::make_unique<net::io_context>(1);
  const tcp::endpoint at(net::ip::address_v4::loopback(), port_);
  tcp::acceptor acceptor(*ioc);
  acceptor.open(at.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));  // the same port again after stop()
  acceptor.bind(at);
  acceptor.listen();
  port_ = acceptor.local_endpoint().port();
  net::co_spawn(*ioc, accept_loop(*this, std::move(acceptor), tls_.get()), net::detached);
  ioc_ = std::move(ioc);
  thread_ = std::thread([ioc = ioc_.get()] { ioc->run(); });
}

void HttpReceiver::stop() {
  if (!ioc_) return;
  ioc_->stop();
  thread_.join();
  ioc_.reset();  // destroys the listener and every session, stalled ones included
}

void HttpReceiver::answer(unsigned status, std::string body) {
  const std::lock_guard lock(mu_);
  next_ = ReceiverAnswer{status, std::move(body), std::move(next_.interim)};
}

void HttpReceiver::interim(std::vector<unsigned> statuses) {
  const std::lock_guard lock(mu_);
  next_.interim = std::move(statuses);
}

void HttpReceiver::stall() {
  const std::lock_guard lock(mu_);
  next_ = ReceiverAnswer{0, {}, {}};
}

std::vector<ReceivedRequest> HttpReceiver::requests() const {
  const std::lock_guard lock(mu_);
  return requests_;
}

std::size_t HttpReceiver::count(const std::string& idempotency_key) const {
  const std::lock_guard lock(mu_);
  const auto it = counts_.find(idempotency_key);
  return it == counts_.end() ? 0 : it->second;
}

std::size_t HttpReceiver::refused() const {
  const std::lock_guard lock(mu_);
  return refused_;
}

ReceiverAnswer HttpReceiver::handle(ReceivedRequest request) {
  const std::lock_guard lock(mu_);
  if (request.header("X-Hoso-Signature") != webhook_signature(secret_, request.body)) {
    ++refused_;
    return {401, "chữ ký không hợp lệ", {}};
  }
  ++counts_[request.header("Idempotency-Key")];
  request.answered = next_.status;
  requests_.push_back(std::move(request));
  return next_;
}

}  // namespace hoso::testing
