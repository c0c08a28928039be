#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace shoal::test {

/// A plain TCP connection to 127.0.0.1 for tests that must send bytes no
/// well-behaved client would (garbage, partial requests, pipelines).
class raw_socket {
public:
  explicit raw_socket(uint16_t port);
  ~raw_socket();

  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  bool connected() const {
    return fd_ >= 0;
  }

  /// Sends all bytes; false if the peer is gone.
  bool send(const std::string& bytes);

  /// Reads until the peer closes or `timeout` passes; returns what came.
  std::string read_until_closed(std::chrono::milliseconds timeout);

  /// Reads until `count` occurrences of `needle` arrived or timeout.
  std::string read_until(const std::string& needle, size_t count,
                         std::chrono::milliseconds timeout);

  /// True if the peer closed the connection within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);

private:
  int fd_ = -1;
  bool eof_ = false;
};

} // namespace shoal::test
