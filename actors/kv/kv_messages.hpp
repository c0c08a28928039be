#pragma once

// CAF inspection of the kv types of runtime/kv (which stays CAF-free).

#include "runtime/kv/kv_types.hpp"

namespace shoal::kv {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entry& x) {
  return f(x.key, x.value, x.revision, x.create_revision, x.version, x.created,
           x.modified, x.expires_at, x.lease);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(x.key, x.op, x.revision, x.prev_revision, x.value, x.at, x.shard);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, version_record& x) {
  return f(x.op, x.revision, x.version, x.value, x.at, x.expires_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_cmd& x) {
  return f(x.key, x.value, x.ttl, x.if_revision, x.lease);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delete_cmd& x) {
  return f(x.key, x.if_revision);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(x.revision, x.prev_revision, x.changed, x.current);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_query& x) {
  return f(x.pattern, x.after, x.limit, x.keys_only);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_page& x) {
  return f(x.items, x.more, x.revision);
}

} // namespace shoal::kv
