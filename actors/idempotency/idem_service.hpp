#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "actors/idempotency/idem_shard.hpp"
#include "actors/sharding.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// The idempotency shards of a node: restores every shard's records from
/// storage (leases and retentions keep their absolute deadlines, so a
/// lease that ran out while the node was down is expired at once), spawns
/// one actor per shard and routes keys to them.
class idem_service {
public:
  static result<std::unique_ptr<idem_service>>
  start(caf::actor_system& sys, uint32_t shard_count, idem::idem_config cfg,
        idem_shard_env env);

  uint16_t shard_of(std::string_view key) const {
    return shard_index(key, static_cast<uint32_t>(shards_.size()));
  }

  const idem_shard_actor& shard_for(std::string_view key) const {
    return shards_[shard_of(key)];
  }

  const std::vector<idem_shard_actor>& shards() const {
    return shards_;
  }

  void stop();

private:
  std::vector<idem_shard_actor> shards_;
};

} // namespace shoal
