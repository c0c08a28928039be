#include "net/http/server.hpp"

#include <array>
#include <atomic>
#include <deque>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "net/http/http_error.hpp"
#include "net/http/target.hpp"

namespace shoal::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using beast_request = bhttp::request<bhttp::string_body>;
using clock = std::chrono::steady_clock;

method to_method(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return method::get;
    case bhttp::verb::head:
      return method::head;
    case bhttp::verb::post:
      return method::post;
    case bhttp::verb::put:
      return method::put;
    case bhttp::verb::delete_:
      return method::del;
    case bhttp::verb::patch:
      return method::patch;
    case bhttp::verb::options:
      return method::options;
    default:
      return method::other;
  }
}

// Maps a Beast parse error to what the client gets.
error parse_error_of(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    return error{errc::too_large, "request body is too large"};
  }
  if (ec == bhttp::error::header_limit) {
    return error{errc::too_large, "request header is too large"};
  }
  return error{errc::invalid_argument, "malformed HTTP request: " + ec.message()};
}

// RFC 9112 §6.1 and §6.3: a request with Transfer-Encoding is framed by
// its final coding, which must be `chunked`; shoal applies no other coding.
// Anything else (`chunked, gzip`, `xchunked`, `gzip`), or Transfer-Encoding
// beside Content-Length, is refused and the connection closed: a server
// that read such a body differently from a proxy in front of it would take
// the rest of the body as the next request.
result<void> check_framing(const beast_request& req) {
  std::string codings;
  auto fields = req.equal_range(bhttp::field::transfer_encoding);
  for (auto it = fields.first; it != fields.second; ++it) {
    if (!codings.empty()) {
      codings += ',';
    }
    codings.append(it->value().data(), it->value().size());
  }
  if (fields.first == fields.second) {
    return {};
  }
  if (req.find(bhttp::field::content_length) != req.end()) {
    return fail(errc::invalid_argument,
                "malformed HTTP request: Transfer-Encoding and Content-Length together");
  }
  size_t count = 0;
  bool chunked_last = false;
  size_t pos = 0;
  while (pos <= codings.size()) {
    auto comma = codings.find(',', pos);
    auto end = comma == std::string::npos ? codings.size() : comma;
    auto token = std::string_view{codings}.substr(pos, end - pos);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
      token.remove_prefix(1);
    }
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    if (!token.empty()) {
      ++count;
      chunked_last = beast::iequals(token, "chunked");
    }
    pos = end + 1;
  }
  if (count != 1 || !chunked_last) {
    return fail(errc::invalid_argument,
                "malformed HTTP request: Transfer-Encoding must be exactly "
                "'chunked', not '" + codings.substr(0, 64) + "'");
  }
  return {};
}

