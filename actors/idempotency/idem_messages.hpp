#pragma once

// CAF inspection of the idempotency types of runtime/idempotency (which
// stays CAF-free).

#include "runtime/idempotency/idempotency_table.hpp"

namespace shoal::idem {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record& x) {
  return f(x.key, x.st, x.owner_token, x.fingerprint, x.created, x.updated,
           x.expires_at, x.result, x.result_hash, x.error_code,
           x.error_message, x.fence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, begin_cmd& x) {
  return f(x.key, x.lease_ttl, x.fingerprint, x.new_token, x.fence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, begin_result& x) {
  return f(x.fresh, x.rec);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, touch_cmd& x) {
  return f(x.key, x.token, x.lease_ttl);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, complete_cmd& x) {
  return f(x.key, x.token, x.result, x.retention, x.fence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fail_cmd& x) {
  return f(x.key, x.token, x.code, x.message, x.retention, x.fence);
}

} // namespace shoal::idem
