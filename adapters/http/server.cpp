#include "adapters/http/server.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "adapters/http/api.hpp"
#include "adapters/runtime/thread_priority.hpp"

namespace hoso::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Sockets bound to the loop's own executor type, not the type-erased any_io_executor: every operation on a
// connection would otherwise copy and destroy a polymorphic executor (5% of the loop's time under load).
using LoopExecutor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, LoopExecutor>;
using Acceptor = asio::basic_socket_acceptor<tcp, LoopExecutor>;
using Clock = std::chrono::steady_clock;

using Log = std::function<void(const std::string&)>;

class Session;

// Answers handed back together (a group's, after its flush) are all written before any of their connections
// reads again. Reading right after an answer is written finds nothing yet (the client has not even received
// it): a receive that fails, then a wait for the socket to be readable. Reading after the whole group's
// answers are out finds many of the next requests already there, taken at once.
struct HeldReads {
  bool holding = false;
  std::vector<std::shared_ptr<Session>> sessions;
};

// A request read from a connection, waiting for the engine thread.
struct Queued {
  std::shared_ptr<Session> session;
  Request request;
  bool keep_alive = false;
  bool command = false;  // writes run in a group commit; reads before it
};

// One connection: read a request (within the read timeout and the size limits), hand it to the engine
// thread, write its answer, and go on while the client keeps the connection alive. A command's answer comes
// back only once the group commit that holds it is durable.
//
// Deadlines: each phase (a request's head and body, the wait for the next request, an answer's write) sets
// `deadline_`, and the loop's sweep (Server::Impl::sweep) closes a connection found past it; what it waited
// for then completes with operation_aborted. One clock read per phase instead of an Asio timer armed and
// cancelled around every read and write (Beast's tcp_stream: three per request, ~7% of the loop's time).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, const ServerSettings& settings, const Log& log, std::function<void(Queued)> submit,
          const bool& stopping, HeldReads& held, std::shared_ptr<std::atomic<std::size_t>> open = {})
      : open_(std::move(open)),
        socket_(std::move(socket)),
        buffer_(settings.max_header + kMaxRead),
        settings_(settings),
        log_(log),
        submit_(std::move(submit)),
        stopping_(stopping),
        held_(held) {
    // Beast reads into whatever room the buffer has (at least 512 bytes) and its parser consumes as it goes,
    // so a buffer left to grow by itself stays at 512 bytes and a 1 KiB request takes three reads. With room
    // for a typical request (headers, a bearer token and a proposal's body) it takes one.
    buffer_.reserve(kReadRoom);
    if (open_) ++*open_;
  }
  ~Session() {
    if (open_) --*open_;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The answer to a request this session submitted.
  void answer(Response out, bool keep_alive) {
    if (!out.note.empty()) log_(out.note);
    if (!out.denied.empty()) log_(out.denied);
    finish(out);  // a command's answer is written here, on the loop, not on the engine
    respond(out.status, std::move(out.body), out.content_type, keep_alive, out.allow);
  }

  void start() {
    // Answers are written at once when the socket takes them (respond), which must never block the loop;
    // asynchronous operations are non-blocking whatever this says.
    beast::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return close();
    read(settings_.read_timeout);
  }
  // Answers `out` at once, without reading a request, and closes (lingering: the client still sending its
  // request reads the answer rather than a reset).
  void refuse(const Response& out) {
    beast::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return close();
    linger_ = true;
    answering_ = true;
    respond(out.status, out.body, out.content_type, false);
  }
  void close() {
    deadline_ = Clock::time_point::max();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  // Past the deadline of what it is doing (reading a request, waiting for one, writing an answer); never
  // while the engine has its request.
  bool overdue(Clock::time_point now) const { return now >= deadline_; }
  // Waits for the next request, once the answers written with this one's are all out (HeldReads).
  void read_next() {
    if (socket_.is_open()) read(settings_.idle_timeout);
  }
  // On shutdown: a connection waiting for a request is closed now; one answering finishes its answer first.
  void close_when_idle() {
    if (!answering_) close();
  }

 private:
  // Waits for the next request at most `wait` (the read timeout for a connection's first, the idle timeout
  // between kept-alive ones); from its first byte the request has the read timeout to arrive whole.
  void read(std::chrono::milliseconds wait) {
    parser_.emplace();
    parser_->body_limit(settings_.max_body);
    parser_->header_limit(static_cast<std::uint32_t>(settings_.max_header));
    if (buffer_.size() > 0) {  // the next request came with the last one
      deadline_ = Clock::now() + settings_.read_timeout;
      return parse_buffered();
    }
    deadline_ = Clock::now() + wait;
    socket_.async_read_some(
        buffer_.prepare(beast::read_size(buffer_, kMaxRead)),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return self->on_read(ec == asio::error::eof ? bhttp::error::end_of_stream : ec);
          self->buffer_.commit(n);
          self->deadline_ = Clock::now() + self->settings_.read_timeout;  // its first bytes
          self->parse_buffered();
        });
  }

  // A request usually arrives whole in one read: parsed here at once. Otherwise Beast's reads take over from
  // where the parser stopped (the rest of the head, the answer to Expect: 100-continue, the body), as they
  // would have from the start.
  void parse_buffered() {
    parser_->eager(true);
    beast::error_code parsed;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const std::size_t used = parser_->put(buffer_.data(), parsed);
      buffer_.consume(used);
      if (parsed == bhttp::error::need_more) break;
      if (parsed) return on_read(parsed);
      if (used == 0) break;
    }
    if (parser_->is_done()) return on_read({});
    bhttp::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // The head is in (and checked against the limits: a Content-Length over the body limit fails here). A client
  // that asked to be told before it sends its body (Expect: 100-continue, as curl does past 1 KiB) is told to
  // go on, else it waits a second before sending it anyway; the body is then read within the same deadline.
  void on_header(beast::error_code ec) {
    if (ec || parser_->is_done()) return on_read(ec);
    const auto expect = parser_->get()[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code wrote, std::size_t) {
                          if (wrote) return self->on_read(wrote);
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    // Closed meanwhile (its deadline passed, or shutdown, after the read had completed but before this ran):
    // the request is dropped unanswered, as a timed-out one is, rather than run with no one to tell.
    if (!socket_.is_open()) return;
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    if (ec == bhttp::error::body_limit) return reply_error(413, "body_too_large", "Nội dung yêu cầu quá lớn");
    if (ec == bhttp::error::header_limit) return reply_error(431, "header_too_large", "Phần đầu yêu cầu quá lớn");
    // Bytes the parser cannot take yet filled the buffer (its limit: a head and one read): a chunk-size line
    // or a trailer that does not end, which Beast's limits on the head and the body do not cover.
    if (ec == bhttp::error::buffer_overflow)
      return reply_error(413, "request_too_large",
                         "Yêu cầu quá lớn: dòng khai báo một phần nội dung hoặc phần đuôi vượt giới hạn");
    if (ec) return reply_error(400, "bad_request", "Yêu cầu HTTP không hợp lệ");
    answering_ = true;
    deadline_ = Clock::time_point::max();  // the engine answers; the write that follows has its own deadline
    auto& req = parser_->get();
    Queued q{shared_from_this(), Request{}, req.keep_alive(), false};
    q.request.method = std::string(req.method_string());
    q.request.target = std::string(req.target());
    if (auto it = req.find(bhttp::field::authorization); it != req.end())
      q.request.authorization = std::string(it->value());
    q.request.body = std::move(req.body());
    q.command = q.request.method != "GET" && q.request.method != "HEAD";
    // Parsed (and a create's or an action's mapped onto its input) here, on the loop, so that the engine only
    // runs the command.
    if (q.command && !q.request.body.empty()) q.request.parsed = parse_body(q.request.body, q.request.target);
    head_only_ = q.request.method == "HEAD";
    submit_(std::move(q));
  }

  void reply_error(int status, const char* reason, const char* message) {
    answering_ = true;
    head_only_ = false;
    linger_ = true;  // the request may not have been read whole
    boost::json::object e{{"code", "invalid_input"}, {"message", message}, {"reason", reason}};
    respond(status, boost::json::serialize(boost::json::object{{"error", std::move(e)}}),
            "application/json; charset=utf-8", false);
  }

  // Writes the answer: a status line and four headers formatted here, then the body (none to a HEAD).
  void respond(int status, std::string body, const std::string& content_type, bool keep_alive,
               const std::string& allow = "") {
    keep_alive = keep_alive && !stopping_;  // stopping: closed once this is out, and the client is told so
    body_ = std::move(body);
    head_.clear();
    const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    fmt::format_to(std::back_inserter(head_),
                   "HTTP/1.1 {} {}\r\nServer: hoso\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}", status,
                   std::string_view(reason.data(), reason.size()), content_type, body_.size(),
                   keep_alive ? "" : "Connection: close\r\n");
    if (!allow.empty()) fmt::format_to(std::back_inserter(head_), "Allow: {}\r\n", allow);
    // RFC 9110 11.6.1: a 401 names the scheme that would do (RFC 6750: Bearer).
    if (status == 401) head_ += "WWW-Authenticate: Bearer realm=\"hoso\"\r\n";
    head_ += "\r\n";
    if (head_only_) body_.clear();
    // At once, as far as the socket takes it (all of it, unless the client reads slower than it asks); the
    // rest when the socket has room again, within the read timeout.
    beast::error_code ec;
    const std::size_t sent =
        socket_.write_some(std::array<asio::const_buffer, 2>{asio::buffer(head_), asio::buffer(body_)}, ec);
    if (ec != asio::error::would_block && (ec || sent == head_.size() + body_.size()))
      return written(ec, keep_alive);
    if (!ec) {
      const std::size_t of_head = std::min(sent, head_.size());
      head_.erase(0, of_head);
      body_.erase(0, sent - of_head);
    }
    deadline_ = Clock::now() + settings_.read_timeout;
    asio::async_write(socket_, std::array<asio::const_buffer, 2>{asio::buffer(head_), asio::buffer(body_)},
                      [self = shared_from_this(), keep_alive](beast::error_code wrote, std::size_t) {
                        self->written(wrote, keep_alive);
                      });
  }

  // The answer is out (or could not be written): the next request, or the connection closed.
  void written(beast::error_code ec, bool keep_alive) {
    answering_ = false;
    if (!ec && linger_ && !stopping_) return linger();
    if (ec || !keep_alive || stopping_) return close();
    if (held_.holding) return held_.sessions.push_back(shared_from_this());
    read(settings_.idle_timeout);
  }

  // After an error answer the request may not have been read whole (a body over the limit, a malformed head):
  // closed then, with bytes of it unread, the connection would be reset by the kernel, and a client still
  // sending could lose the answer. So the sending side is shut (the client reads the answer, then its end),
  // what the client still sends is read and dropped until it closes, for at most kLinger (within the read
  // timeout), and then the connection is closed (as nginx's lingering close). On shutdown it is closed at
  // once (close_when_idle).
  void linger() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    deadline_ = Clock::now() + std::min(settings_.read_timeout, kLinger);
    drain();
  }
  void drain() {
    buffer_.clear();
    socket_.async_read_some(buffer_.prepare(kReadRoom),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec)
                                return self->close();  // the client's end, a reset, or closed at the deadline
                              self->drain();
                            });
  }

  static constexpr std::chrono::milliseconds kLinger{5000};
  static constexpr std::size_t kReadRoom = 4096;
  static constexpr std::size_t kMaxRead = 65536;  // at most per read (as Beast's own reads)
  std::shared_ptr<std::atomic<std::size_t>> open_;  // the server's count of connections served, or none
  Socket socket_;
  Clock::time_point deadline_ = Clock::time_point::max();
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const ServerSettings& settings_;
  const Log& log_;
  std::function<void(Queued)> submit_;
  const bool& stopping_;
  HeldReads& held_;
  bool answering_ = false;  // between a request read and its answer written
  bool head_only_ = false;  // the request being answered is a HEAD
  bool linger_ = false;     // the answer is an error that may leave the request unread: linger() after it
  std::string head_, body_;  // the answer being written
};

