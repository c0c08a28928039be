// Service discovery with TTL keys: instances register under services.web.*
// with a TTL and refresh it while alive; a watcher sees them come and go,
// including the instance that stops refreshing and expires.

#include <cstdio>
#include <future>
#include <mutex>

#include "actors/kv_client.hpp"
#include "actors/node.hpp"

using namespace std::chrono_literals;

int main() {
  // 1. An in-memory node (a data dir would make the registrations durable).
  shoal::node_config cfg;
  cfg.http_address = "";
  cfg.worker_threads = 2;
  auto started = shoal::node::start(cfg);
  if (!started) {
    std::fprintf(stderr, "cannot start: %s\n",
                 shoal::to_string(started.err()).c_str());
    return 1;
  }
  auto node = std::move(started).value();
  shoal::kv_client kv{*node};

  // 2. A watcher on everything below services.web.
  std::mutex mtx;
  std::promise<void> expired;
  shoal::kv_watch_options opts;
  opts.pattern = "services.web.>";
  opts.initial = true; // registrations made before the watch is set up too
  shoal::watch_guard watch{kv.watch(opts, [&](const shoal::kv::event& ev,
                                             const std::string&) {
    std::lock_guard guard{mtx};
    std::printf("watch: %-6s %s %s\n",
                std::string{shoal::kv::to_string(ev.op)}.c_str(),
                ev.key.c_str(), ev.value.c_str());
    if (ev.op == shoal::kv::operation::expire) {
      expired.set_value();
    }
  })};

  // 3. Three instances register with a short TTL.
  for (auto name : {"web-1", "web-2", "web-3"}) {
    auto key = std::string{"services.web."} + name;
    if (!kv.put(key, std::string{"10.0.0."} + name[4] + ":8080", 600ms)) {
      return 1;
    }
  }

  // 4. web-1 and web-2 refresh their registration; web-3 has crashed.
  if (!kv.put("services.web.web-1", "10.0.0.1:8080", 10s)
      || !kv.put("services.web.web-2", "10.0.0.2:8080", 10s)) {
    return 1;
  }
  if (expired.get_future().wait_for(5s) != std::future_status::ready) {
    std::fprintf(stderr, "web-3 did not expire\n");
    return 1;
  }

  // 5. Who is alive now?
  auto alive = kv.list("services.web.>");
  if (!alive) {
    return 1;
  }
  std::lock_guard guard{mtx};
  for (const auto& e : alive->items) {
    std::printf("alive: %s at %s\n", e.key.c_str(), e.value.c_str());
  }
  return alive->items.size() == 2 ? 0 : 1;
}