// The status line and header block of `res` (HTTP/1.`version % 10`),
// written by hand: Beast's serializer costs more than the whole handler of
// a kv get. `close` decides the Connection header; `head` keeps the body's
// Content-Length but sends no body.
std::string render_head(const response& res, unsigned version, bool close) {
  std::string out;
  out.reserve(160 + res.content_type.size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(res.status));
  out.append(reason.data(), reason.size());
  out += "\r\nServer: shoal\r\nContent-Type: ";
  out += res.content_type;
  out += "\r\n";
  for (const auto& [k, v] : res.headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (version == 10 && !close) {
    out += "Connection: keep-alive\r\n";
  } else if (version != 10 && close) {
    out += "Connection: close\r\n";
  }
  // 1xx, 204 and 304 carry no body and no length.
  if (res.status / 100 != 1 && res.status != 204 && res.status != 304) {
    out += "Content-Length: ";
    out += std::to_string(res.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

// Builds the handler-facing request from a Beast request; routes it.
struct routed {
  request req;
  const router::route* route = nullptr;
  std::optional<response> early; // an error or 404/405 to send instead
};

routed route_request(beast_request& breq, const router& routes,
                     std::string remote) {
  routed out;
  auto& req = out.req;
  req.verb = to_method(breq.method());
  req.target = std::string{breq.target()};
  req.remote = std::move(remote);
  req.route = "unmatched";
  for (const auto& field : breq) {
    req.headers.emplace_back(to_lower(field.name_string()),
                             std::string{field.value()});
  }
  auto target = parse_target(req.target);
  if (!target) {
    out.early = error_response(target.err());
    return out;
  }
  req.path = std::move(target->path);
  req.query = std::move(target->query);
  auto m = routes.match(req.verb, req.path);
  switch (m.result) {
    case router::outcome::not_found:
      out.early = error_response(
        error{errc::not_found, "no route for " + std::string{breq.method_string()}
                                 + " " + req.path});
      return out;
    case router::outcome::method_not_allowed: {
      auto r = error_response(
        error{errc::invalid_argument,
              "method " + std::string{breq.method_string()}
                + " is not allowed on " + req.path});
      r.status = 405;
      std::string allow;
      for (auto v : m.allowed) {
        if (!allow.empty()) {
          allow += ", ";
        }
        allow += to_string(v);
      }
      r.headers.emplace_back("Allow", allow);
      r.body = error_body(error{errc::invalid_argument,
                                "method not allowed; allowed: " + allow});
      out.early = std::move(r);
      return out;
    }
    case router::outcome::found:
      break;
  }
  out.route = m.matched;
  req.params = std::move(m.params);
  req.route = m.matched->pattern;
  req.body = std::move(breq.body());
  return out;
}

} // namespace

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

// -- WebSocket sessions -------------------------------------------------------

class ws_session : public session_base,
                   public ws_connection,
                   public std::enable_shared_from_this<ws_session> {
public:
  ws_session(server::impl& srv, socket_type&& socket,
             std::unique_ptr<ws_handler> handler, std::string remote)
    : srv_(srv),
      outbox_(srv.next_outbox++ % srv.outboxes.size()),
      ws_(std::move(socket)),
      handler_(std::move(handler)),
      remote_(std::move(remote)) {
    srv_.opened();
  }

  ~ws_session() override {
    srv_.closed();
  }

  void run(beast_request req) {
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = std::chrono::seconds(10);
    opt.idle_timeout = srv_.cfg.ws_idle_timeout;
    opt.keep_alive_pings = true;
    ws_.set_option(opt);
    ws_.read_message_max(srv_.cfg.ws_max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) {
        res.set(bhttp::field::server, "shoal");
      }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      self->on_accept(ec);
    });
  }

  // -- ws_connection ---------------------------------------------------------

  bool send_text(std::string message) override {
    if (closed_.load()) {
      return false;
    }
    auto size = message.size();
    auto queued = queued_bytes_.load();
    do {
      // One message always fits into an empty queue, however large.
      if (queued > 0 && queued + size > srv_.cfg.ws_send_buffer_bytes) {
        return false;
      }
    } while (!queued_bytes_.compare_exchange_weak(queued, queued + size));
    srv_.order(outbox_, {shared_from_this(), ws_order::kind::text, 0,
                         std::move(message), {}});
    return true;
  }

  void send_final(std::string message, uint16_t code,
                  std::string reason) override {
    if (closed_.exchange(true)) {
      return;
    }
    queued_bytes_ += message.size();
    srv_.order(outbox_, {shared_from_this(), ws_order::kind::final_text, code,
                std::move(message), std::move(reason)});
  }

  void close(uint16_t code, std::string reason) override {
    srv_.order(outbox_,
               {shared_from_this(), ws_order::kind::close, code, {}, std::move(reason)});
  }

  /// Carries out an order, on this session's strand.
  void apply(ws_order& o) {
    if (o.what != ws_order::kind::close) {
      queue_.push_back(std::move(o.text));
      if (queue_.size() == 1) {
        do_write();
      }
    }
    if (o.what != ws_order::kind::text) {
      start_close(o.code, std::move(o.reason));
    }
  }

  strand_type executor() {
    return ws_.get_executor();
  }

  size_t buffered_bytes() const override {
    return queued_bytes_.load();
  }

  const std::string& remote() const override {
    return remote_;
  }

  void shutdown() override {
    close(close_code::going_away, "server shutting down");
  }

private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      finish(close_code::abnormal);
      return;
    }
    srv_.ws_opened->inc();
    srv_.ws_open->add(1);
    counted_ = true;
    // Runs inside async_read, on this session's strand; the session
    // outlives its reads.
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping && handler_) {
        handler_->on_ping();
      }
    });
    handler_->on_open(shared_from_this());
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec,
                                                        size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      uint16_t code = close_code::abnormal;
      if (ec == websocket::error::closed) {
        code = static_cast<uint16_t>(ws_.reason().code);
      } else if (ec == websocket::error::message_too_big) {
        code = close_code::too_big;
      } else if (ec.category()
                   == websocket::make_error_code(websocket::error::closed)
                        .category()
                 || ec == websocket::condition::protocol_violation) {
        code = close_code::protocol_error;
      }
      finish(code);
      return;
    }
    if (!ws_.got_text()) {
      buffer_.consume(buffer_.size());
      start_close(close_code::unsupported_data, "text frames only");
      return;
    }
    auto data = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (handler_) {
      handler_->on_text(data);
    }
    if (!closing_) {
      do_read();
    }
  }

  void do_write() {
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(beast::error_code ec) {
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (ec) {
      queue_.clear();
      queued_bytes_ = 0;
      return; // the read side reports the failure
    }
    if (!queue_.empty()) {
      do_write();
    } else if (pending_close_) {
      send_close();
    }
  }

  void start_close(uint16_t code, std::string reason) {
    if (closing_) {
      return;
    }
    closing_ = true;
    closed_ = true;
    close_reason_ = websocket::close_reason{
      static_cast<websocket::close_code>(code), std::move(reason)};
    // Flush queued messages first, then close.
    if (queue_.empty()) {
      send_close();
    } else {
      pending_close_ = true;
    }
  }

  void send_close() {
    pending_close_ = false;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](beast::error_code) {
                      // The read loop (if any) ends with `closed`; if it had
                      // already ended, finish here.
                      self->finish(static_cast<uint16_t>(
                        self->close_reason_.code));
                    });
  }

  void finish(uint16_t code) {
    closed_ = true;
    if (finished_) {
      return;
    }
    finished_ = true;
    if (counted_) {
      srv_.ws_open->add(-1);
    }
    if (handler_) {
      handler_->on_close(code);
      handler_.reset(); // breaks the handler → connection cycle
    }
    beast::error_code ignored;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    ws_.next_layer().close(ignored);
  }

  server::impl& srv_;
  size_t outbox_;
  // On the bare socket: the WebSocket has its own handshake and idle
  // timeouts, and each frame skips the timed stream's layer.
  websocket::stream<socket_type> ws_;
  std::unique_ptr<ws_handler> handler_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<bool> closed_{false};
  bool closing_ = false;
  bool pending_close_ = false;
  bool finished_ = false;
  bool counted_ = false;
  websocket::close_reason close_reason_;
};