// A thread running an io_context until stop(); what was posted before stop() still runs. Its name (at most
// 15 bytes) shows in top -H and /proc/PID/task/TID/comm; the benchmark reads each thread's CPU by it. Each
// context (like the loop's) is run by one thread: concurrency hint 1 lets Asio skip the work of waking other
// threads, while posting to it from any thread stays safe.
struct Worker {
  explicit Worker(const char* thread_name) : name(thread_name) {}
  const char* name;
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
  std::thread thread;
  void start() {
    thread = std::thread([this] {
      pthread_setname_np(pthread_self(), name);
      ctx.run();
    });
  }
  void stop() {
    work.reset();
    if (thread.joinable()) thread.join();
  }
};

}  // namespace

struct Server::Impl {
  Impl(App& a, ServerSettings s, App* r)
      : app(a),
        settings(std::move(s)),
        api(a, true),
        reader_app(r),
        reader_api(r ? std::make_unique<Api>(*r) : nullptr),
        acceptor(ioc),
        timer(ioc),
        signals(ioc) {}

  App& app;
  ServerSettings settings;
  Api api;                // used on the engine thread only; its answers are rendered on the loop (finish)
  // The reader: a thread with a connection (and an App) of its own that answers the reads, so that a long one
  // (a list over every dossier) never holds up the commands or the timers. Without it the engine reads too.
  App* reader_app;
  std::unique_ptr<Api> reader_api;  // used on the reader thread only
  asio::io_context ioc{1};          // the loop: connections, the timer, signals
  Acceptor acceptor;
  asio::steady_timer timer;  // the next due durable timer
  asio::signal_set signals;
  Log log;
  bool stopping = false;
  std::atomic<bool> stop_begun{false};  // stopping, for other threads
  std::vector<std::weak_ptr<Session>> sessions;
  // Connections served now (not those refused at the limit): each session counts itself in and out.
  std::shared_ptr<std::atomic<std::size_t>> connections = std::make_shared<std::atomic<std::size_t>>(0);
  bool at_limit = false;  // the loop's alone
  HeldReads held_reads;  // the loop's

