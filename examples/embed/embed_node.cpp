// Embedding shoal: start a node inside your program, spawn your own actor in
// its actor system, and ask shoal's node actor for its status through the
// typed handle `shoal::node_actor`.

#include <cstdio>
#include <future>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/node.hpp"

int main() {
  // 1. Config: in-memory storage, no HTTP gateway, two scheduler threads.
  shoal::node_config cfg;
  cfg.data_dir = "";      // a path here would use RocksDB
  cfg.http_address = "";  // "127.0.0.1:7700" would serve HTTP (link shoal::net
                          // and add shoal::http::gateway_service())
  cfg.worker_threads = 2;

  // 2. Start the node.
  auto started = shoal::node::start(cfg);
  if (!started) {
    std::fprintf(stderr, "cannot start: %s\n",
                 shoal::to_string(started.err()).c_str());
    return 1;
  }
  auto node = std::move(started).value();

  // 3. An actor of our own asks the node actor, asynchronously.
  std::promise<shoal::node_info> reply;
  auto target = node->handle();
  node->system().spawn([target, &reply](caf::event_based_actor* self) {
    self->request(target, caf::duration{std::chrono::seconds{5}},
                  shoal::info_atom_v)
      .then([&reply](const shoal::node_info& info) { reply.set_value(info); });
  });
  auto info = reply.get_future().get();

  // 4. Print.
  std::printf("node %s (shoal %s): storage=%s, sync=%s, %u shards\n",
              info.node_id.c_str(), info.version.c_str(), info.storage.c_str(),
              info.sync_mode.c_str(), info.shard_count);

  // 5. Clean shutdown (the destructor would do the same).
  node->stop();
  return 0;
}
