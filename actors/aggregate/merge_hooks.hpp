#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "runtime/aggregate/aggregate_table.hpp"

namespace shoal {

/// A merge that is durable, as on-merge hooks see it.
struct merge_event {
  std::string name;
  std::string entity;
  int64_t bucket = 0;
  agg::value delta;
  std::string event_id;
  /// When the shard applied it.
  time_point at;
};

/// The on-merge hooks of a node: callbacks per aggregate, run by the shard
/// that applied a merge once it is durable, in the shard's commit order.
/// Duplicates (replayed event ids) and refused merges run none. A callback
/// runs on an actor thread: it must be quick and must not block (hand work
/// to your own actor or queue). Calls of one hook never overlap. Thread-safe.
class merge_hooks {
public:
  using callback = std::function<void(const merge_event&)>;

  /// Adds `fn` for the merges of aggregate `name`; returns its id.
  uint64_t add(std::string name, callback fn);
  /// Removes a hook; returns whether it was there. Once it returns the
  /// hook is not called again (it waits for a call under way on another
  /// thread; a hook may remove itself).
  bool remove(uint64_t id);

  /// True if a hook watches `name` (a shard skips building events if not).
  bool watched(std::string_view name) const;
  /// True if there are no hooks at all (lock-free).
  bool empty() const {
    return count_.load(std::memory_order_relaxed) == 0;
  }

  /// Runs the hooks of `ev.name`.
  void run(const merge_event& ev) const;

private:
  struct hook {
    std::recursive_mutex mtx;
    bool live = true;
    callback fn;
  };
  using table
    = std::multimap<std::string, std::pair<uint64_t, std::shared_ptr<hook>>, std::less<>>;

  std::shared_ptr<const table> snapshot() const;

  mutable std::mutex mtx_;
  std::shared_ptr<const table> hooks_ = std::make_shared<table>();
  uint64_t next_id_ = 1;
  std::atomic<size_t> count_{0};
};

} // namespace shoal