  // The engine: one thread that alone uses the App (its store connection, its caches). It runs what the
  // loop hands it in order, so commands, reads and timer firings never overlap; the loop meanwhile goes on
  // reading and writing connections, and a group's flush to disk overlaps the next group's arrival.
  Worker engine{"hoso-engine"};
  std::mutex engine_m;
  bool engine_open = false;  // on_engine may post: the engine thread runs and will run what is posted

  // What the engine hands back: the answers, in the batch's order, and, when commands changed something, how
  // long until the next durable timer is due (nullopt inside: none is).
  using Wait = std::optional<std::chrono::milliseconds>;
  struct Done {
    std::vector<Response> out;
    std::optional<Wait> next_due;
  };

  // The flush: the engine's commits are written to the log but not flushed one by one (deferred durability);
  // this thread makes everything committed so far durable with one fdatasync and only then lets the loop
  // answer, so the engine runs the next group while the last one goes to disk. Reads are answered after a
  // flush too: nobody sees what a power cut could still take back.
  using LoopWork = asio::executor_work_guard<asio::io_context::executor_type>;
  struct Synced {
    std::shared_ptr<std::vector<Queued>> batch;
    std::shared_ptr<Done> done;
    LoopWork work;  // the loop does not stop while answers are on their way
  };
  Worker syncer{"hoso-flush"};
  std::optional<LogSync> log_sync;
  std::function<Status()> flush;  // set_flush's, when given: used instead of log_sync
  // A flush failed: what it said (guarded by sync_m), and from then on nothing is run or answered as done.
  std::atomic<bool> durability_lost{false};
  std::optional<Error> flush_error;

