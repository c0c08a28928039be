#pragma once

// CAF inspection of the lease types of runtime/lease (which stays CAF-free).

#include "runtime/lease/lease_table.hpp"

namespace shoal::lease {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_info& x) {
  return f(x.id, x.ttl, x.granted, x.expires_at);
}

} // namespace shoal::lease
