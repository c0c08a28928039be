#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "actors/kv/kv_shard.hpp"
#include "actors/sharding.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// The kv shards of a node: restores every shard from storage (expiring
/// keys whose deadline passed while the node was down, with events, before
/// serving), spawns one actor per shard and routes keys to them by xxHash.
class kv_service {
public:
  /// Restores and spawns `shard_count` shards. Keys bound to a lease for
  /// which `lease_alive` is false (it ended just before a crash) are
  /// deleted before serving.
  static result<std::unique_ptr<kv_service>>
  start(caf::actor_system& sys, uint32_t shard_count, kv::kv_config cfg,
        kv_shard_env env, const std::function<bool(uint64_t)>& lease_alive);

  /// The shard index of `key` (see `shard_index`).
  uint16_t shard_of(std::string_view key) const;

  /// The actor of `key`'s shard.
  const kv_shard_actor& shard_for(std::string_view key) const {
    return shards_[shard_of(key)];
  }

  const std::vector<kv_shard_actor>& shards() const {
    return shards_;
  }

  /// Stops every shard actor.
  void stop();

  /// The storage the shards write to (watchers read the change log).
  storage::engine& store() const {
    return *env_.store;
  }

private:
  std::vector<kv_shard_actor> shards_;
  kv_shard_env env_;
};

} // namespace shoal