  // The answer to every request once a flush has failed: whether a command of it (or of a later group)
  // reached the disk is not known, so none is reported done; the client finds out once the server is back.
  Error lost_durability() {
    std::lock_guard lock(sync_m);
    Error e = make_error(
        ErrorCode::kInternal,
        fmt::format(
            "Không ghi được nhật ký xuống đĩa ({}): không xác nhận được yêu cầu đã được lưu hay chưa; "
            "máy chủ dừng lại — hãy xem lại hồ sơ khi máy chủ chạy lại",
            flush_error ? flush_error->message : "?"));
    e.reason = "log_not_durable";
    return e;
  }
  std::mutex sync_m;
  std::vector<Synced> sync_pending;
  bool sync_posted = false;

  // Checkpoints, from a connection and a thread of their own, once the log has grown by kCheckpointFrames
  // pages since the last: copying the log into the database file never holds up a command.
  static constexpr std::int64_t kCheckpointFrames = 4000;
  // SQLite starts the log over (writes it again from its beginning) only when a commit begins with all of it
  // copied; under sustained writes no pass ever sees that (the engine appends while it copies), and the log
  // grew for as long as the load lasted (165 MiB in serve_bench's 40,000 dossiers). Once it is
  // kLogLimitFrames long (64 MiB of 4 KiB pages) and the last pass left at most kCatchUpFrames uncopied, the
  // engine copies those itself between two groups, so that its next commit starts the log over: a pause of
  // two flushes and a few hundred pages once per 64 MiB of log. At four times the limit it does so whatever
  // is left (the passes are not catching up).
  static constexpr std::int64_t kLogLimitFrames = 16384;
  static constexpr std::int64_t kCatchUpFrames = 1000;
  Worker checkpointer{"hoso-checkpoint"};
  std::unique_ptr<SqliteStore> checkpoint_store;
  std::atomic<bool> checkpoint_posted{false};
  // How much of the log the last pass had copied, and of which log: the engine counts the times the log
  // started over (its length fell between two commits), so that a pass over an earlier log tells nothing.
  std::atomic<std::int64_t> backfilled{0};
  std::atomic<std::uint64_t> backfilled_log{0};
  std::int64_t last_frames = 0;  // the engine's alone
  std::uint64_t log_number = 1;   // the engine's alone

