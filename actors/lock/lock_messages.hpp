#pragma once

// CAF inspection of the lock types of runtime/lock (which stays CAF-free).

#include "runtime/lock/lock_types.hpp"

namespace shoal::lock {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lock_info& x) {
  return f(x.key, x.held, x.owner_token, x.fence, x.acquired, x.expires_at,
           x.lease, x.waiters, x.free_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, acquire_cmd& x) {
  return f(x.key, x.ttl, x.wait, x.new_token, x.waiter, x.lease, x.fence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, acquire_result& x) {
  return f(x.granted, x.info);
}

} // namespace shoal::lock