void server::impl::order(size_t outbox, ws_order o) {
  auto& box = *outboxes[outbox];
  if (box.push(std::move(o))) {
    asio::post(ioc, [this, &box] { drain(box); });
  }
}

void server::impl::drain(ws_outbox& box) {
  auto orders = box.take();
  if (orders.empty()) {
    return; // the drain has ended; the next order posts another
  }
  for (auto& o : orders) {
    // Runs at once when the session's strand is free (the usual case):
    // this is an io thread.
    auto ex = o.session->executor();
    asio::dispatch(ex, [o = std::move(o)]() mutable { o.session->apply(o); });
  }
  // Orders that came meanwhile go in a later drain, after what else the
  // io threads have queued.
  asio::post(ioc, [this, &box] { drain(box); });
}

// -- HTTP sessions ------------------------------------------------------------

class http_session : public session_base,
                     public std::enable_shared_from_this<http_session> {
public:
  http_session(server::impl& srv, socket_type&& socket)
    : srv_(srv), stream_(std::move(socket)) {
    beast::error_code ec;
    // Every response and WebSocket frame goes out in one write: nothing is
    // gained by holding a small one back until the previous is acknowledged.
    stream_.socket().set_option(tcp::no_delay{true}, ec);
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    srv_.opened();
  }

  ~http_session() override {
    srv_.closed();
  }

  void run() {
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this()] { self->do_read(); });
  }

  /// Answers `err` at once (before reading a request) and closes: the
  /// connection is over the server's limit.
  void refuse_at_once(error err) {
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this(), err = std::move(err)]() mutable {
                     self->linger_ = true; // its request may be on the way
                     self->refuse(std::move(err), 0);
                   });
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->close_after_write_ = true;
      if (!self->busy_) {
        self->do_close();
      }
    });
  }

