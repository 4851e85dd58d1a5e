// CPU priority of the server's background threads.
//
// Copying the write-ahead log into the database file (the checkpoint thread) and delivering notices (the
// notice thread) are background work: on a busy machine a clerk's request should not wait for a core while
// they run. They run a few nice levels below the loop and the engine (Linux keeps a nice value per thread),
// as RocksDB lowers its compaction threads: when cores are free they still get all they want, when cores are
// contended the loop and the engine go first. Neither can be starved into harm: a checkpoint that falls
// behind is made by the engine itself once the log is long (Server), and the dispatcher's records are
// commands on the engine like any other.
#pragma once
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace hoso {

// Nice levels below the process's priority for each background thread.
inline constexpr int kCheckpointNice = 5;
inline constexpr int kNoticeNice = 10;

// Lowers the calling thread's CPU priority by `levels` nice levels (at most to 19, the lowest). Returns a
// line for the log saying what it did, or why it could not (the thread then keeps the process's priority).
inline std::string lower_thread_priority(const char* thread, int levels) {
  const auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, tid);  // -1 is a valid value: errno tells a failure
  if (now == -1 && errno != 0)
    return fmt::format("{} thread: CPU priority unknown ({}); left as it is", thread, std::strerror(errno));
  const int lowered = std::min(now + levels, 19);
  if (::setpriority(PRIO_PROCESS, tid, lowered) != 0)
    return fmt::format("{} thread: CPU priority not lowered ({}); left at nice {}", thread,
                       std::strerror(errno), now);
  return fmt::format("{} thread: background work, CPU priority lowered to nice {}", thread, lowered);
}

}  // namespace hoso
