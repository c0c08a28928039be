#pragma once

#include <functional>

#include <caf/make_message.hpp>

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

/// Sends `(atom, id)` (keepalive, revoke or get) to the shard of lease
/// `id`, on this node or its owner, and calls `done` with the lease.
template <class Atom>
void call_lease(const directory& dir, const caf::actor& bridge,
                const lease_service& leases, uint64_t id,
                std::function<void(result<lease::lease_info>)> done, Atom atom) {
  auto shard = leases.shard_of(id);
  call_shard<lease::lease_info>(dir, bridge, shard_kind::leases, shard,
                                leases.shards()[shard], std::move(done), atom, id);
}

/// `call_keyed_within<T>` (see actors/cluster/routing.hpp) once `lease` is
/// seen alive; `done` gets the lease's error (`not_found`) otherwise. When
/// this node owns both the lease's shard and the key's, that is
/// `with_live_lease`. Otherwise the lease's shard, wherever it lives, gets
/// the command to pass on (`bind`): the command reaches the key's shard
/// from the lease's shard before the lease's end does, which every member's
/// shards hear of.
template <class T, class Service, class... Ts>
void call_keyed_with_lease(const directory& dir, const caf::actor& bridge,
                           const lease_service& leases, uint64_t lease,
                           shard_kind kind, const Service& service, std::string key,
                           duration longer, std::function<void(result<T>)> done,
                           Ts... xs) {
  auto shard = service.shard_of(key);
  if (lease == 0) {
    call_shard_within<T>(dir, bridge, kind, shard, service.shards()[shard], longer,
                         std::move(done), std::move(xs)...);
    return;
  }
  auto lease_shard = leases.shard_of(lease);
  if (dir.is_local(lease_shard) && dir.is_local(shard)) {
    with_live_lease(
      leases, lease, [done](const error& e) { done(e); },
      [target = service.shards()[shard], done, xs...]() mutable {
        call<T>(target, std::move(done), std::move(xs)...);
      });
    return;
  }
  auto holder = shard_actor(dir, shard_kind::leases, lease_shard,
                            leases.shards()[lease_shard]);
  if (!holder) {
    done(std::move(holder).err());
    return;
  }
  auto target = shard_actor(dir, kind, shard, service.shards()[shard]);
  if (!target) {
    done(std::move(target).err());
    return;
  }
  auto timeout = dir.forward_timeout()
                 + std::chrono::duration_cast<std::chrono::milliseconds>(longer);
  detail::ask_forwarded<T>(bridge, caf::actor_cast<caf::actor>(*holder), timeout,
                           dir.owner_of(lease_shard) + " or " + dir.owner_of(shard),
                           std::move(done), bind_atom_v, lease,
                           caf::actor_cast<caf::actor>(*target),
                           caf::make_message(std::move(xs)...));
}

} // namespace shoal