private:
  void do_read() {
    if (srv_.draining || close_after_write_) {
      do_close();
      return;
    }
    parser_.emplace();
    parser_->body_limit(srv_.cfg.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(srv_.cfg.max_header_bytes));
    // The first request of a connection, and each next one, must arrive
    // within the read timeout once it starts; an idle keep-alive connection
    // gets the idle timeout. Beast cannot tell the two apart before the
    // first byte, so idle connections use the shorter of the two.
    auto timeout = buffer_.size() > 0 || first_
                     ? srv_.cfg.read_timeout
                     : std::min(srv_.cfg.idle_timeout, srv_.cfg.read_timeout);
    first_ = false;
    stream_.expires_after(timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec,
                                                         size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    busy_ = true;
    start_ = clock::now();
    const auto& req = parser_->get();
    if (auto ok = check_framing(req); !ok) {
      linger_ = true; // its body may be on the way
      refuse(std::move(ok).err(), 400);
      return;
    }
    if (req[bhttp::field::expect] == "100-continue") {
      // Tell the client to send the body now rather than after its own
      // timeout (curl waits a second otherwise).
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(
        bhttp::status::continue_, req.version());
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code ec,
                                                           size_t) {
                           if (ec) {
                             self->do_close();
                             return;
                           }
                           self->read_body();
                         });
      return;
    }
    if (parser_->is_done()) {
      // No body, or all of it arrived with the header.
      on_read({});
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(srv_.cfg.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec,
                                                  size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read_error(beast::error_code ec) {
    busy_ = false;
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof
        || ec == asio::error::connection_reset
        || ec == asio::error::operation_aborted) {
      do_close();
      return;
    }
    if (ec == beast::error::timeout) {
      // Slow or idle client: drop it without a response.
      if (parser_ && parser_->got_some()) {
        srv_.rejected->inc();
      }
      do_close();
      return;
    }
    auto err = parse_error_of(ec);
    refuse(std::move(err), ec == bhttp::error::header_limit ? 431 : 0);
  }

  // Answers a request refused before routing with `err` (with `status`
  // when not 0) and closes the connection.
  void refuse(error err, unsigned status) {
    srv_.rejected->inc();
    auto res = error_response(err);
    if (status != 0) {
      res.status = status;
    }
    res.close = true;
    // The client may still be sending a body we refused: read and drop it
    // after the response so that closing does not reset the connection
    // before the client has read the answer.
    linger_ = linger_ || err.code == errc::too_large;
    request unrouted;
    unrouted.route = "unmatched";
    start_ = clock::now();
    send(std::move(res), unrouted, 11, false);
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    auto breq = parser_->release();
    if (websocket::is_upgrade(breq)) {
      upgrade(std::move(breq));
      return;
    }
    auto r = route_request(breq, srv_.routes, remote_);
    auto version = breq.version();
    auto keep_alive = breq.keep_alive();
    auto head = breq.method() == bhttp::verb::head;
    if (r.early) {
      send(std::move(*r.early), r.req, version, keep_alive, head);
      return;
    }
    if (!r.route->on_request) {
      auto res = error_response(
        error{errc::invalid_argument, "this route needs a WebSocket upgrade"});
      res.status = 426;
      res.headers.emplace_back("Upgrade", "websocket");
      send(std::move(res), r.req, version, keep_alive, head);
      return;
    }
    // The responder posts back onto this session's strand; if a handler
    // drops it without answering, the client still gets a 500.
    auto state = std::make_shared<responder_state>(shared_from_this(), r.req,
                                                   version, keep_alive, head);
    respond_fn respond = [state](response res) { state->deliver(std::move(res)); };
    try {
      r.route->on_request(r.req, std::move(respond));
    } catch (const std::exception& e) {
      spdlog::error("handler for {} threw: {}", r.req.route, e.what());
      state->deliver(error_response(error{errc::internal, "internal error"}));
    }
  }

  struct responder_state {
    std::shared_ptr<http_session> session;
    request req; // for metrics labels
    unsigned version;
    bool keep_alive;
    bool head;
    std::atomic<bool> done{false};

    responder_state(std::shared_ptr<http_session> s, const request& r,
                    unsigned v, bool ka, bool h)
      : session(std::move(s)), version(v), keep_alive(ka), head(h) {
      req.verb = r.verb;
      req.route = r.route;
    }

    ~responder_state() {
      if (!done.load()) {
        deliver(error_response(error{errc::internal, "no response produced"}));
      }
    }

    void deliver(response res) {
      if (done.exchange(true)) {
        return;
      }
      auto s = session;
      asio::post(s->stream_.get_executor(),
                 [s, res = std::move(res), r = req, v = version,
                  ka = keep_alive, h = head]() mutable {
                   s->send(std::move(res), r, v, ka, h);
                 });
    }
  };

  void upgrade(beast_request breq) {
    auto r = route_request(breq, srv_.routes, remote_);
    if (r.early) {
      send(std::move(*r.early), r.req, breq.version(), false);
      return;
    }
    if (!r.route->on_upgrade) {
      send(error_response(error{errc::invalid_argument,
                                "this route does not accept WebSocket"}),
           r.req, breq.version(), false);
      return;
    }
    if (srv_.draining) {
      send(error_response(error{errc::shutting_down, "server shutting down"}),
           r.req, breq.version(), false);
      return;
    }
    auto handler = r.route->on_upgrade(r.req);
    if (!handler) {
      send(error_response(handler.err()), r.req, breq.version(), false);
      return;
    }
    srv_.observe(r.req, 101, start_);
    stream_.expires_never(); // the request's read deadline ends here
    auto ws = std::make_shared<ws_session>(srv_, stream_.release_socket(),
                                           std::move(*handler), remote_);
    srv_.track(ws);
    ws->run(std::move(breq));
  }

  void send(response res, const request& req, unsigned version,
            bool keep_alive, bool head = false) {
    srv_.observe(req, res.status, start_);
    auto close = res.close || !keep_alive || srv_.draining
                 || close_after_write_;
    out_head_ = render_head(res, version, close);
    out_body_ = head ? std::string{} : std::move(res.body);
    std::array<asio::const_buffer, 2> bufs{asio::buffer(out_head_),
                                           asio::buffer(out_body_)};
    stream_.expires_after(srv_.cfg.write_timeout);
    asio::async_write(stream_, bufs,
                      [self = shared_from_this(), close](beast::error_code ec,
                                                         size_t) {
                        self->busy_ = false;
                        if (ec || close) {
                          self->do_close();
                          return;
                        }
                        self->do_read();
                      });
  }

  void do_close() {
    if (closed_) {
      return;
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger_ && !srv_.draining) {
      linger_ = false;
      linger_until_ = clock::now() + std::chrono::seconds{2};
      drain();
      return;
    }
    closed_ = true;
    stream_.close();
  }

  // Reads and discards what the client still sends (bounded in bytes and
  // time), then closes.
  void drain() {
    discard_.resize(16 * 1024);
    // Stop when the client pauses for a moment, or at the overall limit.
    auto left = linger_until_ - clock::now();
    stream_.expires_after(std::min<clock::duration>(
      std::chrono::milliseconds{300}, std::max<clock::duration>(left, {})));
    stream_.async_read_some(
      asio::buffer(discard_),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        self->drained_ += n;
        if (ec || self->drained_ > 64 * 1024 * 1024) {
          self->closed_ = true;
          self->stream_.close();
          return;
        }
        self->drain();
      });
  }

  server::impl& srv_;
  stream_type stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  clock::time_point start_ = clock::now();
  bool busy_ = false;
  bool first_ = true;
  bool close_after_write_ = false;
  bool closed_ = false;
  bool linger_ = false;
  clock::time_point linger_until_;
  std::vector<char> discard_;
  size_t drained_ = 0;
  // The response being written.
  std::string out_head_;
  std::string out_body_;
};

