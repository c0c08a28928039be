#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/aggregate/aggregate_table.hpp"
#include "runtime/result.hpp"

namespace shoal {

/// What comparing a mirror with the cells found, cell by cell.
struct mirror_report {
  uint64_t cells = 0;
  uint64_t matching = 0;
  uint64_t missing = 0;
  uint64_t different = 0;
  /// Keys the mirror holds for these cells' shards (more than `cells`:
  /// stale keys).
  uint64_t redis_keys = 0;

  mirror_report& operator+=(const mirror_report& x) {
    cells += x.cells;
    matching += x.matching;
    missing += x.missing;
    different += x.different;
    redis_keys += x.redis_keys;
    return *this;
  }
};

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
  /// Rebuilds the copy of this node's shards' cells; `done` gets the
  /// number of cells written (on any thread).
  virtual void rebuild(std::function<void(result<uint64_t>)> done) = 0;
  /// Compares every live cell of this node's shards with the copy.
  virtual void compare(std::function<void(result<mirror_report>)> done) = 0;
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
