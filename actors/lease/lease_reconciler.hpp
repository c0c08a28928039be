#pragma once

#include <vector>

#include <caf/actor.hpp>

#include "runtime/time.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

class directory;
class lease_service;

/// What the reconciler of a cluster member checks.
struct lease_reconciler_env {
  const directory* dir = nullptr;
  const lease_service* leases = nullptr;
  /// This node's shards that bind keys or holds to leases: each answers
  /// `(leases_atom) -> std::vector<uint64_t>` and takes
  /// `(lease_end_atom, lease, expired)`.
  std::vector<caf::actor> bound;
  duration interval = std::chrono::seconds{5};
};

/// Spawns the actor that catches the lease ends this node missed. A lease's
/// end is sent to every member's shards once; a member that was down or cut
/// off then keeps keys and holds bound to a lease that is gone. Every
/// `interval` the reconciler asks this node's shards which leases they are
/// bound to, asks the owner shard of the leases that another member holds
/// (one request per owner shard and page of 1,024 leases), and ends the
/// ones their owner no longer knows as if the end had arrived. Leases
/// whose owner is unreachable are asked again in the next round.
caf::actor spawn_lease_reconciler(caf::actor_system& sys, lease_reconciler_env env);

} // namespace shoal
