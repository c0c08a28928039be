#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::http {

/// HTTP methods the router knows; anything else is `other` (→ 405/400).
enum class method : uint8_t { get, head, post, put, del, patch, options, other };

std::string_view to_string(method m);
method method_from_string(std::string_view text);

/// ASCII lower case (header names).
std::string to_lower(std::string_view text);

using header_list = std::vector<std::pair<std::string, std::string>>;

/// A parsed HTTP request as handlers see it: no Beast types, so route files
/// compile without Beast.
struct request {
  method verb = method::get;
  /// The raw request target (`/v1/kv/a?ttl=5s`).
  std::string target;
  /// The raw path, percent-encoded as received.
  std::string path;
  /// Decoded query parameters, in order.
  header_list query;
  /// Decoded route parameters (`{key}` → value).
  std::map<std::string, std::string> params;
  /// Header names in lower case.
  header_list headers;
  std::string body;
  /// The route pattern that matched (metrics label), or "unmatched".
  std::string route;
  /// `ip:port` of the client.
  std::string remote;

  /// The first header with this (lower-case) name, or nullptr.
  const std::string* header(std::string_view name) const;

  /// The last query parameter with this name, or nullptr.
  const std::string* query_param(std::string_view name) const;

  /// A route parameter; empty if absent.
  const std::string& param(const std::string& name) const;
};

/// A response a handler produces.
struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  header_list headers;
  /// Close the connection after this response.
  bool close = false;
};

/// Delivers the response of one request. May be called from any thread,
/// exactly once; the gateway posts it onto the connection's strand. If it
/// is dropped without being called, the client gets a 500.
using respond_fn = std::function<void(response)>;

/// Handles one request. Runs on an io thread: it must not block (ask actors
/// asynchronously and respond from the reply).
using handler = std::function<void(request& req, respond_fn respond)>;

/// The server side of one WebSocket, given to a `ws_handler`. Thread-safe:
/// any thread may send or close.
class ws_connection {
public:
  virtual ~ws_connection() = default;

  /// Queues a text frame. Returns false, queuing nothing, when the
  /// connection is closed or its send buffer would exceed its bound (the
  /// caller decides what a slow consumer gets).
  virtual bool send_text(std::string message) = 0;

  /// Starts the close handshake with `code` (RFC 6455 §7.4).
  virtual void close(uint16_t code, std::string reason = {}) = 0;

  /// Queues `message` even past the buffer bound, then closes with `code`:
  /// the last word to a consumer being disconnected (for example `lagged`).
  virtual void send_final(std::string message, uint16_t code,
                          std::string reason = {}) = 0;

  /// Bytes queued for sending and not yet written.
  virtual size_t buffered_bytes() const = 0;

  /// The peer address.
  virtual const std::string& remote() const = 0;
};

/// One WebSocket conversation. Callbacks run on the connection's strand, one
/// at a time, and must not block.
class ws_handler {
public:
  virtual ~ws_handler() = default;
  /// The handshake succeeded; `conn` stays valid until `on_close`.
  virtual void on_open(std::shared_ptr<ws_connection> conn) = 0;
  /// A complete text message arrived.
  virtual void on_text(std::string_view message) = 0;
  /// A ping frame arrived (the server answers it by itself).
  virtual void on_ping() {
  }
  /// The socket closed (`code` from the peer's close frame, or 1006).
  virtual void on_close(uint16_t code) = 0;
};

/// Decides whether to accept an upgrade; an error becomes an HTTP error
/// response instead of the handshake.
using ws_factory
  = std::function<result<std::unique_ptr<ws_handler>>(const request& req)>;

/// WebSocket close codes shoal uses (RFC 6455 §7.4.1).
namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t abnormal = 1006;
inline constexpr uint16_t policy_violation = 1008;
inline constexpr uint16_t too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
inline constexpr uint16_t try_again_later = 1013;
} // namespace close_code

} // namespace shoal::http
