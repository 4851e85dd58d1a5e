#include "adapters/notify/webhook_notifier.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <optional>

#include "adapters/notify/notification_json.hpp"
#include "adapters/notify/redact.hpp"

namespace hoso {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Error failure(std::string_view reason, std::string message) {
  Error e = make_error(ErrorCode::kInternal, std::move(message));
  e.reason = reason;
  return e;
}

Error bad_setting(const WebhookSettings& s, std::string_view why) {
  return failure(kWebhookPermanent,
                 fmt::format("webhook: địa chỉ {} không dùng được: {}", redacted_url(s.url, s.secret), why));
}

bool host_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'; }

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  static const char kNoKey = 0;  // HMAC wants a valid pointer even for an empty key
  if (HMAC(EVP_sha256(), secret.empty() ? &kNoKey : secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len) == nullptr)
    return {};
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", mac[i]);
  return out;
}

// Checks the settings and splits an http(s)://host[:port][/path] URL.
Result<WebhookNotifier::Target> WebhookNotifier::check(const WebhookSettings& s) {
  const std::string_view url = s.url;
  if (std::any_of(url.begin(), url.end(), [](char c) { return c <= ' ' || c == '\x7f' || c == '#'; }))
    return bad_setting(s, "có khoảng trắng, ký tự điều khiển, ký tự ngoài ASCII hoặc phần #");
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return bad_setting(s, "cần dạng http://máy:cổng/đường-dẫn hoặc https://máy:cổng/đường-dẫn");
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  if (scheme != "http" && scheme != "https")
    return bad_setting(s, "cần dạng http://máy:cổng/đường-dẫn hoặc https://máy:cổng/đường-dẫn");
  const std::string_view rest = url.substr(scheme_end + 3);
  const auto path_start = std::min(rest.find('/'), rest.find('?'));
  const std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos)
    return bad_setting(s, "không được chứa tên người dùng hay mật khẩu (khóa bí mật đặt riêng)");
  const auto colon = authority.find(':');
  Target t;
  t.tls = scheme == "https";
  t.host = std::string(authority.substr(0, colon));
  if (t.host.empty() || !std::all_of(t.host.begin(), t.host.end(), host_char))
    return bad_setting(s, "tên máy trống hoặc có ký tự không hợp lệ (địa chỉ IPv6 chưa được hỗ trợ)");
  t.port = colon == std::string_view::npos ? (t.tls ? "443" : "80") : std::string(authority.substr(colon + 1));
  const bool digits = !t.port.empty() && t.port.size() <= 5 &&
                      std::all_of(t.port.begin(), t.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoi(t.port) < 1 || std::stoi(t.port) > 65535)
    return bad_setting(s, "cổng phải là số từ 1 đến 65535");
  t.path = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (t.path.front() == '?') t.path.insert(0, "/");
  if (s.secret.empty()) return bad_setting(s, "thiếu khóa bí mật để ký");
  if (s.timeout.count() <= 0) return bad_setting(s, "thời gian chờ phải lớn hơn 0");
  return t;
}

