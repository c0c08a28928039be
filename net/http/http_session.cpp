// HTTP sessions: reading requests (limits, framing, timeouts), routing
// them, writing answers in order, and handing upgrades to WebSocket
// sessions. Also the same parsing without sockets, for the fuzz target.

#include "net/http/detail/server_impl.hpp"

#include <array>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "net/http/http_error.hpp"
#include "net/http/target.hpp"

namespace shoal::http {

namespace websocket = boost::beast::websocket;

namespace {

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
    start_ws_session(srv_, stream_.release_socket(), std::move(*handler), remote_,
                     std::move(breq));
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

void start_http_session(server::impl& srv, socket_type&& socket,
                        std::optional<error> refusal) {
  auto s = std::make_shared<http_session>(srv, std::move(socket));
  srv.track(s);
  if (refusal) {
    s->refuse_at_once(std::move(*refusal));
  } else {
    s->run();
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
