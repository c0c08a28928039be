#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "net/http/router.hpp"
#include "runtime/metrics.hpp"
#include "runtime/result.hpp"

namespace shoal::http {

/// Limits and timeouts of the HTTP/WebSocket server.
struct server_config {
  std::string host = "127.0.0.1";
  /// 0 picks a free port (see `server::port`).
  uint16_t port = 7700;
  /// 0: half the cores (at least one).
  size_t io_threads = 0;
  /// Larger request bodies get 413.
  size_t max_body_bytes = 2 * 1024 * 1024;
  /// Larger request heads (request line + headers) get 431.
  size_t max_header_bytes = 16 * 1024;
  /// A request must arrive whole within this time after its first byte is
  /// awaited; slower clients (slowloris) are disconnected.
  std::chrono::milliseconds read_timeout{10'000};
  /// An idle keep-alive connection is closed after this long.
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{10'000};
  /// WebSocket: a ping is sent after half this much silence, and the
  /// connection is closed if nothing (not even a pong) arrives within it.
  std::chrono::milliseconds ws_idle_timeout{30'000};
  size_t ws_max_message_bytes = 1024 * 1024;
  /// Bound of each WebSocket's outgoing queue (see `ws_connection`).
  size_t ws_send_buffer_bytes = 4 * 1024 * 1024;
  /// HTTP and WebSocket connections open at once; one more is answered
  /// 503 `unavailable` and closed. 0: three quarters of the process's open
  /// files limit (RLIMIT_NOFILE), the rest left to storage and the cluster.
  /// When descriptors run out all the same, waiting connections are shed
  /// with a 503 and accepting pauses briefly instead of spinning.
  size_t max_connections = 0;
  /// How long `stop` waits for in-flight requests before cutting them.
  std::chrono::milliseconds shutdown_grace{5'000};
};

/// A Boost.Beast HTTP/1.1 server on a thread pool of its own: keep-alive,
/// pipelined requests answered in order, limits and timeouts from
/// `server_config`, JSON errors for bad requests, WebSocket upgrades for
/// routes registered with `router::add_ws`. Handlers run on io threads and
/// answer through their `respond_fn` from any thread.
class server {
public:
  server(server_config cfg, const router& routes, metrics::registry& registry);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds, listens and starts the io threads. Fails with `unavailable`.
  result<void> start();

  /// The bound port (after `start`).
  uint16_t port() const;

  /// Stops accepting, lets in-flight requests finish (up to the grace
  /// period), closes idle connections and WebSockets (1001), joins threads.
  void stop();

  /// Connections currently open.
  size_t connections() const;

  /// Internal state, shared with the sessions in server.cpp.
  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// Parses raw bytes as one HTTP request the way the server does (Beast's
/// parser with the same limits, then target parsing and routing), without
/// sockets. Returns the request or the error the client would get. For the
/// fuzz target and tests.
result<request> parse_request_bytes(std::string_view bytes,
                                    const router& routes,
                                    const server_config& cfg);

} // namespace shoal::http
