#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/aggregate/aggregate_table.hpp"

namespace shoal {

/// Something outside shoal that keeps a copy of aggregate cells (a Redis
/// mirror): it learns every cell's value once durable, and of drops. It is
/// never read as truth. Called on shard and catalog threads: it must not
/// block (queue the work).
class cell_mirror {
public:
  virtual ~cell_mirror() = default;
  /// The current values of cells a durable batch changed.
  virtual void updated(std::vector<agg::cell_snapshot> cells) = 0;
  /// Aggregate `name` and all its cells are gone.
  virtual void dropped(const std::string& name) = 0;
};

/// The node's mirror, if one is attached. Thread-safe.
class mirror_slot {
public:
  void set(std::shared_ptr<cell_mirror> m) {
    std::lock_guard guard{mtx_};
    on_.store(m != nullptr, std::memory_order_relaxed);
    mirror_ = std::move(m);
  }

  std::shared_ptr<cell_mirror> get() const {
    std::lock_guard guard{mtx_};
    return mirror_;
  }

  /// Lock-free: whether shards should collect cell values at all.
  bool active() const {
    return on_.load(std::memory_order_relaxed);
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<cell_mirror> mirror_;
  std::atomic<bool> on_{false};
};

} // namespace shoal