namespace {

// The answer to a connection shed for want of descriptors, written with one
// non-blocking send before the close.
constexpr std::string_view shed_response
  = "HTTP/1.1 503 Service Unavailable\r\nServer: shoal\r\n"
    "Content-Type: application/json\r\nRetry-After: 1\r\n"
    "Connection: close\r\nContent-Length: 82\r\n\r\n"
    R"({"error":{"code":"unavailable","message":"the server is out of file descriptors"}})";

bool out_of_descriptors(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors
         || (ec.category() == asio::error::get_system_category()
             && ec.value() == ENFILE);
}

} // namespace

void server::impl::do_accept() {
  acceptor.async_accept(
    asio::make_strand(ioc), [this](beast::error_code ec, socket_type socket) {
      if (draining || !acceptor.is_open()) {
        return;
      }
      if (ec) {
        on_accept_error(ec);
        return;
      }
      auto s = std::make_shared<http_session>(*this, std::move(socket));
      track(s);
      if (open.load() > max_connections) {
        // Refused with an answer, not a reset: the client learns why.
        refused->inc();
        s->refuse_at_once(error{errc::unavailable,
                                "too many connections (the limit is "
                                  + std::to_string(max_connections) + ")"});
      } else {
        s->run();
      }
      do_accept();
    });
}

