#pragma once

#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/aggregate/cell_mirror.hpp"
#include "actors/aggregate/merge_hooks.hpp"
#include "actors/reply_to.hpp"
#include "actors/shard/shard_host.hpp"
#include "actors/type_ids.hpp"
#include "runtime/aggregate/aggregate_table.hpp"

namespace shoal {

/// The typed handle of one aggregate shard actor (local requests with a
/// `reply_to`, see actors/reply_to.hpp). It owns the cells and dedup marks
/// of its keys (`agg::aggregate_table`) and a window cache. Every answer
/// waits until the state it reports is durable.
/// - define(def) → true: the node's catalog gives every shard each
///   definition (it persisted it first); drop(name) → records removed.
/// - merge(batch) → one outcome per merge, in order. The batch's records
///   go to storage as one write: each merge (its dedup mark with it) is
///   all or nothing, and refused merges change nothing. On-merge hooks run
///   once the batch is durable.
/// - get(queries) → one outcome per query; windows over more than one
///   bucket are cached until a merge lands in them.
/// - seen(scope, event id, retention) → true for the first caller.
/// - sweep → expired cells and marks removed now.
/// - scan(has_after, after, limit) → up to `limit` live cells after `after`.
/// merge, get, seen and sweep also come as request/response messages
/// without the `reply_to`, for gateways on other nodes.
/// A mirror, if attached, gets the values of the cells each merge batch
/// changed once the batch is durable.
using agg_shard_actor = caf::typed_actor<
  caf::reacts_to<define_atom, agg::definition, reply_to<bool>>,
  caf::reacts_to<drop_atom, std::string, reply_to<uint64_t>>,
  caf::reacts_to<merge_atom, std::vector<agg::merge_cmd>,
                 reply_to<std::vector<agg::merge_outcome>>>,
  caf::reacts_to<get_atom, std::vector<agg::read_query>,
                 reply_to<std::vector<agg::read_outcome>>>,
  caf::reacts_to<seen_atom, std::string, std::string, duration, reply_to<bool>>,
  caf::reacts_to<sweep_atom, reply_to<uint64_t>>,
  caf::reacts_to<scan_atom, bool, agg::cell_snapshot, uint32_t,
                 reply_to<std::vector<agg::cell_snapshot>>>,
  caf::replies_to<merge_atom, std::vector<agg::merge_cmd>>::with<
    std::vector<agg::merge_outcome>>,
  caf::replies_to<get_atom, std::vector<agg::read_query>>::with<
    std::vector<agg::read_outcome>>,
  caf::replies_to<seen_atom, std::string, std::string, duration>::with<bool>,
  caf::replies_to<sweep_atom>::with<uint64_t>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>>;

/// What an aggregate shard needs from its node: the shard's (its tick,
/// every `sweep_interval`, removes expired cells and marks), and more.
struct agg_shard_env {
  shard_env shard;
  const merge_hooks* hooks = nullptr;
  const mirror_slot* mirror = nullptr;
  /// This shard's window cache, in bytes (0: none).
  size_t cache_bytes = 0;
};

agg_shard_actor spawn_agg_shard(caf::actor_system& sys, agg::aggregate_table table,
                                agg_shard_env env);

} // namespace shoal
