#include "adapters/http/server.hpp"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <limits>

#include "adapters/http/api.hpp"

namespace hoso::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Log = std::function<void(const std::string&)>;

class Session;
// A command read from a connection, waiting for the next group commit.
struct Queued {
  std::shared_ptr<Session> session;
  Request request;
  bool keep_alive = false;
};

// One connection: read a request (within the read timeout and the size limits), answer it through the API,
// and go on while the client keeps the connection alive. Reads are answered at once; commands go to the
// server's queue and are answered once the group commit that holds them is durable.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Api& api, const ServerSettings& settings, const Log& log,
          std::function<void(Queued)> submit, const bool& stopping)
      : stream_(std::move(socket)),
        api_(api),
        settings_(settings),
        log_(log),
        submit_(std::move(submit)),
        stopping_(stopping) {}

  // The answer to a command this session submitted.
  void answer(Response out, bool keep_alive) {
    if (!out.denied.empty()) log_(out.denied);
    respond(out.status, std::move(out.body), out.content_type, keep_alive);
  }

  void start() { read(settings_.read_timeout); }
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }
  // On shutdown: a connection waiting for a request is closed now; one answering finishes its answer first.
  void close_when_idle() {
    if (!answering_) close();
  }

 private:
  void read(std::chrono::milliseconds timeout) {
    parser_.emplace();
    parser_->body_limit(settings_.max_body);
    parser_->header_limit(static_cast<std::uint32_t>(settings_.max_header));
    stream_.expires_after(timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    if (ec == bhttp::error::body_limit) return reply_error(413, "body_too_large", "Nội dung yêu cầu quá lớn");
    if (ec == bhttp::error::header_limit) return reply_error(431, "header_too_large", "Phần đầu yêu cầu quá lớn");
    if (ec) return reply_error(400, "bad_request", "Yêu cầu HTTP không hợp lệ");
    answering_ = true;
    auto& req = parser_->get();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    if (auto it = req.find(bhttp::field::authorization); it != req.end()) r.authorization = std::string(it->value());
    r.body = std::move(req.body());
    if (r.method != "GET" && r.method != "HEAD") return submit_(Queued{shared_from_this(), std::move(r), req.keep_alive()});
    Response out = api_.handle(r);
    answer(std::move(out), req.keep_alive());
  }

  void reply_error(int status, const char* reason, const char* message) {
    answering_ = true;
    boost::json::object e{{"code", "invalid_input"}, {"message", message}, {"reason", reason}};
    respond(status, boost::json::serialize(boost::json::object{{"error", std::move(e)}}),
            "application/json; charset=utf-8", false);
  }

  void respond(int status, std::string body, const std::string& content_type, bool keep_alive) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(status), 11);
    res->set(bhttp::field::server, "hoso");
    res->set(bhttp::field::content_type, content_type);
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(settings_.read_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      self->answering_ = false;
      if (ec || !keep_alive || self->stopping_) return self->close();
      self->read(self->settings_.idle_timeout);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Api& api_;
  const ServerSettings& settings_;
  const Log& log_;
  std::function<void(Queued)> submit_;
  const bool& stopping_;
  bool answering_ = false;  // between a request read and its answer written
};

}  // namespace

struct Server::Impl {
  Impl(App& a, ServerSettings s) : app(a), settings(std::move(s)), api(a), acceptor(ioc), timer(ioc), signals(ioc) {}

