#include "tests/support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

namespace shoal::test {

namespace {

// The low end of the kernel's ephemeral port range (32768 if unreadable).
uint16_t ephemeral_low() {
  std::ifstream in{"/proc/sys/net/ipv4/ip_local_port_range"};
  unsigned low = 0;
  if (in >> low && low > 2048 && low <= 65535) {
    return static_cast<uint16_t>(low);
  }
  return 32768;
}

bool bindable(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

} // namespace

uint16_t free_port() {
  static std::mt19937 gen{std::random_device{}()};
  std::uniform_int_distribution<unsigned> pick{1024, ephemeral_low() - 1u};
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<uint16_t>(pick(gen));
    if (bindable(port)) {
      return port;
    }
  }
  throw std::runtime_error("no free port below the ephemeral range");
}

child_process::child_process(const std::string& program,
                             const std::vector<std::string>& args,
                             bool keep_stderr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_store{program};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    if (!keep_stderr) {
      ::dup2(fds[1], STDERR_FILENO);
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
}

child_process::~child_process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) {
    ::close(out_fd_);
  }
}

std::optional<std::string>
child_process::read_line(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return std::nullopt;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline
                                                                    - now)
                .count();
    pollfd p{out_fd_, POLLIN, 0};
    auto n = ::poll(&p, 1, static_cast<int>(ms) + 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      continue;
    }
    char buf[4096];
    auto got = ::read(out_fd_, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return std::nullopt; // end of output
    }
    buffer_.append(buf, static_cast<size_t>(got));
  }
}

std::optional<std::string> child_process::wait_for_line(
  const std::function<bool(const std::string&)>& pred,
  std::chrono::steady_clock::duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (auto line = read_line(deadline)) {
    if (pred(*line)) {
      return line;
    }
  }
  return std::nullopt;
}

std::vector<std::string> child_process::drain_lines() {
  std::vector<std::string> out;
  for (;;) {
    char buf[4096];
    auto got = ::read(out_fd_, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    buffer_.append(buf, static_cast<size_t>(got));
  }
  size_t start = 0;
  for (auto nl = buffer_.find('\n'); nl != std::string::npos;
       nl = buffer_.find('\n', start)) {
    out.push_back(buffer_.substr(start, nl - start));
    start = nl + 1;
  }
  buffer_.erase(0, start);
  // The process is done: an unterminated last line is a line too.
  if (!buffer_.empty()) {
    out.push_back(std::move(buffer_));
    buffer_.clear();
  }
  return out;
}

void child_process::signal(int sig) {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, sig);
  }
}

std::optional<int>
child_process::wait(std::chrono::steady_clock::duration timeout) {
  if (reaped_) {
    return std::nullopt;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    // waitpid has no timeout of its own: poll until the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // poll, deadline
  }
}

std::optional<shoald_ports> wait_for_ports(const std::string& file,
                                           std::chrono::steady_clock::duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in{file};
    if (in) {
      auto j = nlohmann::json::parse(in, nullptr, false);
      if (j.is_object()) {
        shoald_ports out;
        out.http = j.value("http", uint16_t{0});
        out.cluster = j.value("cluster", uint16_t{0});
        return out;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20}); // poll, deadline
  }
  return std::nullopt;
}

std::optional<running_shoald> start_shoald(const std::string& program,
                                           const std::vector<std::string>& args,
                                           const std::string& ports_file,
                                           std::chrono::steady_clock::duration timeout) {
  std::remove(ports_file.c_str());
  running_shoald out;
  out.proc = std::make_unique<child_process>(program, args);
  auto ports = wait_for_ports(ports_file, timeout);
  if (!ports) {
    return std::nullopt;
  }
  out.ports = *ports;
  return out;
}

bool kill_under_load(
  const std::string& program, const std::vector<std::string>& args,
  const std::string& ports_file, int threads,
  const std::function<void(uint16_t, int, const std::atomic<bool>&)>& worker,
  const std::function<size_t()>& progress, size_t min_progress,
  std::chrono::steady_clock::duration deadline) {
  auto node = start_shoald(program, args, ports_file);
  if (!node) {
    return false;
  }
  auto& proc = *node->proc;
  auto port = node->ports.http;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] { worker(port, t, stop); });
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until && progress() < min_progress) {
    std::this_thread::sleep_for(std::chrono::milliseconds{5}); // poll until deadline
  }
  proc.signal(SIGKILL);
  proc.wait(std::chrono::seconds{10});
  stop = true;
  for (auto& w : workers) {
    w.join();
  }
  return true;
}

} // namespace shoal::test
