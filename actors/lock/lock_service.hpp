#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "actors/lock/lock_shard.hpp"
#include "actors/sharding.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// The lock shards of a node: restores holders and fencing counters from
/// storage (holds keep their absolute deadlines; one that ran out while the
/// node was down ends at the first tick), spawns one actor per shard and
/// routes lock keys to them.
class lock_service {
public:
  /// Restores and spawns the shards; holds bound to a lease for which
  /// `lease_alive` is false end before serving.
  static result<std::unique_ptr<lock_service>>
  start(caf::actor_system& sys, uint32_t shard_count, lock::lock_config cfg,
        lock_shard_env env, const std::function<bool(uint64_t)>& lease_alive);

  const std::vector<lock_shard_actor>& shards() const {
    return shards_;
  }

  uint16_t shard_of(std::string_view key) const {
    return shard_index(key, static_cast<uint32_t>(shards_.size()));
  }

  const lock_shard_actor& shard_for(std::string_view key) const {
    return shards_[shard_of(key)];
  }

  void stop();

private:
  std::vector<lock_shard_actor> shards_;
};

} // namespace shoal