  App& app;
  ServerSettings settings;
  Api api;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer timer;  // the next due durable timer
  asio::signal_set signals;
  Log log;
  bool stopping = false;
  std::vector<std::weak_ptr<Session>> sessions;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (stopping) return;
      if (!ec) {
        auto session = std::make_shared<Session>(std::move(socket), api, settings, log,
                                                 [this](Queued q) { submit(std::move(q)); }, stopping);
        std::erase_if(sessions, [](const std::weak_ptr<Session>& w) { return w.expired(); });
        sessions.push_back(session);
        session->start();
      }
      accept();
    });
  }

  // Group commit: commands read while the loop was busy (typically while the previous group was being made
  // durable) wait here and are run together in one transaction, one flush, when the loop next gets to it.
  static constexpr std::size_t kMaxGroup = 256;
  std::vector<Queued> queue;
  bool flush_posted = false;

  void submit(Queued q) {
    queue.push_back(std::move(q));
    if (flush_posted) return;
    flush_posted = true;
    asio::post(ioc, [this] { flush(); });
  }

  void flush() {
    flush_posted = false;
    std::vector<Queued> batch;
    if (queue.size() <= kMaxGroup) {
      batch.swap(queue);
    } else {
      batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.begin() + kMaxGroup));
      queue.erase(queue.begin(), queue.begin() + kMaxGroup);
      flush_posted = true;
      asio::post(ioc, [this] { flush(); });
    }
    std::vector<Response> out(batch.size());
    bool changed = false;
    Status committed = app.service->group([&] {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        out[i] = api.handle(batch[i].request);
        changed = changed || out[i].status < 300;
      }
      return Status::Ok();
    });
    if (!committed) {
      // Nothing of the group was kept: no command may be answered as done.
      log(fmt::format("group commit of {} commands failed: {}", batch.size(), committed.error().message));
      for (auto& r : out)
        if (r.status < 300) r = error_response(committed.error());
      changed = false;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].session->answer(std::move(out[i]), batch[i].keep_alive);
    if (changed) arm();
  }

  // Fires what is due, then arms the timer for the next due one (the table's first row).
  void arm() {
    if (stopping) return;
    auto due = app.store->due_timers("9999-12-31T23:59:59.999Z", 1);
    if (!due) {
      log(fmt::format("timers: {}", due.error().message));
      return;
    }
    timer.cancel();
    if (due->empty()) return;
    auto at = parse_utc(due->front().due_at);
    if (!at) return;
    const auto wait = std::chrono::milliseconds(std::max<std::int64_t>(0, at->millis - app.clock->now().millis));
    timer.expires_after(wait);
    timer.async_wait([this](beast::error_code ec) {
      if (ec || stopping) return;
      auto fired = app.service->fire_due(app.clock->now(), app.virtual_clock());
      if (!fired)
        log(fmt::format("timers: {}", fired.error().message));
      else if (fired->fired > 0)
        log(fmt::format("timers: fired {}", fired->fired));
      arm();
    });
  }

  // Stops accepting and arming timers; connections close once their answer is written, and the loop
  // returns when nothing is left to do (no command is cut short: each runs to its end on the loop).
  void shutdown() {
    stopping = true;
    beast::error_code ec;
    acceptor.close(ec);
    timer.cancel();
    signals.cancel();
    for (auto& w : sessions)
      if (auto s = w.lock()) s->close_when_idle();
    sessions.clear();
  }
};

Server::Server(App& app, ServerSettings settings) : impl_(std::make_unique<Impl>(app, std::move(settings))) {}
Server::~Server() = default;

Result<std::uint16_t> Server::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->settings.address, ec);
  if (ec) return make_error(ErrorCode::kInvalidInput, fmt::format("địa chỉ '{}' không hợp lệ", impl_->settings.address));
  tcp::endpoint ep(address, impl_->settings.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(ErrorCode::kInternal, fmt::format("không mở được cổng {}:{}: {}", impl_->settings.address,
                                                        impl_->settings.port, ec.message()));
  return a.local_endpoint().port();
}

Status Server::run(const std::function<void(const std::string&)>& log) {
  impl_->log = log;
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGTERM);
  impl_->signals.async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    impl_->log(fmt::format("signal {}: stopping", signal));
    impl_->shutdown();
  });
  impl_->accept();
  impl_->arm();  // timers that came due while the server was down fire at once, in due order
  impl_->ioc.run();
  return Status::Ok();
}

void Server::stop() {
  asio::post(impl_->ioc, [this] { impl_->shutdown(); });
}

}  // namespace hoso::http
