// The webhook notification adapter: POSTs each notification as JSON (the file adapter's shape) to one
// http:// or https:// URL, signed with HMAC-SHA256 over the exact body bytes, and reports it delivered on a
// 2xx answer. Over https the receiver's certificate is checked against the system's trust anchors (or a CA
// file) and must name the URL's host.
// Connecting, writing and reading each give up after the timeout, so a silent or dead receiver never hangs
// the caller; a failure says in Error::reason whether trying again later can help.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "engine/result.hpp"
#include "engine/service.hpp"
#include "engine/time.hpp"

namespace boost::asio::ssl {
class context;
}

namespace hoso {

// Error::reason of a failure that may pass by itself (no connection, a timeout, 5xx, 408, 429): retry later.
inline constexpr std::string_view kWebhookTransient = "webhook_transient";
// Error::reason of a failure that repeating will not fix (another non-2xx answer, a bad URL or setting).
inline constexpr std::string_view kWebhookPermanent = "webhook_permanent";

struct WebhookSettings {
  std::string url;     // http://host[:port][/path] or https://host[:port][/path]
  std::string secret;  // the HMAC key; required, and never written into a message
  bool verify_peer = true;  // https: check the certificate and that it names the host (off: testing only)
  std::string ca_file;      // https: PEM trust anchors; empty: the system's
  std::chrono::milliseconds timeout{10000};    // for each of connect, write and read
  std::size_t max_response_bytes = 64 * 1024;  // of the response body; the rest is not read
};

// Returns the X-Hoso-Signature value of `body`: "sha256=" + lowercase hex HMAC-SHA256 keyed with `secret`
// (empty if OpenSSL fails, which no receiver accepts).
std::string webhook_signature(std::string_view secret, std::string_view body);

class WebhookNotifier {
 public:
  explicit WebhookNotifier(WebhookSettings settings);
  // POSTs `n` (delivered at `at`) with Idempotency-Key n.id(), so a receiver can drop a repeat (delivery is
  // at least once); Ok on a 2xx answer. Otherwise kInternal naming the URL (and the HTTP status), with
  // reason kWebhookTransient or kWebhookPermanent. Name resolution is bounded by the system resolver's own
  // timeouts, not by `timeout` (an IP address needs none).
  Status deliver(const Notification& n, Timestamp at);
  // Whether the settings can work at all (the URL's form, the secret, the timeout, the trust anchors of an
  // https URL): checked when the server starts, so that a mistake stops it instead of dead-lettering every
  // notice at its first attempt.
  Status ready() const { return target_ ? Status::Ok() : Status(target_.error()); }

 private:
  struct Target {
    std::string host, port, path;
    bool tls = false;
  };
  static Result<Target> check(const WebhookSettings& s);
  // The TLS settings of an https target, made once: the trust anchors are loaded here, not per notice.
  Status prepare_tls();

  WebhookSettings settings_;
  Result<Target> target_;  // the URL and settings checked once; a bad one is refused by every deliver
  std::shared_ptr<boost::asio::ssl::context> tls_;  // https only
};

}  // namespace hoso
