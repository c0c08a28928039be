#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "runtime/metrics.hpp"
#include "runtime/result.hpp"
#include "runtime/storage/engine.hpp"

namespace shoal::storage {

/// Writes batches on a dedicated commit thread and reports each one durable
/// through its callback. With `sync_mode::batch` the thread drains every
/// batch queued while the previous fsync ran and writes them as one synced
/// write (group commit): N concurrent writers cost one fsync, not N. With
/// `always` each batch gets its own synced write; with `none` nothing waits
/// for the disk.
///
/// Callbacks run on the commit thread, in submission order; they must not
/// block (actor shells send themselves a message from them).
class committer {
public:
  using callback = std::function<void(result<void>)>;

  /// Largest group written as one write, in batches and bytes.
  static constexpr size_t max_group_batches = 4096;
  static constexpr size_t max_group_bytes = 32 * 1024 * 1024;

  struct counters {
    uint64_t batches = 0;
    uint64_t commits = 0;
  };

  committer(engine& store, sync_mode mode,
            metrics::registry* registry = nullptr);
  ~committer();

  committer(const committer&) = delete;
  committer& operator=(const committer&) = delete;

  /// Queues `batch`; `done` runs once it is durable (or failed). After
  /// `stop`, `done` runs at once with `shutting_down`.
  void submit(write_batch batch, callback done);

  /// Stops accepting batches, writes everything already queued, and joins
  /// the thread. Idempotent.
  void stop();

  sync_mode mode() const {
    return mode_;
  }

  /// Batches written and writes issued so far (for tests and metrics).
  counters stats() const;

private:
  struct pending {
    write_batch batch;
    callback done;
  };

  void run();
  void commit(std::deque<pending>& group);

  engine& store_;
  sync_mode mode_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  bool stopping_ = false;
  counters stats_;
  metrics::histogram* commit_seconds_ = nullptr;
  metrics::histogram* group_size_ = nullptr;
  metrics::counter* batches_total_ = nullptr;
  metrics::counter* commits_total_ = nullptr;
  metrics::counter* errors_total_ = nullptr;
  std::thread thread_;
};

} // namespace shoal::storage