void server::impl::on_accept_error(const beast::error_code& ec) {
  if (ec == asio::error::operation_aborted) {
    return;
  }
  auto fds = out_of_descriptors(ec);
  if (fds) {
    shed_one();
  }
  ++accept_errors;
  auto now = clock::now();
  if (now - last_accept_warning >= warn_interval) {
    spdlog::warn("accept failed {} time(s) in the last {} s: {}{}", accept_errors,
                 std::chrono::duration_cast<std::chrono::seconds>(warn_interval).count(),
                 ec.message(),
                 fds ? "; connections are shed until descriptors are free "
                       "(see --max-connections and the open files limit)"
                     : "");
    accept_errors = 0;
    last_accept_warning = now;
  }
  // A pause before the next accept: an error that persists (no descriptors,
  // no buffers) would otherwise make this loop spin on a whole core.
  accept_timer.expires_after(std::chrono::milliseconds{fds ? 100 : 10});
  accept_timer.async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec && !draining && acceptor.is_open()) {
      do_accept();
    }
  });
}

void server::impl::shed_one() {
  if (spare_fd >= 0) {
    ::close(spare_fd);
    spare_fd = -1;
  }
  // Every connection waiting now: none of them could be served. Each takes
  // the one free descriptor for a moment.
  for (int shed = 0; shed < 1024; ++shed) {
    auto fd = ::accept4(acceptor.native_handle(), nullptr, nullptr,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      break;
    }
    refused->inc();
    auto sent = ::send(fd, shed_response.data(), shed_response.size(),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    (void) sent;
    ::close(fd);
  }
  spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

namespace {

size_t default_max_connections() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) {
    return 65'536;
  }
  // A quarter of the descriptors stays for storage files, the cluster's
  // connections and the process itself.
  return std::max<size_t>(16, static_cast<size_t>(lim.rlim_cur) / 4 * 3);
}

} // namespace

