#pragma once

// The server's shared state and the types its three parts share: the
// accept loop and lifecycle (server.cpp), HTTP sessions (http_session.cpp)
// and WebSocket sessions (ws_session.cpp). Private to net/http.

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/http/server.hpp"

namespace shoal::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

using beast_request = bhttp::request<bhttp::string_body>;
using clock = std::chrono::steady_clock;

// -- shared server state ------------------------------------------------------

class session_base {
public:
  virtual ~session_base() = default;
  /// Posted by `server::stop`: finish what is in flight, then close.
  virtual void shutdown() = 0;
};

class ws_session;

// What other threads ask of a WebSocket session, in the order asked.
struct ws_order {
  enum class kind : uint8_t { text, final_text, close };
  std::shared_ptr<ws_session> session;
  kind what;
  uint16_t code = 0;
  std::string text;
  std::string reason;
};

// Hands WebSocket orders from other threads (watch actors, mostly) to the
// io threads in bursts: one post wakes an io thread for everything queued
// meanwhile, instead of one post per frame. A change delivered to a
// thousand watchers is a thousand orders in a row. One drain at a time:
// a session's orders reach its strand in the order they were made.
class ws_outbox {
public:
  /// True if the caller must post a drain: none is queued or running.
  bool push(ws_order order) {
    std::lock_guard guard{mtx_};
    orders_.push_back(std::move(order));
    return std::exchange(draining_, true) == false;
  }

  /// The orders queued so far, and the drain goes on; none: the drain
  /// ends, and the next push posts another.
  std::vector<ws_order> take() {
    std::vector<ws_order> out;
    std::lock_guard guard{mtx_};
    out.swap(orders_);
    if (out.empty()) {
      draining_ = false;
    }
    return out;
  }

private:
  std::mutex mtx_;
  std::vector<ws_order> orders_;
  bool draining_ = false;
};

struct server::impl {
  server_config cfg;
  const router& routes;
  metrics::registry& registry;
  std::atomic<bool> draining{false};
  uint16_t bound_port = 0;

  mutable std::mutex sessions_mtx;
  std::list<std::weak_ptr<session_base>> sessions;
  std::atomic<size_t> open{0};

  metrics::counter* ws_opened = nullptr;
  metrics::gauge* ws_open = nullptr;
  metrics::gauge* http_open = nullptr;
  metrics::counter* rejected = nullptr;
  metrics::counter* refused = nullptr;

  // The connection limit in force (`server_config::max_connections`, or
  // derived from the descriptor limit).
  size_t max_connections = 0;
  // A descriptor held in reserve: when the process runs out, it is freed
  // to accept the waiting connections one at a time, tell each 503 and
  // close it, so that the listen queue moves instead of the accept loop
  // spinning on EMFILE.
  int spare_fd = -1;
  // Accept errors seen since the last warning (warnings are at most one
  // per `warn_interval`).
  size_t accept_errors = 0;
  clock::time_point last_accept_warning{};
  static constexpr auto warn_interval = std::chrono::seconds{10};

  impl(server_config c, const router& r, metrics::registry& reg)
    : cfg(std::move(c)), routes(r), registry(reg) {
    ws_opened = &reg.add_counter("shoal_ws_connections_total",
                                 "WebSocket connections accepted.");
    ws_open = &reg.add_gauge("shoal_ws_connections",
                             "WebSocket connections open now.");
    rejected = &reg.add_counter(
      "shoal_http_bad_requests_total",
      "Requests rejected before routing (malformed, too large, timed out).");
    refused = &reg.add_counter(
      "shoal_http_connections_refused_total",
      "Connections answered 503 and closed at accept: over the connection "
      "limit or out of file descriptors.");
    // A plain gauge, not a function of this object: the registry outlives
    // the server.
    http_open = &reg.add_gauge("shoal_http_connections",
                               "HTTP and WebSocket connections open now.");
  }

  void opened() {
    open++;
    http_open->add(1);
  }

  void closed() {
    http_open->add(-1);
    open--;
  }

  struct route_series {
    metrics::histogram* latency;
    metrics::counter* count;
  };

  // Series per method, route and status, found once in the registry and
  // then read under a shared lock (the hot path takes no exclusive lock).
  route_series& series(const request& req, unsigned status) {
    auto key = std::string{to_string(req.verb)};
    key += ' ';
    key += std::to_string(status);
    key += ' ';
    key += req.route;
    {
      std::shared_lock guard{series_mtx};
      if (auto it = series_cache.find(key); it != series_cache.end()) {
        return it->second;
      }
    }
    metrics::labels lbls{{"method", std::string{to_string(req.verb)}},
                         {"route", req.route},
                         {"status", std::to_string(status)}};
    route_series fresh{
      &registry.add_histogram("shoal_http_request_duration_seconds",
                              "HTTP request latency by method, route and "
                              "status.",
                              metrics::latency_buckets(), lbls),
      &registry.add_counter("shoal_http_requests_total",
                            "HTTP requests by method, route and status.",
                            lbls)};
    std::unique_lock guard{series_mtx};
    return series_cache.try_emplace(std::move(key), fresh).first->second;
  }

  void observe(const request& req, unsigned status, clock::time_point start) {
    auto secs = std::chrono::duration<double>(clock::now() - start).count();
    auto& s = series(req, status);
    s.latency->observe(secs);
    s.count->inc();
  }

  std::shared_mutex series_mtx;
  std::unordered_map<std::string, route_series> series_cache;

  // Before the io_context: orders still queued when it is gone hold
  // sessions, whose destructors use the members above. One outbox per io
  // thread, so that bursts to many sessions drain on every io thread; a
  // session always uses the same one.
  std::vector<std::unique_ptr<ws_outbox>> outboxes;
  std::atomic<size_t> next_outbox{0};
  void order(size_t outbox, ws_order o);
  void drain(ws_outbox& box);

  // Last, so that they are destroyed first: destroying the io_context
  // destroys the sessions it still holds, and those use the members above.
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
    work;
  // The acceptor lives on its own strand: accept completions (which re-arm
  // the accept) and the close posted by `stop` never run concurrently.
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  // Re-arms the accept after a failure, on the acceptor's strand.
  asio::steady_timer accept_timer{acceptor.get_executor()};
  std::vector<std::thread> threads;

  void track(const std::shared_ptr<session_base>& s) {
    std::lock_guard guard{sessions_mtx};
    for (auto i = sessions.begin(); i != sessions.end();) {
      i = i->expired() ? sessions.erase(i) : std::next(i);
    }
    sessions.push_back(s);
  }

  void do_accept();
  // After a failed accept: sheds a connection if out of descriptors, warns
  // (rate-limited) and accepts again after a pause.
  void on_accept_error(const beast::error_code& ec);
  void shed_one();
};

// Every connection runs on its own strand of the io_context. The concrete
// executor type (not asio's type-erased any_io_executor) spares each
// asynchronous step and post the type-erasure's copies and lookups.
using strand_type = asio::strand<asio::io_context::executor_type>;
using socket_type = tcp::socket::rebind_executor<strand_type>::other;
using stream_type = beast::basic_stream<tcp, strand_type>;

/// Starts an HTTP session on an accepted connection; with `refusal`, it
/// answers that error at once and closes (over the connection limit).
void start_http_session(server::impl& srv, socket_type&& socket,
                        std::optional<error> refusal);

/// Starts a WebSocket session on the socket of an upgraded HTTP request.
void start_ws_session(server::impl& srv, socket_type&& socket,
                      std::unique_ptr<ws_handler> handler, std::string remote,
                      beast_request upgrade);

} // namespace shoal::http
