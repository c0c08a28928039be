#pragma once

// Plain TCP client sockets for the bench drivers, which share the machine
// with the server and so avoid the cost of a full asynchronous stack.

#include <cstring>
#include <optional>
#include <string>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal::bench {

/// A resolved server address.
struct address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

/// The first address of `host`:`port`, or nullopt.
inline std::optional<address> resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found)
        != 0
      || found == nullptr) {
    return std::nullopt;
  }
  address out;
  std::memcpy(&out.storage, found->ai_addr, found->ai_addrlen);
  out.length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return out;
}

/// A connected TCP socket with Nagle off (non-blocking if asked), or -1.
inline int dial(const address& addr, bool non_blocking) {
  int fd = ::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr.storage),
                addr.length)
      != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (non_blocking) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  }
  return fd;
}

} // namespace shoal::bench
