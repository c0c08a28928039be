#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "actors/sharding.hpp"
#include "actors/stream/stream_shard.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// Limits of the stream primitive.
struct stream_service_config {
  stream::stream_config table;
  stream_feed_options feeds;
  /// The most events one read or replay page returns.
  uint32_t max_read = 10'000;
  /// When entity projections are snapshotted.
  snapshot_policy snapshots;
};

/// The stream shards of a node: restores every shard's stream metadata,
/// dedup marks and checkpoint index from storage, and its entity projection
/// (the newest valid snapshot — a corrupt one is skipped with a warning —
/// plus the events of every entity stream after it), spawns one actor per
/// shard and routes stream names to them. Events are read from storage by
/// the shards (and by `store()` users such as in-process replay).
class stream_service {
public:
  static result<std::unique_ptr<stream_service>>
  start(caf::actor_system& sys, uint32_t shard_count, stream_service_config cfg,
        stream_shard_env env);

  uint16_t shard_of(std::string_view stream) const {
    return shard_index(stream, static_cast<uint32_t>(shards_.size()));
  }

  const stream_shard_actor& shard_for(std::string_view stream) const {
    return shards_[shard_of(stream)];
  }

  const std::vector<stream_shard_actor>& shards() const {
    return shards_;
  }

  const storage::read_view& store() const {
    return *store_;
  }

  const stream_service_config& config() const {
    return cfg_;
  }

  /// The promoted projection of the shard that owns entity `id`.
  std::shared_ptr<const stream::entity_map> entities_of(std::string_view id) const {
    return views_[shard_of(stream::entity_stream(id))]->load();
  }

  /// The promoted projections of every shard.
  std::vector<std::shared_ptr<const stream::entity_map>> all_entities() const;

  void stop();

private:
  std::vector<stream_shard_actor> shards_;
  std::vector<std::shared_ptr<entity_view>> views_;
  const storage::read_view* store_ = nullptr;
  stream_service_config cfg_;
};

} // namespace shoal