  // After a failed accept (out of descriptors or memory: the connection stays queued, so accepting again at
  // once would fail at once, a spin of the loop for as long as it lasts) new connections wait, from 50 ms
  // doubling up to 1 s, while the open ones are served and close; logged once when it starts and once when it
  // is over.
  static constexpr std::chrono::milliseconds kFirstAcceptPause{50}, kLongestAcceptPause{1000};
  asio::steady_timer accept_pause{ioc};
  std::chrono::milliseconds accept_wait{0};

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, Socket socket) {
      if (stopping) return;
      if (ec) {
        if (accept_wait.count() == 0)
          log(fmt::format("accept: {}; new connections wait while it lasts ({} open)", ec.message(), open_sessions()));
        accept_wait = accept_wait.count() == 0 ? kFirstAcceptPause : std::min(accept_wait * 2, kLongestAcceptPause);
        accept_pause.expires_after(accept_wait);
        accept_pause.async_wait([this](beast::error_code waited) {
          if (!waited && !stopping) accept();
        });
        return;
      }
      if (accept_wait.count() != 0) {
        log("accept: accepting connections again");
        accept_wait = std::chrono::milliseconds(0);
      }
      auto submit_to = [this](Queued q) { submit(std::move(q)); };
      if (connections->load() >= settings.max_connections) {
        // At the limit: answered and closed at once, without a slot; logged when it begins, not for each.
        if (!at_limit)
          log(fmt::format("accept: {} connections open, the limit: new ones are answered 503 while it lasts",
                          connections->load()));
        at_limit = true;
        auto refused =
            std::make_shared<Session>(std::move(socket), settings, log, submit_to, stopping, held_reads);
        sessions.push_back(refused);
        refused->refuse(error_response(
            Error{ErrorCode::kInternal, "Máy chủ đang phục vụ quá nhiều kết nối; hãy thử lại sau giây lát",
                  "too_many_connections", ""}));
        return accept();
      }
      if (at_limit) log("accept: below the connection limit again");
      at_limit = false;
      auto session = std::make_shared<Session>(std::move(socket), settings, log, submit_to, stopping,
                                               held_reads, connections);
      sessions.push_back(session);
      session->start();
      accept();
    });
  }

  // Every so often (a tenth of the shorter timeout, between 5 ms and 1 s) the connections past their deadline
  // are closed (Session::overdue), so a timeout is kept to within that; the connections gone are forgotten.
  // After shutdown it looks every 5 ms (an answer still being written to a slow reader is cut off at its
  // deadline too) and ends with the last connection, so that the loop returns.
  asio::steady_timer sweeper{ioc};
  std::chrono::milliseconds sweep_interval() const {
    const auto shorter = std::min(settings.read_timeout, settings.idle_timeout);
    return std::clamp(shorter / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  }
  void sweep() {
    sweeper.expires_after(stopping ? std::chrono::milliseconds(5) : sweep_interval());
    sweeper.async_wait([this](beast::error_code ec) {
      if (ec) return;
      const auto now = Clock::now();
      std::erase_if(sessions, [&](const std::weak_ptr<Session>& w) {
        auto s = w.lock();
        if (s && s->overdue(now)) s->close();
        return !s;
      });
      if (!stopping || !sessions.empty()) sweep();
    });
  }

  std::size_t open_sessions() const {
    return static_cast<std::size_t>(
        std::count_if(sessions.begin(), sessions.end(), [](const std::weak_ptr<Session>& w) { return !w.expired(); }));
  }

  // Group commit: requests read while the engine is busy with the previous batch wait here and go to it
  // together; their commands run in one transaction, made durable by one flush. The engine takes the next
  // batch itself as soon as it is done with one (no round trip through the loop, which may be busy writing
  // answers); the loop only wakes it when it was idle.
  static constexpr std::size_t kMaxGroup = 256;
  std::mutex queue_m;
  std::vector<Queued> queue;  // guarded by queue_m
  bool engine_idle = true;    // guarded by queue_m: no batch is running or posted
  std::atomic<std::uint64_t> engine_requests{0};  // handed to the engine so far

  // Adds `q` to `waiting` (guarded by `m`); true when the thread that takes from it was idle (it is marked busy
  // now, and the caller posts its run).
  static bool enqueue(std::mutex& m, std::vector<Queued>& waiting, bool& idle, Queued q) {
    std::lock_guard lock(m);
    waiting.push_back(std::move(q));
    return std::exchange(idle, false);
  }

  // Answers the reads among `batch` with `reading` in one read transaction of `store`.
  static void answer_reads(SqliteStore& store, Api& reading, const std::vector<Queued>& batch, Done& done) {
    std::size_t answered = 0;
    Status read = store.snapshot([&] {
      for (; answered < batch.size(); ++answered)
        if (!batch[answered].command) done.out[answered] = reading.handle(batch[answered].request);
      return Status::Ok();
    });
    for (std::size_t i = answered; i < batch.size(); ++i)
      if (!read && !batch[i].command) done.out[i] = error_response(read.error());
  }

  void submit(Queued q) {
    if (reader_app && !q.command) {
      if (enqueue(read_m, read_queue, reader_idle, std::move(q)))
        asio::post(reader.ctx, [this, work = asio::make_work_guard(ioc)]() mutable { run_reads(std::move(work)); });
      return;
    }
    // The loop does not stop while the engine (or the reader) has requests of its connections to answer.
    engine_requests.fetch_add(1, std::memory_order_relaxed);
    if (enqueue(queue_m, queue, engine_idle, std::move(q)))
      asio::post(engine.ctx, [this, work = asio::make_work_guard(ioc)]() mutable { run_next(std::move(work)); });
  }

  // On the engine: one batch of what is queued (at most kMaxGroup), then, if more is waiting, the next one
  // after whatever else was posted to the engine meanwhile (timer firings, the dispatcher's records).
  void run_next(LoopWork work) {
    std::vector<Queued> batch;
    {
      std::lock_guard lock(queue_m);
      if (queue.size() <= kMaxGroup) {
        batch.swap(queue);
      } else {
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.begin() + kMaxGroup));
        queue.erase(queue.begin(), queue.begin() + kMaxGroup);
      }
      if (batch.empty()) {
        engine_idle = true;
        return;
      }
    }
    auto shared = std::make_shared<std::vector<Queued>>(std::move(batch));
    auto done = std::make_shared<Done>();
    if (durability_lost) {
      // Nothing more is written: its answer could not be trusted (the server is stopping).
      done->out.assign(shared->size(), error_response(lost_durability()));
    } else {
      *done = run_batch(*shared);
    }
    after_commit(Synced{std::move(shared), std::move(done), asio::make_work_guard(ioc)});
    asio::post(engine.ctx, [this, work = std::move(work)]() mutable { run_next(std::move(work)); });
  }

  // The reads wait here while the reader is busy, and it takes them all at once: one read transaction, one
  // snapshot for all of them. Their answers then wait for the next flush, like a group's: a read may see a
  // group committed but not yet on disk, and nobody is shown what a power cut could still take back.
  Worker reader{"hoso-reader"};
  std::mutex read_m;
  std::vector<Queued> read_queue;  // guarded by read_m
  bool reader_idle = true;         // guarded by read_m
  std::size_t reads = 0, read_passes = 0;  // the reader's alone

  // On the reader: every read queued, in one snapshot; then the next pass if more came meanwhile.
  void run_reads(LoopWork work) {
    auto batch = std::make_shared<std::vector<Queued>>();
    {
      std::lock_guard lock(read_m);
      batch->swap(read_queue);
      if (batch->empty()) {
        reader_idle = true;
        return;
      }
    }
    ++read_passes;
    reads += batch->size();
    auto done = std::make_shared<Done>();
    done->out.resize(batch->size());
    answer_reads(*reader_app->store, *reader_api, *batch, *done);
    to_flush(Synced{std::move(batch), std::move(done), asio::make_work_guard(ioc)});
    asio::post(reader.ctx, [this, work = std::move(work)]() mutable { run_reads(std::move(work)); });
  }

  // Hands answers to the flush thread: they are written once everything committed so far is on disk.
  void to_flush(Synced s) {
    bool post = false;
    {
      std::lock_guard lock(sync_m);
      sync_pending.push_back(std::move(s));
      post = !std::exchange(sync_posted, true);
    }
    if (post) asio::post(syncer.ctx, [this] { flush_log(); });
  }

  // On the engine, after a group or a timer firing: hands its answers to the flush, and asks for a checkpoint
  // when the log has grown enough (or makes the last one itself, when the log is too long).
  void after_commit(Synced s) {
    const std::int64_t frames = app.store->log_frames();
    if (frames < last_frames) ++log_number;
    last_frames = frames;
    // No pass is running (read first: a pass writes what it copied before it says it is done).
    const bool idle = !checkpoint_posted;
    const std::int64_t copied = backfilled;
    const bool little_left =
        idle && backfilled_log == log_number && frames >= copied && frames - copied <= kCatchUpFrames;
    if (frames >= kLogLimitFrames && idle && (little_left || frames >= 4 * kLogLimitFrames)) {
      if (auto r = app.store->checkpoint(); !r) log(fmt::format("checkpoint: {}", r.error().message));
    } else if (frames >= kCheckpointFrames && !checkpoint_posted.exchange(true)) {
      asio::post(checkpointer.ctx, [this, of_log = log_number] {
        auto r = checkpoint_store->checkpoint();
        if (!r) log(fmt::format("checkpoint: {}", r.error().message));
        backfilled = r ? r->second : 0;
        backfilled_log = of_log;
        checkpoint_posted = false;
      });
    }
    to_flush(std::move(s));
  }

  // On the flush thread: one fdatasync for everything handed over since the last, then the answers go to the
  // loop in the order the engine produced them. When the flush fails nothing of it is reported done.
  void flush_log() {
    std::vector<Synced> jobs;
    {
      std::lock_guard lock(sync_m);
      jobs.swap(sync_pending);
      sync_posted = false;
    }
    // Once a flush has failed, none is tried again: the kernel may have dropped the pages it could not write
    // and report success for the next flush, whose commands would then be answered as done while the log
    // they continue is not on the disk. Everything after is answered as failed, and the server stops.
    Status synced = durability_lost ? Status(lost_durability()) : flush ? flush() : log_sync->sync();
    ++flushes;
    if (!synced && !durability_lost.exchange(true)) {
      {
        std::lock_guard lock(sync_m);
        flush_error = synced.error();
      }
      log(fmt::format("flush of the log failed: {}; nothing more is answered as done: stopping "
                      "(a restart recovers what reached the disk)",
                      synced.error().message));
      asio::post(ioc, [this] { shutdown(); });
    }
    for (auto& job : jobs) {
      if (!synced)
        for (auto& r : job.done->out) r = error_response(lost_durability());
      asio::post(ioc, [this, job = std::move(job)] {
        held_reads.holding = true;
        for (std::size_t i = 0; i < job.batch->size(); ++i)
          (*job.batch)[i].session->answer(std::move(job.done->out[i]), (*job.batch)[i].keep_alive);
        held_reads.holding = false;
        for (auto& s : std::exchange(held_reads.sessions, {})) s->read_next();
        if (job.done->next_due) arm(*job.done->next_due);
      });
    }
  }

  // On the engine: the reads first (outside the group's transaction: they see only what is durable), then the
  // commands in one group commit.
  // Counted for the log line at the end: batches the engine ran, the requests in them, flushes of the log.
  std::size_t batches = 0, requests = 0;
  std::atomic<std::size_t> flushes{0};

  Done run_batch(const std::vector<Queued>& batch) {
    ++batches;
    requests += batch.size();
    Done done;
    done.out.resize(batch.size());
    const bool commands = std::any_of(batch.begin(), batch.end(), [](const Queued& q) { return q.command; });
    bool changed = false;
    if (!std::all_of(batch.begin(), batch.end(), [](const Queued& q) { return q.command; })) {
      // The reads in one read transaction: each would otherwise begin and end its own, and its token's lookup
      // another (a third of a dossier's read). They all see what the last group committed.
      answer_reads(*app.store, api, batch, done);
    }
    if (!commands) return done;
    Status committed = app.service->group([&] {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i].command) continue;
        done.out[i] = api.handle(batch[i].request);
        changed = changed || done.out[i].status < 300;
      }
      return Status::Ok();
    });
    if (!committed) {
      // Nothing of the group was kept: no command may be answered as done.
      log(fmt::format("group commit failed: {}", committed.error().message));
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].command && done.out[i].status < 300) {
          Response undone = error_response(committed.error());
          undone.note = std::move(done.out[i].note);  // the config it read stays read
          done.out[i] = std::move(undone);
        }
      changed = false;
    }
    if (changed) done.next_due = next_due();
    return done;
  }

  // Timers the last firing left due (their dossier could not be read or failed its head check), or a firing
  // that failed whole (the store could not write): tried again at retry_at, after a wait that doubles from a
  // second to a minute while the trouble lasts, instead of at once (that would spin the engine and the log as
  // long as the trouble lasts). Timers due meanwhile still fire on time. The engine's alone.
  using TimerKey = std::tuple<std::string, DossierId, std::string>;
  static constexpr std::chrono::milliseconds kFirstRetry{1000}, kLastRetry{60000};
  std::set<TimerKey> unfired;
  bool firing_failed = false;
  std::optional<std::chrono::steady_clock::time_point> retry_at;
  std::chrono::milliseconds next_retry = kFirstRetry;

  void after_firing(bool trouble) {
    if (!trouble) {
      retry_at.reset();
      next_retry = kFirstRetry;
      return;
    }
    retry_at = std::chrono::steady_clock::now() + next_retry;
    next_retry = std::min(next_retry * 2, kLastRetry);
  }

  // On the engine: how long until the first durable timer is due (zero when it is already due) or the retry
  // of those left due, or nullopt. The engine reads the clock: a simulation database's clock is in the store.
  Wait next_due() {
    Wait wait;
    if (retry_at)
      wait = std::chrono::ceil<std::chrono::milliseconds>(
          std::max(*retry_at - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()));
    if (firing_failed) return wait;  // nothing can fire before the store writes again
    auto due = app.store->due_timers("9999-12-31T23:59:59.999Z", static_cast<int>(unfired.size()) + 1);
    if (!due) {
      log(fmt::format("timers: {}", due.error().message));
      return wait;
    }
    const auto next = std::find_if(due->begin(), due->end(), [&](const TimerRecord& t) {
      return !unfired.contains(TimerKey{t.due_at, t.dossier, t.name});
    });
    if (next == due->end()) return wait;
    auto at = parse_utc(next->due_at);
    if (!at) return wait;
    const std::chrono::milliseconds until(std::max<std::int64_t>(0, at->millis - app.clock->now().millis));
    return wait ? std::min(*wait, until) : until;
  }

  // On the engine: fires what is due; then the loop arms the timer for the next.
  void fire() {
    asio::post(engine.ctx, [this, work = asio::make_work_guard(ioc)]() mutable {
      if (durability_lost) return;  // nothing more is written (see set_flush); the server is stopping
      // Deadlines as the calendar and workflows `hoso init` stored last have them.
      Status config = refresh_config();
      auto fired = config ? app.service->fire_due(app.clock->now(), app.virtual_clock())
                          : Result<FireReport>(config.error());
      firing_failed = !fired;
      if (!fired) {
        log(fmt::format("timers: {} (trying again in {} ms)", fired.error().message, next_retry.count()));
        after_firing(true);
      } else {
        if (fired->fired > 0) log(fmt::format("timers: fired {}", fired->fired));
        unfired.clear();
        for (const auto& [t, why] : fired->failed) {
          unfired.insert(TimerKey{t.due_at, t.dossier, t.name});
          log(fmt::format("timers: dossier {} timer {} due {} left unfired (trying again in {} ms): {}", t.dossier,
                          t.name, t.due_at, next_retry.count(), why.message));
        }
        after_firing(!fired->failed.empty());
      }
      auto done = std::make_shared<Done>();
      done->next_due = next_due();
      after_commit(Synced{std::make_shared<std::vector<Queued>>(), std::move(done), std::move(work)});
    });
  }

  // On the engine, before work that no request started (timers, the dispatcher's records): the config
  // `hoso init` stored last, read again when it moved (App::refresh; a request's does it as it
  // authenticates).
  Status refresh_config() {
    auto refreshed = app.refresh();
    if (!refreshed) return refreshed.error();
    if (*refreshed) log(app.config_read_line());
    return Status::Ok();
  }

  // On the loop: the Asio timer waits for the next due durable timer (at once if it is already due), and at
  // most kLongestWait: timers another process adds (`hoso reports open`, the CLI on the same database) are
  // found within it, and a wait years long never reaches the clock's range.
  static constexpr std::chrono::milliseconds kLongestWait{10000};
  void arm(Wait wait) {
    if (stopping) return;
    timer.cancel();
    timer.expires_after(wait ? std::min(*wait, kLongestWait) : kLongestWait);
    timer.async_wait([this](beast::error_code ec) {
      if (ec || stopping) return;
      fire();
    });
  }

  // Stops accepting and arming timers; connections close once their answer is written, requests already
  // read are still answered, and the loop returns when nothing is left to do (no command is cut short: each
  // runs to its end on the engine).
  void shutdown() {
    stopping = true;
    stop_begun = true;
    beast::error_code ec;
    acceptor.close(ec);
    accept_pause.cancel();
    timer.cancel();
    signals.cancel();
    for (auto& w : sessions)
      if (auto s = w.lock()) s->close_when_idle();
    sweep();  // from now on every 5 ms, until the last connection is gone
  }
};

