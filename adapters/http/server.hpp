// `hoso serve`: one Boost.Asio event loop drives the HTTP/1.1 connections (Beast parses the requests) and
// the durable timers (the next due one armed on an Asio timer). The App is used by one engine thread only: it
// runs the commands of a batch in one group commit, and the timer firings; a reader thread with an App of its
// own answers the reads (the engine does when there is none), each pass in one snapshot. Commits are
// flushed to disk by a thread of their own (one fdatasync for all the groups committed meanwhile) before
// anything is answered, so the engine runs the next group while the last goes to disk; a checkpoint thread
// copies the log into the database file. Notifications leave from a thread of their own (a slow receiver
// never holds up the API). SIGTERM/SIGINT stop accepting, answer every request already read (commands run to
// their end, one savepoint each in their group's transaction) and close.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/runtime/app.hpp"

namespace hoso::http {

struct ServerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (printed on start)
  std::size_t max_body = 1 << 20;
  std::size_t max_header = 16 * 1024;
  std::chrono::milliseconds read_timeout{10'000};  // a whole request, from its first byte
  std::chrono::milliseconds idle_timeout{30'000};  // between requests on a kept-alive connection
  // Open connections at most: one more is answered 503 (reason too_many_connections) and closed, so that
  // memory (each may hold a request of max_body bytes) and descriptors stay bounded.
  std::size_t max_connections = 4096;
};

class Server {
 public:
  // `reader`, when given (an App over the same database, used by the reader thread only), answers the reads
  // (GET, HEAD) on a thread and connection of its own; otherwise the engine answers them between its groups.
  Server(App& app, ServerSettings settings, App* reader = nullptr);
  ~Server();
  // Binds and listens; returns the port (the one chosen when settings.port is 0).
  Result<std::uint16_t> listen();
  // Runs the loop until stop() or SIGTERM/SIGINT (a second one of those ends the process at once);
  // `log` receives one line per notable thing (English).
  // `started` is called once the engine runs (e.g. to start what uses on_engine); `stopping` once the loop
  // has stopped (every answer written) and before the engine closes, so that what uses on_engine can finish
  // there (the notice dispatcher records what it sent).
  Status run(const std::function<void(const std::string&)>& log, const std::function<void()>& started = {},
             const std::function<void()>& stopping = {});
  // Runs `work` on the engine thread, between its batches, with the App it alone uses, and returns what it
  // returned; kInternal when the server is not running (not yet, or stopping). Thread-safe; blocks the caller.
  // Commits there are flushed with the next batch's (or by the caller's LogSync).
  Status on_engine(const std::function<Status(App&)>& work);
  // How many requests the loop has handed to the engine so far (commands, and reads when there is no
  // reader): work run with on_engine held up those that arrived while it ran. Thread-safe.
  std::uint64_t engine_requests() const;
  // Whether the server has begun to stop (SIGTERM, SIGINT or stop()): what runs beside it starts nothing new.
  // Thread-safe.
  bool stopping() const;
  // Asks the loop to stop (thread-safe).
  void stop();
  // Replaces what makes the engine's commits durable before anything is answered (by default one fdatasync
  // of the write-ahead log), e.g. by one that fails, in tests. Before run(). When it fails, the requests it
  // was for and every one after are answered 503 (reason log_not_durable), none is run any more (nor
  // on_engine's work, nor a timer firing), and run() returns that error once the server has stopped: after
  // a failed fdatasync the kernel may report the next one as done although what failed never reached disk.
  void set_flush(std::function<Status()> flush);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoso::http
