#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "actors/lease/lease_shard.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// The lease shards of a node. Started in two steps: `restore` loads every
/// lease (with its absolute deadline) so the other services can drop keys
/// and holds bound to leases that ended before a crash; `spawn` then starts
/// one actor per shard, once the shards that `on_end` notifies exist.
class lease_service {
public:
  static result<std::unique_ptr<lease_service>>
  restore(const storage::read_view& store, uint32_t shard_count,
          lease::lease_config cfg);

  /// Whether lease `id` was restored (before `spawn`; a lease past its
  /// deadline still counts: its end is announced at the first tick).
  bool restored(uint64_t id) const;

  /// Spawns the shards; grants go to the `owned` ones (this node's, in a
  /// cluster; every shard if empty).
  void spawn(caf::actor_system& sys, lease_shard_env env,
             std::vector<uint16_t> owned = {});

  /// The shard number of lease `id` (its id modulo the shard count).
  uint16_t shard_of(uint64_t id) const {
    return static_cast<uint16_t>(id % shards_.size());
  }

  /// This node's actor of lease `id`'s shard.
  const lease_shard_actor& shard_for(uint64_t id) const {
    return shards_[shard_of(id)];
  }

  const std::vector<lease_shard_actor>& shards() const {
    return shards_;
  }

  /// The shard for the next grant (round robin over the owned ones).
  const lease_shard_actor& next_shard() const {
    auto i = next_.fetch_add(1, std::memory_order_relaxed) % owned_.size();
    return shards_[owned_[i]];
  }

  void stop();

private:
  std::vector<lease::lease_table> tables_;
  std::vector<lease_shard_actor> shards_;
  std::vector<uint16_t> owned_;
  mutable std::atomic<uint64_t> next_{0};
};

} // namespace shoal