// -- server -------------------------------------------------------------------

server::server(server_config cfg, const router& routes,
               metrics::registry& registry)
  : impl_(std::make_unique<impl>(std::move(cfg), routes, registry)) {
}

server::~server() {
  stop();
}

result<void> server::start() {
  auto& im = *impl_;
  beast::error_code ec;
  auto addr = asio::ip::make_address(im.cfg.host, ec);
  if (ec) {
    return fail(errc::invalid_argument, "invalid listen address '"
                                          + im.cfg.host + "': " + ec.message());
  }
  tcp::endpoint ep{addr, im.cfg.port};
  im.acceptor.open(ep.protocol(), ec);
  if (!ec) {
    im.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    im.acceptor.bind(ep, ec);
  }
  if (!ec) {
    im.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return fail(errc::unavailable, "cannot listen on " + im.cfg.host + ":"
                                     + std::to_string(im.cfg.port) + ": "
                                     + ec.message());
  }
  im.bound_port = im.acceptor.local_endpoint().port();
  im.max_connections = im.cfg.max_connections != 0 ? im.cfg.max_connections
                                                   : default_max_connections();
  if (im.spare_fd < 0) {
    im.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  im.work.emplace(asio::make_work_guard(im.ioc));
  auto n = im.cfg.io_threads != 0
             ? im.cfg.io_threads
             : std::max<size_t>(1, std::thread::hardware_concurrency() / 2);
  im.outboxes.clear();
  for (size_t i = 0; i < n; ++i) {
    im.outboxes.push_back(std::make_unique<ws_outbox>());
  }
  im.do_accept();
  for (size_t i = 0; i < n; ++i) {
    im.threads.emplace_back([&im] { im.ioc.run(); });
  }
  return {};
}

uint16_t server::port() const {
  return impl_->bound_port;
}

size_t server::connections() const {
  return impl_->open.load();
}

void server::stop() {
  auto& im = *impl_;
  if (im.threads.empty()) {
    return;
  }
  im.draining = true;
  asio::post(im.acceptor.get_executor(), [&im] {
    beast::error_code ec;
    im.acceptor.close(ec);
    im.accept_timer.cancel();
  });
  {
    std::lock_guard guard{im.sessions_mtx};
    for (auto& w : im.sessions) {
      if (auto s = w.lock()) {
        s->shutdown();
      }
    }
  }
  // Wait for in-flight requests to finish and WebSockets to close.
  auto deadline = clock::now() + im.cfg.shutdown_grace;
  while (im.open.load() > 0 && clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  im.work.reset();
  im.ioc.stop();
  for (auto& t : im.threads) {
    t.join();
  }
  im.threads.clear();
  if (im.spare_fd >= 0) {
    ::close(im.spare_fd);
    im.spare_fd = -1;
  }
}

result<request> parse_request_bytes(std::string_view bytes,
                                    const router& routes,
                                    const server_config& cfg) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(cfg.max_body_bytes);
  parser.header_limit(static_cast<uint32_t>(cfg.max_header_bytes));
  parser.eager(true);
  beast::error_code ec;
  auto used = parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
  (void) used;
  if (ec == bhttp::error::need_more || (!ec && !parser.is_done())) {
    parser.put_eof(ec);
  }
  if (ec) {
    return parse_error_of(ec);
  }
  if (!parser.is_done()) {
    return fail(errc::invalid_argument, "incomplete request");
  }
  if (auto ok = check_framing(parser.get()); !ok) {
    return std::move(ok).err();
  }
  auto r = route_request(parser.get(), routes, "fuzz");
  if (r.early) {
    auto code = errc::invalid_argument;
    if (r.early->status == 404) {
      code = errc::not_found;
    }
    return fail(code, r.early->body);
  }
  return std::move(r.req);
}

} // namespace shoal::http
