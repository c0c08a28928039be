// shoal-watch-fanout: N WebSocket watchers on one pattern; then puts, one
// at a time; for each put, the time from its acknowledgement to its arrival
// at the last watcher. Prints p50/p99 over the puts (JSON with --json), and
// the server's resident memory per watcher when --pid is given.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <CLI/CLI.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

struct shared {
  std::mutex mtx;
  std::condition_variable cv;
  // Arrivals of the current put's marker, and when the last one came.
  size_t arrived = 0;
  steady::time_point last_arrival;
  std::string marker;
  std::atomic<size_t> connected{0};
};

class watcher : public std::enable_shared_from_this<watcher> {
public:
  watcher(asio::io_context& ioc, shared& sh) : ws_(ioc), sh_(sh) {
  }

  void start(const tcp::resolver::results_type& ep, const std::string& host,
             const std::string& target) {
    beast::get_lowest_layer(ws_).async_connect(
      ep, [self = shared_from_this(), host, target](beast::error_code ec,
                                                   const tcp::endpoint&) {
        if (ec) {
          return;
        }
        self->ws_.async_handshake(host, target, [self](beast::error_code ec) {
          if (ec) {
            return;
          }
          self->sh_.connected++;
          self->read();
        });
      });
  }

private:
  void read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        return;
      }
      auto msg = beast::buffers_to_string(self->buf_.data());
      self->buf_.consume(self->buf_.size());
      {
        std::lock_guard guard{self->sh_.mtx};
        if (!self->sh_.marker.empty()
            && msg.find(self->sh_.marker) != std::string::npos) {
          self->sh_.last_arrival = steady::now();
          // Only the last arrival wakes the timing thread: a wake per
          // frame would cost the client a context switch per watcher.
          if (++self->sh_.arrived >= self->sh_.connected) {
            self->sh_.cv.notify_all();
          }
        }
      }
      self->read();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buf_;
  shared& sh_;
};

long rss_kib(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

} // namespace

int main(int argc, char** argv) {
  std::string url = "127.0.0.1:7700";
  size_t watchers = 1000;
  size_t puts = 200;
  int pid = 0;
  bool json_out = false;
  CLI::App app{"shoal-watch-fanout — watch fan-out latency"};
  app.add_option("--url", url)->capture_default_str();
  app.add_option("-w,--watchers", watchers)->capture_default_str();
  app.add_option("-n,--puts", puts)->capture_default_str();
  app.add_option("--pid", pid, "shoald's pid, to report memory per watcher");
  app.add_flag("--json", json_out);
  CLI11_PARSE(app, argc, argv);
  auto hp = shoal::parse_host_port(url);
  if (!hp || watchers == 0 || puts == 0) {
    return 2;
  }
  auto rss_before = pid > 0 ? rss_kib(pid) : -1;
  asio::io_context ioc;
  shared sh;
  tcp::resolver resolver{ioc};
  auto ep = resolver.resolve(hp->first, std::to_string(hp->second));
  for (size_t i = 0; i < watchers; ++i) {
    std::make_shared<watcher>(ioc, sh)->start(ep, hp->first,
                                              "/v1/watch?pattern=fanout.>");
  }
  std::thread io{[&] { ioc.run(); }};
  auto deadline = steady::now() + std::chrono::seconds{60};
  while (sh.connected < watchers && steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  // Registration completes asynchronously after the handshake.
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  auto rss_after = pid > 0 ? rss_kib(pid) : -1;
  shoal::http::client client{hp->first, hp->second};
  std::vector<double> lat_ms;
  size_t incomplete = 0;
  for (size_t i = 0; i < puts; ++i) {
    // The key is unique per put and appears verbatim in the event JSON.
    auto key = "fanout.k" + std::to_string(i);
    {
      std::lock_guard guard{sh.mtx};
      sh.arrived = 0;
      sh.marker = "\"" + key + "\"";
    }
    auto r = client.request("PUT", "/v1/kv/" + key, "v");
    auto acked = steady::now();
    if (!r || r->status != 200) {
      std::fprintf(stderr, "put failed\n");
      break;
    }
    std::unique_lock lock{sh.mtx};
    auto done = sh.cv.wait_for(lock, std::chrono::seconds{10},
                               [&] { return sh.arrived >= sh.connected; });
    if (!done) {
      ++incomplete;
      continue;
    }
    lat_ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(
                                      sh.last_arrival - acked)
                                      .count()));
  }
  ioc.stop();
  io.join();
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&](double p) {
    return lat_ms.empty() ? 0.0
                          : lat_ms[static_cast<size_t>(p / 100.0 * double(lat_ms.size() - 1))];
  };
  auto per_watcher_kib = (rss_before > 0 && rss_after > 0)
                           ? double(rss_after - rss_before) / double(watchers)
                           : -1.0;
  if (json_out) {
    std::printf("{\"watchers\":%zu,\"connected\":%zu,\"puts\":%zu,"
                "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
                "\"incomplete\":%zu,\"server_kib_per_watcher\":%.1f}\n",
                watchers, sh.connected.load(), lat_ms.size(), pct(50), pct(99),
                lat_ms.empty() ? 0.0 : lat_ms.back(), incomplete,
                per_watcher_kib);
  } else {
    std::printf("fan-out to %zu watchers (%zu connected), %zu puts: put ack -> "
                "last watcher p50 %.2f ms, p99 %.2f ms, max %.2f ms, "
                "incomplete %zu; server memory %.1f KiB per watcher\n",
                watchers, sh.connected.load(), lat_ms.size(), pct(50), pct(99),
                lat_ms.empty() ? 0.0 : lat_ms.back(), incomplete,
                per_watcher_kib);
  }
  return 0;
}
