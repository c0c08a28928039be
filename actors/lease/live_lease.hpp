#pragma once

#include <functional>

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

/// `call<T>(shard, done, xs...)` once `lease` is seen alive (see
/// `with_live_lease`); `done` gets the lease's error otherwise.
template <class T, class Shard, class... Ts>
void call_with_lease(const lease_service& leases, uint64_t lease,
                     const Shard& shard, std::function<void(result<T>)> done,
                     Ts... xs) {
  with_live_lease(
    leases, lease, [done](const error& e) { done(e); },
    [shard, done, xs...]() mutable { call<T>(shard, done, std::move(xs)...); });
}

} // namespace shoal
