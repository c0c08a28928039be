// shoal-watch-fanout: N WebSocket watchers on one pattern; once every one
// is synced (registered with every shard), puts, one at a time; for each
// put, the time from its acknowledgement to its arrival at the last
// watcher. The first few puts (--warmup) are not measured. Prints p50/p99
// over the puts (JSON with --json), and the server's resident memory per
// watcher when --pid is given.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "actors/node.hpp"
#include "bench/plain_socket.hpp"
#include "net/http/client.hpp"

using steady = std::chrono::steady_clock;

namespace {

struct shared {
  std::mutex mtx;
  std::condition_variable cv;
  // Arrivals of the current put's marker, and when the last one came.
  size_t arrived = 0;
  steady::time_point last_arrival;
  std::string marker;
  // Bumped (under mtx) whenever `marker` changes, so the reader thread
  // takes the lock only then, not per frame.
  std::atomic<uint64_t> generation{0};
  size_t connected = 0;
  // Watchers whose `synced` notice came: registered with every shard.
  size_t synced = 0;
};

// The opening handshake, blocking; bytes read past the 101 response are
// left in `rest`. False if the server did not switch protocols.
bool handshake(int fd, const std::string& host, const std::string& target,
               std::string& rest) {
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host
                    + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(req.size())) {
    return false;
  }
  std::string in;
  char buf[4096];
  for (;;) {
    auto end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      rest = in.substr(end + 4);
      return in.compare(0, 12, "HTTP/1.1 101") == 0;
    }
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      return false;
    }
    in.append(buf, static_cast<size_t>(n));
  }
}

// One watcher's socket: reads server frames (unmasked) and answers pings.
struct watcher {
  int fd = -1;
  std::string in;
};

// Parses the complete frames at the start of `w.in`, calling `on_text` with
// each text payload; answers pings. Returns false on a close frame or a
// malformed one.
template <class OnText>
bool drain_frames(watcher& w, OnText&& on_text) {
  size_t pos = 0;
  for (;;) {
    auto avail = w.in.size() - pos;
    if (avail < 2) {
      break;
    }
    auto b0 = static_cast<unsigned char>(w.in[pos]);
    auto b1 = static_cast<unsigned char>(w.in[pos + 1]);
    size_t head = 2;
    uint64_t len = b1 & 0x7f;
    if (len == 126) {
      if (avail < 4) {
        break;
      }
      len = (uint64_t{static_cast<unsigned char>(w.in[pos + 2])} << 8)
            | static_cast<unsigned char>(w.in[pos + 3]);
      head = 4;
    } else if (len == 127) {
      if (avail < 10) {
        break;
      }
      len = 0;
      for (int i = 0; i < 8; ++i) {
        len = (len << 8) | static_cast<unsigned char>(w.in[pos + 2 + i]);
      }
      head = 10;
    }
    if ((b1 & 0x80) != 0) {
      return false; // servers do not mask
    }
    if (avail < head + len) {
      break;
    }
    std::string_view payload{w.in.data() + pos + head, static_cast<size_t>(len)};
    auto opcode = b0 & 0x0f;
    if (opcode == 0x8) {
      return false;
    }
    if (opcode == 0x9) {
      // Pong with the same payload, masked with a zero key.
      std::string pong;
      pong += static_cast<char>(0x8a);
      pong += static_cast<char>(0x80 | payload.size());
      pong.append(4, '\0');
      pong.append(payload);
      (void)::send(w.fd, pong.data(), pong.size(), MSG_NOSIGNAL);
    } else if (opcode == 0x1 || opcode == 0x0) {
      on_text(payload);
    }
    pos += head + len;
  }
  w.in.erase(0, pos);
  return true;
}

