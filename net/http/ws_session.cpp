// WebSocket sessions: reading messages for their handler, writing what
// other threads order through the outboxes, pings, closes.

#include "net/http/detail/server_impl.hpp"

#include <deque>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

namespace shoal::http {

namespace websocket = boost::beast::websocket;

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

void start_ws_session(server::impl& srv, socket_type&& socket,
                      std::unique_ptr<ws_handler> handler, std::string remote,
                      beast_request upgrade) {
  auto ws = std::make_shared<ws_session>(srv, std::move(socket), std::move(handler),
                                         std::move(remote));
  srv.track(ws);
  ws->run(std::move(upgrade));
}

} // namespace shoal::http
