#include "net/http/server.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "net/http/detail/server_impl.hpp"

namespace shoal::http {

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
      // The session counts itself open as it starts: one more than the
      // limit is refused with an answer, not a reset, so the client
      // learns why.
      std::optional<error> refusal;
      if (open.load() + 1 > max_connections) {
        refused->inc();
        refusal = error{errc::unavailable, "too many connections (the limit is "
                                             + std::to_string(max_connections) + ")"};
      }
      start_http_session(*this, std::move(socket), std::move(refusal));
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

} // namespace shoal::http