// Reads every watcher's frames on one epoll loop until `stop`.
void read_loop(std::vector<watcher>& ws, shared& sh, std::atomic<bool>& stop) {
  int ep = ::epoll_create1(0);
  for (auto& w : ws) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &w;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, w.fd, &ev);
  }
  uint64_t seen_generation = ~uint64_t{0};
  std::string marker;
  size_t arrived = 0;
  std::vector<epoll_event> events(ws.size() + 1);
  char buf[65536];
  auto on_text = [&](std::string_view text) {
    if (text.find("\"type\":\"synced\"") != std::string_view::npos) {
      std::lock_guard guard{sh.mtx};
      if (++sh.synced >= sh.connected) {
        sh.cv.notify_all();
      }
      return;
    }
    if (marker.empty() || text.find(marker) == std::string_view::npos) {
      return;
    }
    ++arrived;
    std::lock_guard guard{sh.mtx};
    sh.arrived = arrived;
    sh.last_arrival = steady::now();
    // Only the last arrival wakes the timing thread.
    if (arrived >= sh.connected) {
      sh.cv.notify_all();
    }
  };
  while (!stop.load()) {
    auto n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    auto gen = sh.generation.load();
    if (gen != seen_generation) {
      std::lock_guard guard{sh.mtx};
      marker = sh.marker;
      seen_generation = sh.generation.load();
      arrived = 0;
    }
    for (int i = 0; i < n; ++i) {
      auto& w = *static_cast<watcher*>(events[i].data.ptr);
      auto got = ::recv(w.fd, buf, sizeof(buf), 0);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          continue;
        }
        ::epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
        continue;
      }
      w.in.append(buf, static_cast<size_t>(got));
      if (!drain_frames(w, on_text)) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
      }
    }
  }
  ::close(ep);
}

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
  size_t warmup = 10;
  CLI::App app{"shoal-watch-fanout — watch fan-out latency"};
  app.add_option("--url", url)->capture_default_str();
  app.add_option("-w,--watchers", watchers)->capture_default_str();
  app.add_option("-n,--puts", puts)->capture_default_str();
  app.add_option("--pid", pid, "shoald's pid, to report memory per watcher");
  app.add_flag("--json", json_out);
  app.add_option("--warmup", warmup,
                 "puts made first and not measured (the first frames on "
                 "fresh connections)")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto hp = shoal::parse_host_port(url);
  if (!hp || watchers == 0 || puts == 0) {
    return 2;
  }
  auto rss_before = pid > 0 ? rss_kib(pid) : -1;
  auto addr = shoal::bench::resolve(hp->first, hp->second);
  if (!addr) {
    return 2;
  }
  shared sh;
  // The handshakes are made one by one (blocking); the reads then run on
  // one epoll loop with plain sockets, so that the client costs the shared
  // cores as little as possible.
  std::vector<watcher> ws;
  ws.reserve(watchers);
  for (size_t i = 0; i < watchers; ++i) {
    int fd = shoal::bench::dial(*addr, false);
    std::string rest;
    if (fd < 0 || !handshake(fd, url, "/v1/watch?pattern=fanout.>", rest)) {
      if (fd >= 0) {
        ::close(fd);
      }
      continue;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    ws.push_back(watcher{fd, std::move(rest)});
  }
  sh.connected = ws.size();
  std::atomic<bool> stop{false};
  std::thread io{[&] { read_loop(ws, sh, stop); }};
  // Registration with every shard completes after the handshake; each
  // watcher says so with `synced`. The puts start when all have.
  {
    std::unique_lock lock{sh.mtx};
    if (!sh.cv.wait_for(lock, std::chrono::seconds{60},
                        [&] { return sh.synced >= sh.connected; })) {
      std::fprintf(stderr, "only %zu of %zu watchers synced\n", sh.synced,
                   sh.connected);
      stop = true;
      lock.unlock();
      io.join();
      return 1;
    }
  }
  auto rss_after = pid > 0 ? rss_kib(pid) : -1;
  shoal::http::client client{hp->first, hp->second};
  std::vector<double> lat_ms;
  size_t incomplete = 0;
  for (size_t i = 0; i < warmup + puts; ++i) {
    // The key is unique per put and appears verbatim in the event JSON.
    auto key = "fanout.k" + std::to_string(i);
    {
      std::lock_guard guard{sh.mtx};
      sh.arrived = 0;
      sh.marker = "\"" + key + "\"";
      sh.generation++;
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
    if (i < warmup) {
      continue;
    }
    lat_ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(
                                      sh.last_arrival - acked)
                                      .count()));
  }
  stop = true;
  io.join();
  for (auto& w : ws) {
    ::close(w.fd);
  }
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
                watchers, sh.connected, lat_ms.size(), pct(50), pct(99),
                lat_ms.empty() ? 0.0 : lat_ms.back(), incomplete,
                per_watcher_kib);
  } else {
    std::printf("fan-out to %zu watchers (%zu connected), %zu puts: put ack -> "
                "last watcher p50 %.2f ms, p99 %.2f ms, max %.2f ms, "
                "incomplete %zu; server memory %.1f KiB per watcher\n",
                watchers, sh.connected, lat_ms.size(), pct(50), pct(99),
                lat_ms.empty() ? 0.0 : lat_ms.back(), incomplete,
                per_watcher_kib);
  }
  return 0;
}
