// Runs a program (no shell) and captures its exit code, stdout and stderr. For end-to-end tests.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

namespace hoso::testing {

struct RunResult {
  int code = -1;
  std::string out, err;
};

// Starts `argv[0]` with `argv`; does not wait. Returns the pid, with the child's stdout and stderr on pipes.
struct Child {
  pid_t pid = -1;
  int out_fd = -1, err_fd = -1;
};

// `env` entries ("NAME=value") are added to the child's environment. With `file_size_limit`, no file the child
// writes can grow past that many bytes (RLIMIT_FSIZE, with SIGXFSZ ignored: such a write fails with EFBIG), as
// on a full disk. With `open_files_limit`, the child can hold no more descriptors than that (RLIMIT_NOFILE,
// soft and hard: it cannot raise it).
inline Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                   std::optional<rlim_t> file_size_limit = std::nullopt,
                   std::optional<rlim_t> open_files_limit = std::nullopt) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    if (file_size_limit) {
      signal(SIGXFSZ, SIG_IGN);  // an ignored signal stays ignored across execv
      rlimit limit{};
      getrlimit(RLIMIT_FSIZE, &limit);
      limit.rlim_cur = *file_size_limit;
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(126);
    }
    if (open_files_limit) {
      const rlimit limit{*open_files_limit, *open_files_limit};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  return Child{pid, out[0], err[0]};
}

// Reads both pipes to the end and waits for the child.
inline RunResult finish(Child c) {
  RunResult r;
  pollfd fds[2] = {{c.out_fd, POLLIN, 0}, {c.err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  waitpid(c.pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline RunResult run(const std::vector<std::string>& argv) { return finish(spawn(argv)); }

}  // namespace hoso::testing
