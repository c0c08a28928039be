#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace shoal::test {

/// A child process started with fork/exec whose stdout (and, merged into
/// it, stderr unless `keep_stderr`) is read through a pipe. The destructor
/// kills it with SIGKILL and reaps it, so a failed test never leaks one.
class child_process {
public:
  child_process(const std::string& program, const std::vector<std::string>& args,
                bool keep_stderr = false);
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const {
    return pid_;
  }

  /// Reads the next line of output, waiting at most until `deadline`.
  /// Returns nullopt on timeout or end of output.
  std::optional<std::string>
  read_line(std::chrono::steady_clock::time_point deadline);

  /// Reads lines until `pred` accepts one or the deadline passes.
  std::optional<std::string>
  wait_for_line(const std::function<bool(const std::string&)>& pred,
                std::chrono::steady_clock::duration timeout);

  /// Everything left in the pipe after the process ended.
  std::vector<std::string> drain_lines();

  /// Sends `sig`.
  void signal(int sig);

  /// Waits for the process to exit (at most `timeout`) and returns its wait
  /// status, or nullopt on timeout.
  std::optional<int> wait(std::chrono::steady_clock::duration timeout);

private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

/// The ports a shoald process wrote to its `--ports-file`.
struct shoald_ports {
  uint16_t http = 0;
  uint16_t cluster = 0;
};

/// Polls `file` until shoald wrote it (or `timeout` passed).
std::optional<shoald_ports> wait_for_ports(const std::string& file,
                                           std::chrono::steady_clock::duration timeout);

/// A crash test's load phase: starts `program args` (which writes its
/// ports to `ports_file`), runs `threads` copies of `worker(http_port,
/// thread, stop)` (each loops until `stop` or until the process is gone),
/// SIGKILLs the process as soon as `progress()` reaches `min_progress` (or
/// after `deadline`), then stops and joins the workers. Returns false if
/// the process did not start.
/// A shoald process and the ports it serves on.
struct running_shoald {
  std::unique_ptr<child_process> proc;
  shoald_ports ports;
};

/// Starts `program` with `args` (which name `ports_file` as its
/// `--ports-file`; a stale one from an earlier run is removed first) and
/// waits until it wrote its ports; nullopt if it did not in `timeout`.
std::optional<running_shoald>
start_shoald(const std::string& program, const std::vector<std::string>& args,
             const std::string& ports_file,
             std::chrono::steady_clock::duration timeout = std::chrono::seconds{20});

/// A loopback TCP port that was free a moment ago, for a process that
/// must be told its port before it starts (a cluster member's address, a
/// Redis server). Taken below the kernel's ephemeral range, so no port-0
/// bind or outgoing connection elsewhere can be handed it meanwhile.
uint16_t free_port();

bool kill_under_load(
  const std::string& program, const std::vector<std::string>& args,
  const std::string& ports_file, int threads,
  const std::function<void(uint16_t port, int thread,
                           const std::atomic<bool>& stop)>& worker,
  const std::function<size_t()>& progress, size_t min_progress,
  std::chrono::steady_clock::duration deadline = std::chrono::seconds{10});

} // namespace shoal::test
