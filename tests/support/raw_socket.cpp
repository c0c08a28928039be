#include "tests/support/raw_socket.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal::test {

namespace {

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (auto pos = hay.find(needle); pos != std::string::npos;
       pos = hay.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

} // namespace

raw_socket::raw_socket(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

raw_socket::~raw_socket() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool raw_socket::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent,
                    MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string raw_socket::read_until(const std::string& needle, size_t count,
                                   std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_ && (needle.empty() || count_of(out, needle) < count)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0) {
      break;
    }
    pollfd p{fd_, POLLIN, 0};
    auto r = ::poll(&p, 1, static_cast<int>(left));
    if (r <= 0) {
      continue;
    }
    char buf[8192];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      eof_ = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string raw_socket::read_until_closed(std::chrono::milliseconds timeout) {
  return read_until("", 0, timeout);
}

bool raw_socket::wait_closed(std::chrono::milliseconds timeout) {
  read_until_closed(timeout);
  return eof_;
}

} // namespace shoal::test
