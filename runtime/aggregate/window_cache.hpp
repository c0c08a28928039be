#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "runtime/aggregate/aggregate_table.hpp"

namespace shoal::agg {

/// A least-recently-used cache of merged windows (readings over more than
/// one bucket), bounded in bytes. An entry is dropped when a merge lands in
/// one of its buckets, when its aggregate is dropped, and is not served
/// once one of its cells expired. Single-threaded: each aggregate shard
/// owns one, its slice of the node's cache budget.
class window_cache {
public:
  explicit window_cache(size_t max_bytes) : max_bytes_(max_bytes) {
  }

  /// The cached reading of (name, entity) over [from, to), if it is still
  /// valid at `now`.
  const reading* find(std::string_view name, std::string_view entity, int64_t from,
                      int64_t to, time_point now);
  /// Caches `r` (its [from, to) and entity name it) for aggregate `name`.
  void put(std::string_view name, const reading& r);

  /// A merge into (name, entity, bucket): windows covering it are stale.
  void invalidate(std::string_view name, std::string_view entity, int64_t bucket);
  /// Every window of aggregate `name`.
  void drop(std::string_view name);

  size_t bytes() const {
    return bytes_;
  }
  size_t size() const {
    return entries_.size();
  }

private:
  using key = std::tuple<std::string, std::string, int64_t, int64_t>;
  struct entry {
    key k;
    reading r;
    size_t bytes = 0;
  };

  void erase(std::map<key, std::list<entry>::iterator>::iterator it);

  size_t max_bytes_;
  size_t bytes_ = 0;
  // Most recently used first.
  std::list<entry> lru_;
  std::map<key, std::list<entry>::iterator> entries_;
};

} // namespace shoal::agg
