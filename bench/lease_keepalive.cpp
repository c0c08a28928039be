// shoal-lease-keepalive: S session WebSockets, each granting L leases over
// its socket; then the client threads renew all leases in rounds (each
// thread sends one keep-alive per lease of its sessions, back to back, then
// reads the answers) for a fixed time. Prints keep-alives per second and
// the round latency percentiles (JSON with --json).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "net/http/client.hpp"
#include "runtime/time.hpp"

using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct session {
  shoal::http::ws_client ws;
  std::vector<uint64_t> leases;
};

bool read_reply(session& s, json& out) {
  for (;;) {
    auto m = s.ws.read(30s);
    if (!m) {
      return false;
    }
    out = json::parse(*m, nullptr, false);
    if (out.contains("id")) {
      return true;
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal-lease-keepalive — lease keep-alives over sessions"};
  std::string url = "127.0.0.1:7700";
  size_t sessions = 100;
  size_t per_session = 100;
  size_t threads = 2;
  std::string duration_text = "10s";
  bool as_json = false;
  app.add_option("--url", url, "host:port")->capture_default_str();
  app.add_option("-s,--sessions", sessions)->capture_default_str();
  app.add_option("-l,--leases", per_session, "leases per session")->capture_default_str();
  app.add_option("-t,--threads", threads)->capture_default_str();
  app.add_option("-d,--duration", duration_text)->capture_default_str();
  app.add_flag("--json", as_json);
  CLI11_PARSE(app, argc, argv);
  auto colon = url.rfind(':');
  auto host = url.substr(0, colon);
  auto port = static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
  auto duration = shoal::parse_duration(duration_text);
  if (!duration) {
    std::fprintf(stderr, "bad duration\n");
    return 2;
  }

  std::vector<session> all;
  for (size_t i = 0; i < sessions; ++i) {
    auto ws = shoal::http::ws_client::connect(host, port, "/v1/session?ttl=60s");
    if (!ws) {
      std::fprintf(stderr, "connect: %s\n", shoal::to_string(ws.err()).c_str());
      return 1;
    }
    all.push_back(session{std::move(*ws), {}});
    auto hello = all.back().ws.read(30s);
    if (!hello) {
      return 1;
    }
  }
  // Grant the leases, pipelined per session.
  for (auto& s : all) {
    for (size_t i = 0; i < per_session; ++i) {
      if (!s.ws.send_text(json{{"id", i}, {"op", "grant"}, {"ttl", "60s"}}.dump())) {
        std::fprintf(stderr, "session closed while granting\n");
        return 1;
      }
    }
    for (size_t i = 0; i < per_session; ++i) {
      json r;
      if (!read_reply(s, r) || r["ok"] != true) {
        std::fprintf(stderr, "grant failed: %s\n", r.dump().c_str());
        return 1;
      }
      s.leases.push_back(r["lease"].get<uint64_t>());
    }
  }

  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::vector<int64_t>> rounds(threads);
  auto end = steady::now() + *duration;
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      while (steady::now() < end) {
        // A round: every lease of this thread's sessions renewed once, all
        // requests in flight together.
        auto start = steady::now();
        for (size_t i = t; i < all.size(); i += threads) {
          auto& s = all[i];
          for (auto lease : s.leases) {
            if (!s.ws.send_text(
                  json{{"id", lease}, {"op", "keepalive"}, {"lease", lease}}.dump())) {
              ++failed;
            }
          }
        }
        for (size_t i = t; i < all.size(); i += threads) {
          auto& s = all[i];
          for (size_t k = 0; k < s.leases.size(); ++k) {
            json r;
            if (!read_reply(s, r)) {
              ++failed;
              return;
            }
            if (r["ok"] == true) {
              ++done;
            } else {
              ++failed;
            }
          }
        }
        rounds[t].push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start)
            .count());
      }
    });
  }
  auto started = steady::now();
  for (auto& w : workers) {
    w.join();
  }
  auto secs = std::chrono::duration<double>(steady::now() - started).count();
  std::vector<int64_t> all_rounds;
  for (auto& r : rounds) {
    all_rounds.insert(all_rounds.end(), r.begin(), r.end());
  }
  std::sort(all_rounds.begin(), all_rounds.end());
  auto pct = [&](double p) -> int64_t {
    if (all_rounds.empty()) {
      return 0;
    }
    return all_rounds[std::min(all_rounds.size() - 1,
                               static_cast<size_t>(p * all_rounds.size()))];
  };
  json out{{"name", "lease-keepalive"},
           {"sessions", sessions},
           {"leases", sessions * per_session},
           {"keepalives", done.load()},
           {"failed", failed.load()},
           {"keepalives_per_s", static_cast<double>(done.load()) / secs},
           {"round_p50_us", pct(0.5)},
           {"round_p99_us", pct(0.99)}};
  if (as_json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%zu leases over %zu sessions: %.0f keep-alives/s (%lu failed), "
                "round p50 %ld us p99 %ld us\n",
                sessions * per_session, sessions,
                out["keepalives_per_s"].get<double>(),
                static_cast<unsigned long>(failed.load()),
                static_cast<long>(pct(0.5)), static_cast<long>(pct(0.99)));
  }
  return failed.load() == 0 ? 0 : 1;
}
