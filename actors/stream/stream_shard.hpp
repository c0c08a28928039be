#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/stream/stream_feed.hpp"
#include "actors/type_ids.hpp"
#include "runtime/metrics.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"
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
  caf::reacts_to<idle_atom, std::string, uint64_t>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>>;

/// What a stream shard needs from its node. Outlives every shard.
struct stream_shard_env {
  storage::engine* store = nullptr;
  storage::committer* committer = nullptr;
  const clock_source* clock = nullptr;
  metrics::registry* metrics = nullptr;
  /// How often dedup marks are swept and age retention runs.
  duration sweep_interval = std::chrono::seconds{1};
  stream_feed_options feeds;
  /// The most events one read or replay page returns.
  uint32_t max_read = 10'000;
};

stream_shard_actor spawn_stream_shard(caf::actor_system& sys,
                                      stream::stream_table table,
                                      stream_shard_env env);

} // namespace shoal
