#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "actors/node.hpp"

namespace shoal::cache {

struct redis_mirror_config {
  /// `host:port` of the Redis (or Valkey) server.
  std::string address;
  /// Keys are `prefix` + aggregate + `:` + entity + `:` + bucket.
  std::string prefix = "shoal:agg:";
  /// Cell updates waiting to be written; past this the mirror drops them
  /// and repopulates once it has caught up.
  size_t max_queue = 100'000;
  /// Wait between attempts to reach the server.
  std::chrono::milliseconds retry{500};
};

/// Mirrors every aggregate cell into Redis, write-through after the
/// durable commit: the value as the JSON the HTTP API returns (`42`,
/// `{"estimate":1834}`, …), with the cell's expiry as the key's. Redis is
/// never read as truth. When the server is unreachable, updates are
/// dropped; once it is back (a restart may have emptied it) the mirror
/// repopulates: it deletes the keys under its prefix and writes every live
/// cell again from the shards. A rebuild and a check (compare every cell
/// with Redis) can also be asked for, through `agg_service`'s
/// `cache_rebuild` and `cache_check` (the mirror is its `cell_mirror`).
/// In a cluster every member mirrors the cells of its own shards into the
/// same server: a rebuild
/// deletes and rewrites only those, and a check counts only their keys
/// (a key of an aggregate that no longer exists belongs to the member
/// that keeps the catalog). A node service named `redis-mirror`; one
/// thread of its own.
class redis_mirror : public node_service {
public:
  redis_mirror(node& n, redis_mirror_config cfg);
  ~redis_mirror() override;

  std::string name() const override {
    return "redis-mirror";
  }
  result<void> start() override;
  void stop() override;


  struct core;

private:
  node& node_;
  std::shared_ptr<core> core_;
};

/// A `node_config::services` entry for `redis_mirror`.
std::function<std::unique_ptr<node_service>(node&)>
redis_mirror_service(redis_mirror_config cfg);

} // namespace shoal::cache
