#pragma once

#include <functional>

#include "actors/cluster/routing.hpp"
#include "actors/lease/lease_service.hpp"
#include "actors/reply_to.hpp"

namespace shoal {

/// Asks the shard of `lease` whether it is alive (`lease` 0: no lease, runs
/// `then` at once) and runs `then` on that shard's thread if it is: a kv or
/// lock shard call made from `then` arrives before the lease's end is
/// announced to that shard, so nothing can be bound to a lease that already
/// ended. Otherwise calls `refuse` with the error (`not_found`).
void with_live_lease(const lease_service& leases, uint64_t lease,
                     std::function<void(const error&)> refuse,
                     std::function<void()> then);

/// `call_keyed_within<T>` (see actors/cluster/routing.hpp) once `lease` is
/// seen alive (see `with_live_lease`); `done` gets the lease's error
/// otherwise. A lease's end reaches the shards of the node that granted
/// it, so in a cluster a lease binds keys and locks of that node's own
/// shards: a lease-bound command for another owner's shard is refused
/// with `unavailable` naming the owner.
template <class T, class Service, class... Ts>
void call_keyed_with_lease(const directory& dir, const caf::actor& bridge,
                           const lease_service& leases, uint64_t lease,
                           shard_kind kind, const Service& service, std::string key,
                           duration longer, std::function<void(result<T>)> done,
                           Ts... xs) {
  auto shard = service.shard_of(key);
  if (lease != 0 && !dir.is_local(shard)) {
    done(error{errc::unavailable,
               "a lease binds keys and locks of its own node's shards; shard "
                 + std::to_string(shard) + " of '" + key + "' belongs to "
                 + dir.owner_of(shard) + ": use a lease granted there"});
    return;
  }
  with_live_lease(
    leases, lease, [done](const error& e) { done(e); },
    [&dir, bridge, &service, kind, key = std::move(key), longer, done,
     xs...]() mutable {
      call_keyed_within<T>(dir, bridge, kind, service, key, longer, done,
                           std::move(xs)...);
    });
}

} // namespace shoal
