#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/http/types.hpp"
#include "runtime/result.hpp"

namespace shoal::http {

/// A response as a client sees it.
struct client_response {
  unsigned status = 0;
  std::string body;
  header_list headers; // names in lower case

  const std::string* header(std::string_view name) const;
};

/// A blocking HTTP/1.1 client over one keep-alive connection, reconnecting
/// when the server closed it. For `shoalctl`, tests and tools; not for use
/// on an io or actor thread.
class client {
public:
  client(std::string host, uint16_t port,
         std::chrono::milliseconds timeout = std::chrono::seconds{10});
  ~client();

  client(client&&) noexcept;
  client& operator=(client&&) noexcept;

  /// Sends one request and reads its response. Fails with `unavailable`
  /// when the request certainly did not reach the server (cannot connect,
  /// connection lost while sending) and for a GET or HEAD whose answer was
  /// lost; with `maybe_committed` (connection lost) or `timeout` when
  /// another request was sent whole and no answer came. Only `unavailable`
  /// is retried, once, on a fresh connection.
  result<client_response> request(std::string_view verb,
                                  std::string_view target,
                                  std::string body = {},
                                  std::string_view content_type
                                  = "application/json",
                                  const header_list& headers = {});

  result<client_response> get(std::string_view target) {
    return request("GET", target);
  }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A blocking WebSocket client.
class ws_client {
public:
  /// Connects and performs the handshake on `target`. An HTTP error answer
  /// instead of the handshake fails with the error code from its body.
  static result<ws_client> connect(const std::string& host, uint16_t port,
                                   const std::string& target,
                                   std::chrono::milliseconds timeout
                                   = std::chrono::seconds{10});

  ~ws_client();
  ws_client(ws_client&&) noexcept;
  ws_client& operator=(ws_client&&) noexcept;

  result<void> send_text(std::string_view message);

  /// Sends a ping frame (the server's pong is consumed by `read`).
  result<void> ping();

  /// Sends a binary frame (servers that take text only close with 1003).
  result<void> send_binary(std::string_view message);

  /// Waits up to `timeout` for the next message. Fails with `timeout`, or
  /// `unavailable` once the connection closed (see `close_code`).
  result<std::string> read(std::chrono::milliseconds timeout);

  /// Starts and completes the close handshake.
  result<void> close(uint16_t code = close_code::normal);

  /// The code of the server's close frame, 0 if none arrived.
  uint16_t close_code() const;

private:
  struct impl;
  explicit ws_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace shoal::http