namespace {

// Runs `ioc` until the operation that `start` begins has completed, and returns its error. The stream's
// expiry ends a connect, write or read with beast::error::timeout when the other side stays silent.
template <typename Start>
beast::error_code run(net::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// A 2xx is delivered; a status that says "later" (408, 429, 5xx) is transient; any other is permanent.
bool transient_status(unsigned status) { return status == 408 || status == 429 || status >= 500; }

// Interim answers read before giving up on the final one (each within the timeout).
constexpr int kMaxInterim = 16;

}  // namespace

WebhookNotifier::WebhookNotifier(WebhookSettings settings)
    : settings_(std::move(settings)), target_(check(settings_)) {
  if (target_ && target_->tls)
    if (Status ready = prepare_tls(); !ready) target_ = ready.error();
}

Status WebhookNotifier::prepare_tls() {
  auto tls = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (settings_.verify_peer) {
    if (settings_.ca_file.empty())
      tls->set_default_verify_paths(ec);
    else
      tls->load_verify_file(settings_.ca_file, ec);
    if (ec)
      return bad_setting(settings_, fmt::format("không đọc được chứng chỉ gốc {}: {}",
                                                settings_.ca_file.empty() ? "của hệ thống" : settings_.ca_file,
                                                ec.message()));
  }
  tls_ = std::move(tls);
  return Status::Ok();
}

Status WebhookNotifier::deliver(const Notification& n, Timestamp at) {
  if (!target_) return target_.error();
  const Target& t = *target_;
  const std::string url = redacted_url(settings_.url, settings_.secret);
  const auto io_failure = [&](std::string_view step, const beast::error_code& ec) {
    if (ec == beast::error::timeout)
      return failure(kWebhookTransient, fmt::format("webhook {}: hết thời gian chờ ({} ms) khi {}", url,
                                                    settings_.timeout.count(), step));
    return failure(kWebhookTransient, fmt::format("webhook {}: {} thất bại: {}", url, step, ec.message()));
  };

  http::request<http::string_body> req{http::verb::post, t.path, 11};
  req.set(http::field::host, t.port == (t.tls ? "443" : "80") ? t.host : t.host + ":" + t.port);
  req.set(http::field::user_agent, "hoso");
  req.set(http::field::content_type, "application/json");
  req.set("Idempotency-Key", n.id());
  req.set("X-Hoso-Notification", n.id());
  req.body() = boost::json::serialize(notification_json(n, at));
  req.set("X-Hoso-Signature", webhook_signature(settings_.secret, req.body()));
  req.keep_alive(false);
  req.prepare_payload();

  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  tcp::resolver::results_type endpoints;
  beast::error_code ec = run(ioc, [&](auto done) {
    resolver.async_resolve(t.host, t.port,
                           [&endpoints, done](beast::error_code e, tcp::resolver::results_type r) {
                             endpoints = std::move(r);
                             done(e);
                           });
  });
  if (ec) return io_failure("tìm địa chỉ máy", ec);
  stream.expires_after(settings_.timeout);
  ec = run(ioc, [&](auto done) { stream.async_connect(endpoints, done); });
  if (ec) return io_failure("kết nối", ec);

  // The request and its answer over `s`, plain or TLS; each step within the timeout. Interim answers (1xx
  // but 101: 100 Continue, 103 Early Hints; RFC 9110 15.2) may come first: the final one is read past them.
  std::optional<http::response_parser<http::string_body>> parser;
  auto exchange = [&](auto& s) -> Status {
    beast::get_lowest_layer(s).expires_after(settings_.timeout);
    beast::error_code e = run(ioc, [&](auto done) { http::async_write(s, req, done); });
    if (e) return io_failure("gửi yêu cầu", e);
    beast::flat_buffer buffer;
    for (int interim = 0;; ++interim) {
      if (interim == kMaxInterim)
        return failure(kWebhookTransient,
                       fmt::format("webhook {}: máy nhận gửi hơn {} trả lời tạm (1xx) mà chưa trả lời hẳn",
                                   url, kMaxInterim));
      parser.emplace();
      parser->body_limit(settings_.max_response_bytes);
      beast::get_lowest_layer(s).expires_after(settings_.timeout);
      e = run(ioc, [&](auto done) { http::async_read(s, buffer, *parser, done); });
      // A body longer than the limit is left unread: the status alone decides.
      if (e && !(e == http::error::body_limit && parser->is_header_done()))
        return io_failure("đọc trả lời", e);
      const unsigned status = parser->get().result_int();
      if (status < 100 || status >= 200 || status == 101) return Status::Ok();
    }
  };
  if (t.tls) {
    beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), *tls_);
    // The name the receiver serves (SNI), and the one its certificate must carry (DNS name or IP address).
    beast::error_code parsed;
    net::ip::make_address(t.host, parsed);
    if (parsed && !SSL_set_tlsext_host_name(secure.native_handle(), t.host.c_str()))
      return failure(kWebhookPermanent, fmt::format("webhook {}: không đặt được tên máy cho TLS", url));
    if (settings_.verify_peer) {
      secure.set_verify_mode(net::ssl::verify_peer);
      secure.set_verify_callback(net::ssl::host_name_verification(t.host));
    } else {
      secure.set_verify_mode(net::ssl::verify_none);
    }
    beast::get_lowest_layer(secure).expires_after(settings_.timeout);
    ec = run(ioc, [&](auto done) { secure.async_handshake(net::ssl::stream_base::client, done); });
    if (ec) return io_failure("bắt tay TLS (kiểm tra chứng chỉ của máy nhận)", ec);
    if (Status st = exchange(secure); !st) return st;
    beast::get_lowest_layer(secure).expires_after(settings_.timeout);
    run(ioc, [&](auto done) { secure.async_shutdown(done); });  // the answer is in: how it closes is moot
  } else {
    if (Status st = exchange(stream); !st) return st;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  const unsigned status = parser->get().result_int();
  if (status >= 200 && status < 300) return Status::Ok();
  const std::string_view phrase = http::obsolete_reason(static_cast<http::status>(status));
  const std::string shown_status = phrase.starts_with('<')  // "<unknown-status>"
                                       ? std::to_string(status)
                                       : fmt::format("{} {}", status, phrase);
  return failure(transient_status(status) ? kWebhookTransient : kWebhookPermanent,
                 fmt::format("webhook {}: máy nhận trả lời HTTP {}", url, shown_status));
}

}  // namespace hoso
