// In-process stream figures: replay speed (events folded per second from
// RocksDB through `shoal::replay`), and snapshot and restore time of an
// entity projection.
//   shoal-stream-bench [--events 1000000] [--entities 1000000]

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "actors/stream_client.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

int replay_bench(uint64_t events) {
  auto dir = std::filesystem::temp_directory_path() / "shoal-stream-bench";
  std::filesystem::remove_all(dir);
  shoal::node_config cfg;
  cfg.data_dir = dir.string();
  cfg.http_address.clear();
  auto n = shoal::node::start(cfg);
  if (!n) {
    std::fprintf(stderr, "node: %s\n", shoal::to_string(n.err()).c_str());
    return 1;
  }
  shoal::stream_client c{**n};
  std::vector<shoal::stream::event_data> batch(
    1000, shoal::stream::event_data{"e", std::string(256, 'x'), "", ""});
  auto t0 = clock_type::now();
  for (uint64_t done = 0; done < events; done += batch.size()) {
    if (auto r = c.append("bench", batch); !r) {
      std::fprintf(stderr, "append: %s\n", shoal::to_string(r.err()).c_str());
      return 1;
    }
  }
  auto append_s = seconds_since(t0);
  std::printf("append: %llu events in batches of 1000 in %.2f s (%.0f events/s)\n",
              static_cast<unsigned long long>(events), append_s,
              static_cast<double>(events) / append_s);
  for (int round = 0; round < 3; ++round) {
    t0 = clock_type::now();
    auto r = shoal::replay<uint64_t>(
      c, "bench", 0, 0,
      [](uint64_t bytes, const shoal::stream::event& e) {
        return bytes + e.payload.size();
      },
      {.batch_size = 4096});
    auto s = seconds_since(t0);
    if (!r) {
      std::fprintf(stderr, "replay: %s\n", shoal::to_string(r.err()).c_str());
      return 1;
    }
    std::printf("replay: %llu events folded in %.3f s (%.2f M events/s)\n",
                static_cast<unsigned long long>(r->applied), s,
                static_cast<double>(r->applied) / s / 1e6);
  }
  (*n)->stop();
  std::filesystem::remove_all(dir);
  return 0;
}

int snapshot_bench(uint64_t entities) {
  namespace st = shoal::stream;
  auto t0 = clock_type::now();
  st::entity_map m;
  for (uint64_t i = 0; i < entities; ++i) {
    auto id = "user." + std::to_string(i);
    st::entity_change c{st::entity_op::set,
                        {{"name", "\"user " + std::to_string(i) + "\""},
                         {"plan", "\"pro\""},
                         {"balance", std::to_string(i % 977)}},
                        "bench"};
    auto ev = st::event{st::entity_stream(id), 1, shoal::from_unix_nanos(1), "set",
                        st::encode_change(c), "", "", st::payload_format::binary};
    m = *st::apply_entity_event(m, id, ev);
  }
  std::printf("projection: %zu entities applied in %.2f s\n", m.size(),
              seconds_since(t0));
  t0 = clock_type::now();
  auto blob = st::encode_snapshot(m);
  std::printf("snapshot: %.2f s, %.1f MiB compressed\n", seconds_since(t0),
              static_cast<double>(blob.size()) / (1 << 20));
  t0 = clock_type::now();
  auto back = st::decode_snapshot(blob);
  if (!back || back->size() != m.size()) {
    std::fprintf(stderr, "restore failed\n");
    return 1;
  }
  std::printf("restore: %.2f s\n", seconds_since(t0));
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal-stream-bench — replay speed and projection snapshots"};
  uint64_t events = 1'000'000;
  uint64_t entities = 1'000'000;
  app.add_option("--events", events, "events to append and replay");
  app.add_option("--entities", entities, "entities to snapshot and restore");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  if (auto rc = replay_bench(events); rc != 0) {
    return rc;
  }
  return snapshot_bench(entities);
}
