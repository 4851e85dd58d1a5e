// A real HTTP server for tests of the webhook adapter: listens on 127.0.0.1 (only) on a thread of its own,
// checks each request's X-Hoso-Signature against its secret, records the requests it accepts and answers as
// the test tells it: 200, another status, or never (to test timeouts). It can be stopped and started again
// on the same port, and it stops by itself when destroyed. With TLS it speaks https, with a self-signed
// certificate made when it is constructed (certificate_pem(): what a client must trust).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace hoso::testing {

// A request whose signature was valid, as it arrived.
struct ReceivedRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names in lower case
  unsigned answered = 0;                       // the status it was answered with; 0 when stalled
  // Returns the value of header `name` (any case); empty when absent.
  std::string header(std::string_view name) const;
};

// What the receiver answers a request with, decided without a socket.
struct ReceiverAnswer {
  unsigned status = 200;  // 0: never answer (stall)
  std::string body;
  std::vector<unsigned> interim;  // 1xx answers (e.g. 100 Continue, 103 Early Hints) written before it
};

class HttpReceiver {
 public:
  // Listens on 127.0.0.1:`port` (0: a free port, see port()); throws when it cannot.
  enum class Scheme { kHttp, kHttps };
  explicit HttpReceiver(std::string secret, std::uint16_t port = 0, Scheme scheme = Scheme::kHttp);
  ~HttpReceiver();  // stop()
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  // Returns "http://127.0.0.1:<port><path>" (https:// with TLS).
  std::string url(std::string_view path = "/hoso") const;
  // The certificate it presents, as PEM (empty without TLS).
  const std::string& certificate_pem() const { return certificate_pem_; }

  // Closes the listener and every connection (a stalled one too) and joins the thread: connects are refused.
  void stop();
  // Listens again on the same port; does nothing while running.
  void start();

  // From now on answers each validly signed request with `status` and `body` (at first: 200, "ok").
  void answer(unsigned status, std::string body = "ok");
  // From now on writes these 1xx interim answers before each final one (none at first).
  void interim(std::vector<unsigned> statuses);
  // From now on reads each validly signed request (and records it) and never answers, until stop().
  void stall();

  // Every request with a valid signature, in arrival order.
  std::vector<ReceivedRequest> requests() const;
  // How many requests with a valid signature carried this Idempotency-Key.
  std::size_t count(const std::string& idempotency_key) const;
  // How many requests were answered 401 for a missing or wrong signature.
  std::size_t refused() const;

  // The request → answer logic (records the request); the sessions only read and write.
  ReceiverAnswer handle(ReceivedRequest request);

 private:
  const std::string secret_;
  std::uint16_t port_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // with TLS
  std::string certificate_pem_;
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::thread thread_;

  mutable std::mutex mu_;  // guards what follows: the sessions run on thread_
  ReceiverAnswer next_{200, "ok", {}};
  std::vector<ReceivedRequest> requests_;
  std::map<std::string, std::size_t> counts_;
  std::size_t refused_ = 0;
};

}  // namespace hoso::testing
