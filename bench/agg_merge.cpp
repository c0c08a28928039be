// In-process merge throughput through agg_client: `threads` callers each
// keep `window` batches of `batch` merges in flight against an embedded
// node (RocksDB in a temp dir with --sync batch, or --memory), for sum and
// hll, with and without event ids. Prints one JSON line per case.
//
//   shoal-agg-merge [-t 2] [-b 1000] [-w 4] [-d 3] [-e 1000] [--memory]

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "actors/agg_client.hpp"
#include "actors/node.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct options {
  int threads = 2;
  size_t batch = 1000;
  int window = 4;
  double seconds = 3;
  bool memory = false;
  uint64_t entities = 1000;
};

// Runs one case; returns merges per second.
double run_case(shoal::node& n, const options& o, const std::string& name, bool hll,
                bool event_ids) {
  shoal::agg_client c{n};
  std::atomic<uint64_t> merged{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> next_event{0};
  auto until = steady::now() + std::chrono::duration<double>(o.seconds);
  auto worker = [&](int t) {
    std::mutex mtx;
    std::condition_variable cv;
    int in_flight = 0;
    uint64_t seq = static_cast<uint64_t>(t) << 40;
    while (steady::now() < until) {
      std::vector<shoal::agg::merge_cmd> batch;
      batch.reserve(o.batch);
      for (size_t i = 0; i < o.batch; ++i, ++seq) {
        shoal::agg::merge_cmd cmd;
        cmd.name = name;
        cmd.entity = "e" + std::to_string(seq % o.entities);
        if (hll) {
          shoal::agg::hll h;
          h.add("u" + std::to_string(seq));
          cmd.delta = std::move(h);
        } else {
          cmd.delta = int64_t{1};
        }
        if (event_ids) {
          cmd.event_id = "ev" + std::to_string(next_event.fetch_add(1));
        }
        batch.push_back(std::move(cmd));
      }
      {
        std::unique_lock lock{mtx};
        cv.wait(lock, [&] { return in_flight < o.window; });
        ++in_flight;
      }
      c.merge_async(std::move(batch),
                    [&](shoal::result<std::vector<shoal::agg::merge_outcome>> r) {
                      if (r) {
                        uint64_t ok = 0;
                        for (const auto& x : *r) {
                          ok += x.code == 0 ? 1 : 0;
                        }
                        merged += ok;
                        failed += r->size() - ok;
                      } else {
                        failed += 1;
                      }
                      std::lock_guard lock{mtx};
                      --in_flight;
                      cv.notify_one();
                    });
    }
    std::unique_lock lock{mtx};
    cv.wait(lock, [&] { return in_flight == 0; });
  };
  auto start = steady::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < o.threads; ++t) {
    ts.emplace_back(worker, t);
  }
  for (auto& t : ts) {
    t.join();
  }
  auto secs = std::chrono::duration<double>(steady::now() - start).count();
  auto rate = static_cast<double>(merged.load()) / secs;
  std::printf("{\"name\":\"%s%s\",\"storage\":\"%s\",\"batch\":%zu,\"entities\":%llu,"
              "\"merges\":%llu,"
              "\"failed\":%llu,\"seconds\":%.2f,\"merges_per_s\":%.0f}\n",
              hll ? "hll" : "sum", event_ids ? "-eventid" : "", o.memory ? "memory" : "rocksdb",
              o.batch, static_cast<unsigned long long>(o.entities),
              static_cast<unsigned long long>(merged.load()),
              static_cast<unsigned long long>(failed.load()), secs, rate);
  std::fflush(stdout);
  return rate;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"in-process aggregate merge throughput"};
  app.add_option("-t,--threads", o.threads, "calling threads")->capture_default_str();
  app.add_option("-b,--batch", o.batch, "merges per batch")->capture_default_str();
  app.add_option("-w,--window", o.window, "batches in flight per thread")
    ->capture_default_str();
  app.add_option("-d,--seconds", o.seconds, "seconds per case")->capture_default_str();
  app.add_flag("--memory", o.memory, "in-memory node instead of RocksDB");
  app.add_option("-e,--entities", o.entities, "entities merged into (round robin)")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  auto dir = std::filesystem::temp_directory_path()
             / ("shoal-agg-bench-" + std::to_string(::getpid()));
  shoal::node_config cfg;
  cfg.http_address.clear();
  if (!o.memory) {
    cfg.data_dir = dir.string();
  }
  auto n = shoal::node::start(cfg);
  if (!n) {
    std::fprintf(stderr, "node: %s\n", shoal::to_string(n.err()).c_str());
    return 1;
  }
  shoal::agg_client c{**n};
  for (auto k : {shoal::agg::kind::sum, shoal::agg::kind::hll}) {
    auto name = k == shoal::agg::kind::sum ? "b.sum" : "b.hll";
    if (auto ok = c.define({.name = name, .k = k, .window = 1h, .retention = 48h}); !ok) {
      std::fprintf(stderr, "define: %s\n", shoal::to_string(ok.err()).c_str());
      return 1;
    }
  }
  run_case(**n, o, "b.sum", false, false);
  run_case(**n, o, "b.sum", false, true);
  run_case(**n, o, "b.hll", true, false);
  run_case(**n, o, "b.hll", true, true);
  (*n)->stop();
  std::filesystem::remove_all(dir);
  return 0;
}
