#include "net/http/client.hpp"

#include "net/http/json.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <sys/socket.h>

namespace shoal::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

error io_error(const beast::error_code& ec) {
  if (ec == beast::error::timeout) {
    return error{errc::timeout, "timed out"};
  }
  return error{errc::unavailable, ec.message()};
}

// Runs the io_context until `done` or the deadline; returns false on timeout.
template <class Done>
bool run_until(asio::io_context& ioc, Done&& done) {
  ioc.restart();
  while (!done()) {
    if (ioc.run_one() == 0) {
      break;
    }
  }
  return done();
}

} // namespace

const std::string* client_response::header(std::string_view name) const {
  auto n = to_lower(name);
  for (const auto& [k, v] : headers) {
    if (k == n) {
      return &v;
    }
  }
  return nullptr;
}

struct client::impl {
  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // False if the server closed the kept-alive connection (or sent
  // something unasked) since the last answer: a new request must not be
  // sent on it, where it could be lost without telling whether it arrived.
  bool still_open() {
    char byte = 0;
    auto n = ::recv(stream->socket().native_handle(), &byte, 1,
                    MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  result<void> connect() {
    stream.emplace(ioc);
    tcp::resolver resolver{ioc};
    beast::error_code ec;
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
      return io_error(ec);
    }
    stream->expires_after(timeout);
    bool done = false;
    stream->async_connect(results, [&](beast::error_code e,
                                       const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    run_until(ioc, [&] { return done; });
    if (ec) {
      stream.reset();
      return io_error(ec);
    }
    buffer.clear();
    return {};
  }

  result<client_response> once(std::string_view verb, std::string_view target,
                               const std::string& body,
                               std::string_view content_type,
                               const header_list& headers) {
    if (stream && !still_open()) {
      stream.reset();
    }
    if (!stream) {
      if (auto ok = connect(); !ok) {
        return std::move(ok).err();
      }
    }
    bhttp::request<bhttp::string_body> req{
      bhttp::string_to_verb(verb), std::string{target}, 11};
    if (req.method() == bhttp::verb::unknown) {
      req.method_string(verb);
    }
    req.set(bhttp::field::host, host + ":" + std::to_string(port));
    req.set(bhttp::field::user_agent, "shoal-client");
    for (const auto& [name, value] : headers) {
      req.set(name, value);
    }
    if (!body.empty()) {
      req.set(bhttp::field::content_type, content_type);
    }
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    stream->expires_after(timeout);
    beast::error_code ec;
    bool done = false;
    bhttp::async_write(*stream, req, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    run_until(ioc, [&] { return done; });
    // A server may answer (413, say) and stop reading before the whole
    // request is written: still try to read its response.
    auto write_ec = ec;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    if (verb == "HEAD") {
      parser.skip(true);
    }
    done = false;
    bhttp::async_read(*stream, buffer, parser, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    run_until(ioc, [&] { return done; });
    if (ec) {
      stream.reset();
      if (write_ec || verb == "GET" || verb == "HEAD") {
        return io_error(write_ec ? write_ec : ec);
      }
      // The whole request went out and no answer came back: the server
      // may have applied it. Only a read is safe to send again blindly.
      return error{ec == beast::error::timeout ? errc::timeout : errc::maybe_committed,
                   "no answer after the request was sent (" + ec.message()
                     + "); it may have been applied"};
    }
    auto res = parser.release();
    client_response out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    for (const auto& f : res) {
      out.headers.emplace_back(to_lower(f.name_string()), std::string{f.value()});
    }
    if (!res.keep_alive() || write_ec) {
      stream.reset();
    }
    return out;
  }
};

client::client(std::string host, uint16_t port,
               std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

result<client_response> client::request(std::string_view verb,
                                        std::string_view target,
                                        std::string body,
                                        std::string_view content_type,
                                        const header_list& headers) {
  auto reused = impl_->stream.has_value();
  auto r = impl_->once(verb, target, body, content_type, headers);
  // A kept-alive connection lost before the request was sent (or while a
  // read was waiting for its answer): retry once on a fresh one. A write
  // whose answer was lost is `maybe_committed` and is not sent again.
  if (!r && reused && r.code() == errc::unavailable) {
    r = impl_->once(verb, target, body, content_type, headers);
  }
  return r;
}

// -- WebSocket client ---------------------------------------------------------

struct ws_client::impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  uint16_t close_code = 0;
  bool closed = false;
  bool reading = false;
  beast::error_code read_ec;
  bool read_done = false;
};

ws_client::ws_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

ws_client::~ws_client() {
  if (impl_ && !impl_->closed) {
    beast::error_code ec;
    beast::get_lowest_layer(impl_->ws).socket().close(ec);
  }
}

ws_client::ws_client(ws_client&&) noexcept = default;
ws_client& ws_client::operator=(ws_client&&) noexcept = default;

result<ws_client> ws_client::connect(const std::string& host, uint16_t port,
                                     const std::string& target,
                                     std::chrono::milliseconds timeout) {
  auto p = std::make_unique<impl>();
  tcp::resolver resolver{p->ioc};
  beast::error_code ec;
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec) {
    return io_error(ec);
  }
  auto& lowest = beast::get_lowest_layer(p->ws);
  lowest.expires_after(timeout);
  bool done = false;
  lowest.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  run_until(p->ioc, [&] { return done; });
  if (ec) {
    return io_error(ec);
  }
  websocket::response_type res;
  done = false;
  p->ws.async_handshake(res, host + ":" + std::to_string(port), target,
                        [&](beast::error_code e) {
                          ec = e;
                          done = true;
                        });
  run_until(p->ioc, [&] { return done; });
  if (ec) {
    if (res.result_int() >= 400) {
      auto parsed = parse_json(res.body());
      auto body = parsed ? std::move(*parsed) : json{};
      if (body.is_object() && body.contains("error")) {
        auto code = errc_from_string(
          body["error"].value("code", std::string{"internal"}));
        return error{code.value_or(errc::internal),
                     body["error"].value("message", std::string{})};
      }
      return error{errc::unavailable,
                   "handshake refused with " + std::to_string(res.result_int())};
    }
    return io_error(ec);
  }
  lowest.expires_never();
  return ws_client{std::move(p)};
}

result<void> ws_client::send_text(std::string_view message) {
  impl_->ws.text(true);
  beast::error_code ec;
  impl_->ws.write(asio::buffer(message.data(), message.size()), ec);
  if (ec) {
    return io_error(ec);
  }
  return {};
}

result<void> ws_client::ping() {
  beast::error_code ec;
  impl_->ws.ping({}, ec);
  if (ec) {
    return fail(errc::unavailable, "ping failed: " + ec.message());
  }
  return {};
}

result<void> ws_client::send_binary(std::string_view message) {
  impl_->ws.binary(true);
  beast::error_code ec;
  impl_->ws.write(asio::buffer(message.data(), message.size()), ec);
  if (ec) {
    return io_error(ec);
  }
  return {};
}

result<std::string> ws_client::read(std::chrono::milliseconds timeout) {
  auto& im = *impl_;
  if (im.closed) {
    return fail(errc::unavailable, "connection closed");
  }
  if (!im.reading) {
    im.reading = true;
    im.read_done = false;
    im.ws.async_read(im.buffer, [&im](beast::error_code e, size_t) {
      im.read_ec = e;
      im.read_done = true;
    });
  }
  // run_until may return early when idle; keep going until the deadline.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!im.read_done && std::chrono::steady_clock::now() < deadline) {
    im.ioc.restart();
    im.ioc.run_until(deadline);
  }
  if (!im.read_done) {
    return fail(errc::timeout, "no message within the timeout");
  }
  im.reading = false;
  if (im.read_ec) {
    im.closed = true;
    if (im.read_ec == websocket::error::closed) {
      im.close_code = static_cast<uint16_t>(im.ws.reason().code);
    }
    return io_error(im.read_ec);
  }
  auto out = beast::buffers_to_string(im.buffer.data());
  im.buffer.consume(im.buffer.size());
  return out;
}

result<void> ws_client::close(uint16_t code) {
  beast::error_code ec;
  impl_->ws.close(websocket::close_reason{static_cast<websocket::close_code>(code)},
                  ec);
  impl_->closed = true;
  if (ec) {
    return io_error(ec);
  }
  return {};
}

uint16_t ws_client::close_code() const {
  return impl_->close_code;
}

} // namespace shoal::http
