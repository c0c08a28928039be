#pragma once

// CAF inspection of the aggregate types of runtime/aggregate (which stays
// CAF-free), and the per-item answers of batched requests.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/sec.hpp>

#include "actors/aggregate/cell_mirror.hpp"
#include "actors/aggregate/merge_hooks.hpp"
#include "runtime/aggregate/aggregate_table.hpp"

namespace shoal::agg {

/// One read of a batch, or its error (`code` non-zero). `cached`: answered
/// from the shard's window cache.
struct read_outcome {
  reading r;
  uint8_t code = 0;
  std::string message;
  bool cached = false;
};

// Values travel in their kind-free encoding.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, value& x) {
  std::string bytes;
  if constexpr (Inspector::reads_state) {
    bytes = encode_any(x);
  }
  auto load = caf::meta::load_callback([&]() -> caf::error {
    auto v = decode_any(bytes);
    if (!v) {
      return caf::make_error(caf::sec::invalid_argument);
    }
    x = std::move(*v);
    return caf::none;
  });
  return f(bytes, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kind_params& x) {
  return f(x.k, x.capacity, x.fp_rate, x.max_elements);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, definition& x) {
  return f(x.name, x.k, x.params, x.window, x.retention, x.dedup_retention);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merge_cmd& x) {
  bool has_bucket = x.bucket.has_value();
  int64_t bucket = x.bucket.value_or(0);
  bool has_time = x.event_time.has_value();
  auto at = x.event_time.value_or(time_point{});
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.bucket = has_bucket ? std::optional<int64_t>{bucket} : std::nullopt;
    x.event_time = has_time ? std::optional<time_point>{at} : std::nullopt;
    return caf::none;
  });
  return f(x.name, x.entity, has_bucket, bucket, has_time, at, x.delta, x.ttl,
           x.event_id, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merge_result& x) {
  return f(x.bucket, x.duplicate);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merge_outcome& x) {
  return f(x.r, x.code, x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_query& x) {
  return f(x.name, x.entity, x.how, x.bucket, x.from, x.to, x.n);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reading& x) {
  return f(x.entity, x.found, x.from, x.to, x.v, x.expires_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cell_snapshot& x) {
  return f(x.name, x.entity, x.bucket, x.v, x.expires_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_outcome& x) {
  return f(x.r, x.code, x.message, x.cached);
}

} // namespace shoal::agg

namespace shoal {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merge_event& x) {
  return f(x.name, x.entity, x.bucket, x.delta, x.event_id, x.at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mirror_report& x) {
  return f(x.cells, x.matching, x.missing, x.different, x.redis_keys);
}

} // namespace shoal