Server::Server(App& app, ServerSettings settings, App* reader)
    : impl_(std::make_unique<Impl>(app, std::move(settings), reader)) {}
Server::~Server() {
  for (Worker* w : {&impl_->engine, &impl_->reader, &impl_->syncer, &impl_->checkpointer}) w->stop();
}

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

Status Server::on_engine(const std::function<Status(App&)>& work) {
  std::promise<Status> done;
  auto result = done.get_future();
  {
    std::lock_guard lock(impl_->engine_m);
    if (!impl_->engine_open) return make_error(ErrorCode::kInternal, "máy chủ không chạy (chưa chạy hoặc đang dừng)");
    asio::post(impl_->engine.ctx, [&] {
      try {
        // After a failed flush nothing more is written (see set_flush).
        if (impl_->durability_lost) return done.set_value(impl_->lost_durability());
        Status config = impl_->refresh_config();
        done.set_value(config ? work(impl_->app) : config);
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
  }
  return result.get();
}

bool Server::stopping() const { return impl_->stop_begun.load(); }

std::uint64_t Server::engine_requests() const {
  return impl_->engine_requests.load(std::memory_order_relaxed);
}

Status Server::run(const std::function<void(const std::string&)>& log, const std::function<void()>& started,
                   const std::function<void()>& stopping) {
  impl_->log = log;
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGTERM);
  impl_->signals.async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    impl_->log(fmt::format("signal {}: stopping (a second SIGTERM or SIGINT stops at once)", signal));
    // From now on both have their default effect: a second one ends the process at once, whatever it waits
    // for (a receiver that does not answer, a slow client). The files are then as after a kill -9: every
    // command answered as done is kept, nothing is half-written, and a restart goes on from there.
    beast::error_code ignored;
    impl_->signals.clear(ignored);
    impl_->shutdown();
  });
  auto& m = *impl_;
  // Group commit with the flush off the engine: deferred durability on the engine's connection, a LogSync
  // for the flush thread, a connection of its own for the checkpoints.
  auto checkpoints = SqliteStore::open(m.app.store->path(), OpenMode::kExisting);
  if (!checkpoints) return checkpoints.error();
  m.checkpoint_store = std::move(*checkpoints);
  if (Status deferred = m.app.store->defer_durability(); !deferred) return deferred;
  m.log_sync.emplace(m.app.store->path());
  // Opens the log for the flushes now, before any connection is accepted: later the process may be out of
  // descriptors (many connections), and every answer waits for a flush.
  if (Status opened = m.log_sync->sync(); !opened) return opened;
  for (Worker* w : {&m.engine, &m.reader, &m.syncer, &m.checkpointer}) w->start();
  asio::post(m.checkpointer.ctx, [&m] { m.log(lower_thread_priority("checkpoint", kCheckpointNice)); });
  {
    std::lock_guard lock(m.engine_m);
    m.engine_open = true;
  }
  if (started) started();
  m.accept();
  m.sweep();
  m.fire();  // timers that came due while the server was down fire at once, in due order
  m.ioc.run();
  // Every answer is out, so every command is durable. What uses on_engine finishes while it still may; then
  // the checkpoint in progress (if any) finishes, and what on_engine posted before this runs to its end.
  if (stopping) stopping();
  {
    std::lock_guard lock(m.engine_m);
    m.engine_open = false;
  }
  // In this order: the engine and the reader feed the flush, which feeds the loop.
  for (Worker* w : {&m.engine, &m.reader, &m.syncer, &m.checkpointer}) w->stop();
  m.log(fmt::format("{} requests in {} batches, {} reads in {} passes of the reader, {} flushes of the log",
                    m.requests, m.batches, m.reads, m.read_passes, m.flushes.load()));
  if (m.durability_lost) return m.lost_durability();
  return m.log_sync->sync();
}

void Server::set_flush(std::function<Status()> flush) { impl_->flush = std::move(flush); }

void Server::stop() {
  asio::post(impl_->ioc, [this] { impl_->shutdown(); });
}

}  // namespace hoso::http
