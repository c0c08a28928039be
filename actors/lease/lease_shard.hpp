#pragma once

#include <functional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/shard/shard_host.hpp"
#include "actors/type_ids.hpp"
#include "runtime/lease/lease_table.hpp"

namespace shoal {

/// The typed handle of one lease shard actor (local requests with a
/// `reply_to`). Every answer waits until the state it reports is durable.
/// - grant(ttl) → a new lease; the shard draws its id (random, ≡ the shard
///   index modulo the shard count, so the id names its shard).
/// - keepalive(id), revoke(id), get(id) → the lease, or `not_found`.
/// Answers are called on the shard's thread, in order with the `on_end`
/// notices: a caller that saw a lease alive and sends on from its callback
/// reaches a kv or lock shard before that lease's end does.
/// The four requests also come as request/response messages, for gateways
/// on other nodes, and one more binds a command to a lease across nodes:
/// - bind(lease, target, command): if the lease is alive, the command is
///   delegated to `target` (a kv or lock shard anywhere; it answers the
///   requester), else the requester gets `not_found`. Sent from this
///   shard's thread, so it reaches `target` before the lease's end does.
/// - check(ids) → those of `ids` this shard does not know (ended or never
///   granted): one request for a page of leases (the reconciler's).
using lease_shard_actor = caf::typed_actor<
  caf::reacts_to<grant_atom, duration, reply_to<lease::lease_info>>,
  caf::reacts_to<keepalive_atom, uint64_t, reply_to<lease::lease_info>>,
  caf::reacts_to<revoke_atom, uint64_t, reply_to<lease::lease_info>>,
  caf::reacts_to<get_atom, uint64_t, reply_to<lease::lease_info>>,
  caf::replies_to<grant_atom, duration>::with<lease::lease_info>,
  caf::replies_to<keepalive_atom, uint64_t>::with<lease::lease_info>,
  caf::replies_to<revoke_atom, uint64_t>::with<lease::lease_info>,
  caf::replies_to<get_atom, uint64_t>::with<lease::lease_info>,
  caf::replies_to<check_atom, std::vector<uint64_t>>::with<std::vector<uint64_t>>,
  caf::reacts_to<bind_atom, uint64_t, caf::actor, caf::message>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>>;

/// What a lease shard needs from its node: the shard's (its tick, every
/// `sweep_interval`, ends expired leases), and more.
struct lease_shard_env {
  shard_env shard;
  uint32_t shard_count = 1;
  /// Called on the shard's thread once a lease's end is durable, with
  /// `expired` false for a revoke: the node tells its kv and lock shards.
  std::function<void(uint64_t lease, bool expired)> on_end;
};

lease_shard_actor spawn_lease_shard(caf::actor_system& sys,
                                    lease::lease_table table,
                                    lease_shard_env env);

} // namespace shoal
