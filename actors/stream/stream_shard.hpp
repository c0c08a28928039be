#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/shard/shard_host.hpp"
#include "actors/stream/stream_feed.hpp"
#include "actors/type_ids.hpp"
#include "runtime/key.hpp"
#include "runtime/metrics.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"
#include "runtime/stream/entity.hpp"
#include "runtime/stream/stream_table.hpp"

namespace shoal {

/// The typed handle of one stream shard actor (local requests with a
/// `reply_to`, see actors/reply_to.hpp). It owns the metadata, dedup
/// window and checkpoint index of its streams (`stream::stream_table`);
/// events and checkpoint states live in storage. Changes are answered once
/// durable; reads wait until the state they report is durable.
/// - append(cmd) → seqs; the batch is one storage write.
/// - configure(cmd) → the stream's metadata after the change (put_atom).
/// - info(stream) → metadata, `not_found` for an unknown stream.
/// - read(query) → a page of events.
/// - save(checkpoint) → the checkpoint saved (without its state);
///   load(stream, at_or_before) → the newest checkpoint ≤ that seq (0: the
///   newest), `not_found` if none.
/// - replay(stream, target, limit) → the newest checkpoint ≤ target and the
///   first page of events after it; `compacted` if retention removed
///   events the replay needs.
/// - list(prefix, after, limit) → stream names of this shard.
/// - tail(stream, from, sink): a tail served by the stream's feed actor,
///   spawned on demand and retired when idle (`idle_atom` from the feed).
/// Every request but tail also comes as a request/response message without
/// the `reply_to`, for gateways on other nodes. Two more serve entity
/// reads from other nodes (this node's gateway reads the view itself):
/// - get(id, at) → the entity (at 0: as promoted; else as of seq `at`);
/// - scan(pattern, after, limit) → this shard's entities matching.
/// And a tail for a relay on another node (see actors/stream/stream_relay):
/// - tail(stream, from, relay, generation, credit) → the proxy actor that
///   feeds the relay.
using stream_shard_actor = caf::typed_actor<
  caf::reacts_to<append_atom, stream::append_cmd,
                 reply_to<stream::append_result>>,
  caf::reacts_to<put_atom, stream::configure_cmd, reply_to<stream::stream_info>>,
  caf::reacts_to<info_atom, std::string, reply_to<stream::stream_info>>,
  caf::reacts_to<read_atom, stream::read_query, reply_to<stream::event_page>>,
  caf::reacts_to<save_atom, stream::checkpoint, reply_to<stream::checkpoint>>,
  caf::reacts_to<load_atom, std::string, uint64_t, reply_to<stream::checkpoint>>,
  caf::reacts_to<replay_atom, std::string, uint64_t, uint32_t,
                 reply_to<stream::replay_page>>,
  caf::reacts_to<list_atom, std::string, std::string, uint32_t,
                 reply_to<std::vector<std::string>>>,
  caf::reacts_to<tail_atom, std::string, uint64_t,
                 std::shared_ptr<stream_tail_sink>>,
  caf::replies_to<append_atom, stream::append_cmd>::with<stream::append_result>,
  caf::replies_to<put_atom, stream::configure_cmd>::with<stream::stream_info>,
  caf::replies_to<info_atom, std::string>::with<stream::stream_info>,
  caf::replies_to<read_atom, stream::read_query>::with<stream::event_page>,
  caf::replies_to<save_atom, stream::checkpoint>::with<stream::checkpoint>,
  caf::replies_to<load_atom, std::string, uint64_t>::with<stream::checkpoint>,
  caf::replies_to<replay_atom, std::string, uint64_t, uint32_t>::with<stream::replay_page>,
  caf::replies_to<list_atom, std::string, std::string,
                  uint32_t>::with<std::vector<std::string>>,
  caf::replies_to<get_atom, std::string, uint64_t>::with<stream::entity_state>,
  caf::replies_to<scan_atom, std::string, std::string,
                  uint32_t>::with<std::vector<stream::entity_state>>,
  caf::replies_to<tail_atom, std::string, uint64_t, caf::actor, uint64_t,
                  uint32_t>::with<caf::actor>,
  caf::reacts_to<idle_atom, std::string, uint64_t>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>>;

/// The entities of `m` whose id matches `pattern` and sorts after
/// `after`, sorted by id, at most `limit`.
std::vector<stream::entity_state> matching_entities(const stream::entity_map& m,
                                                    const key_pattern& pattern,
                                                    std::string_view after,
                                                    size_t limit);

/// The promoted entity projection of one shard: the version whose events
/// are all durable. The shard stores a new root after each durable append
/// to an entity stream; readers on any thread load it (one atomic pointer
/// copy) and keep a consistent view as long as they hold it, never blocking
/// the shard.
struct entity_view {
  std::atomic<std::shared_ptr<const stream::entity_map>> root{
    std::make_shared<const stream::entity_map>()};

  std::shared_ptr<const stream::entity_map> load() const {
    return root.load(std::memory_order_acquire);
  }
};

/// When a shard snapshots its entity projection: after this many entity
/// events, or this long after the first one since the last snapshot.
struct snapshot_policy {
  uint64_t every_events = 10'000;
  duration every = std::chrono::seconds{60};
  /// Snapshots kept per shard (the newest; an older one is the fallback
  /// when the newest is corrupt).
  uint64_t keep = 2;
};

/// What a stream shard needs from its node. Outlives every shard.
/// What a stream shard needs from its node: the shard's (its tick, every
/// `sweep_interval`, sweeps dedup marks, runs age retention and maybe
/// writes a projection snapshot), and more.
struct stream_shard_env {
  shard_env shard;
  stream_feed_options feeds;
  /// The most events one read or replay page returns.
  uint32_t max_read = 10'000;
  snapshot_policy snapshots;
};

/// The restored projection a shard starts from.
struct entity_start {
  stream::entity_map entities;
  /// The number of the newest snapshot (the next one gets a higher one).
  uint64_t snapshot_no = 0;
  /// Where the shard publishes its promoted projection (already holding
  /// `entities`).
  std::shared_ptr<entity_view> view;
};

/// Spawns a stream shard. Appends to entity streams (`$entity.<id>`, sent
/// by `stream_client::append_entity`) must carry entity changes (checked
/// before the append: refused changes append nothing); once the append is
/// durable they fold into the shard's projection, promoted to `start.view`
/// before the append is answered.
stream_shard_actor spawn_stream_shard(caf::actor_system& sys,
                                      stream::stream_table table,
                                      stream_shard_env env, entity_start start);

} // namespace shoal
