#pragma once

#include <map>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/shard/shard_host.hpp"
#include "actors/type_ids.hpp"
#include "runtime/lock/lock_table.hpp"

namespace shoal {

/// The typed handle of one lock shard actor (local requests with a
/// `reply_to`, see actors/reply_to.hpp). One machine holds every held or
/// contended key of the shard (`lock::lock_table`): its hold, waiter queue
/// and deadlines, the shard's fencing counter; one timer per shard wakes it
/// at the next deadline. Every answer waits until the state it reports is
/// durable.
/// - acquire: granted (with owner token and fence), `lock_held`, or — with
///   a wait — answered later when granted, or `timeout`. The shard draws
///   the owner token and the waiter id itself.
/// - refresh(key, token, ttl) → the lock; release(key, token) → the fence
///   of the hold that ended; get(key) → the lock without its owner token.
///   The four requests also come as request/response messages without the
///   `reply_to`, for gateways on other nodes.
/// - leases() → the leases holds or waiters of this shard may be bound to
///   (every lease an acquire named, until its end was heard of).
using lock_shard_actor = caf::typed_actor<
  caf::reacts_to<acquire_atom, lock::acquire_cmd, reply_to<lock::acquire_result>>,
  caf::reacts_to<refresh_atom, std::string, std::string, duration,
                 reply_to<lock::lock_info>>,
  caf::reacts_to<release_atom, std::string, std::string, reply_to<uint64_t>>,
  caf::reacts_to<get_atom, std::string, reply_to<lock::lock_info>>,
  caf::reacts_to<lease_end_atom, uint64_t, bool>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>,
  caf::replies_to<acquire_atom, lock::acquire_cmd>::with<lock::acquire_result>,
  caf::replies_to<refresh_atom, std::string, std::string, duration>::with<lock::lock_info>,
  caf::replies_to<release_atom, std::string, std::string>::with<uint64_t>,
  caf::replies_to<get_atom, std::string>::with<lock::lock_info>,
  caf::replies_to<leases_atom>::with<std::vector<uint64_t>>>;

/// What a lock shard needs from its node: the shard's, and the longest
/// its timer sleeps before it looks at the deadlines again (they are also
/// checked on every command).
struct lock_shard_env {
  shard_env shard;
  duration max_timer = std::chrono::seconds{5};
};

/// Spawns a shard around its restored table (holds included).
lock_shard_actor spawn_lock_shard(caf::actor_system& sys, lock::lock_table table,
                                  lock_shard_env env);

} // namespace shoal
