#pragma once

#include <map>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/type_ids.hpp"
#include "runtime/lock/lock_table.hpp"
#include "runtime/metrics.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"

namespace shoal {

/// What a lock shard and its lock actors both handle: the lock requests
/// (the shard forwards them to the key's lock actor), the end of a lease
/// and their own commit reports.
using lock_requests = caf::typed_actor<
  caf::reacts_to<acquire_atom, lock::acquire_cmd, reply_to<lock::acquire_result>>,
  caf::reacts_to<refresh_atom, std::string, std::string, duration,
                 reply_to<lock::lock_info>>,
  caf::reacts_to<release_atom, std::string, std::string, reply_to<uint64_t>>,
  caf::reacts_to<get_atom, std::string, reply_to<lock::lock_info>>,
  caf::reacts_to<lease_end_atom, uint64_t, bool>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>>;

/// The typed handle of one lock shard actor (local requests with a
/// `reply_to`, see actors/reply_to.hpp). The shard validates commands,
/// draws fences and keeps the fencing counter; each held or contended key
/// has a lock actor of its own (spawned on the first acquire, retired when
/// the key is free and nobody waits) that owns the key's hold, waiter
/// queue and expiry timer, and writes its holder record. Every answer
/// waits until the state it reports is durable.
/// - acquire: granted (with owner token and fence), `lock_held`, or — with
///   a wait — answered later when granted, or `timeout`. The shard draws
///   the owner token and the waiter id itself.
/// - refresh(key, token, ttl) → the lock; release(key, token) → the fence
///   of the hold that ended;
///   get(key) → the lock without its owner token.
///   A lock actor reports `(idle_atom, key, messages received)` when its
///   key is free; the shard retires it if it forwarded no more since.
///   The four requests also come as request/response messages without the
///   `reply_to`, for gateways on other nodes.
/// - leases() → the leases holds or waiters of this shard may be bound to
///   (every lease an acquire named, until its end was heard of).
using lock_shard_actor = lock_requests::extend<
  caf::reacts_to<idle_atom, std::string, uint64_t>,
  caf::replies_to<acquire_atom, lock::acquire_cmd>::with<lock::acquire_result>,
  caf::replies_to<refresh_atom, std::string, std::string, duration>::with<lock::lock_info>,
  caf::replies_to<release_atom, std::string, std::string>::with<uint64_t>,
  caf::replies_to<get_atom, std::string>::with<lock::lock_info>,
  caf::replies_to<leases_atom>::with<std::vector<uint64_t>>>;

struct lock_shard_env {
  storage::engine* store = nullptr;
  storage::committer* committer = nullptr;
  const clock_source* clock = nullptr;
  metrics::registry* metrics = nullptr;
  /// The longest a lock actor sleeps before it looks at its deadlines
  /// again (they are also checked on every command).
  duration max_timer = std::chrono::seconds{5};
};

/// Spawns a shard with its restored holds (`lock_table::take_restored`),
/// each in its lock actor.
lock_shard_actor
spawn_lock_shard(caf::actor_system& sys, lock::lock_table table,
                 std::map<std::string, lock::lock_key, std::less<>> held,
                 lock_shard_env env);

} // namespace shoal
