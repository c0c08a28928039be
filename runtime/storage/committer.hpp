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
/// through its callback. With `sync_mode::batch` the commit thread drains
/// every queued batch and writes them as one write (group commit); a second
/// thread syncs the WAL, so the next group is written while the previous
/// one's fsync runs, and one fsync covers every group written before it:
/// N concurrent writers cost one fsync, not N. With `always` each batch gets
/// its own synced write; with `none` nothing waits for the disk.
///
/// Callbacks run on a commit thread, in submission order; they must not
/// block (actor shells send themselves a message from them).
class committer {
public:
  using callback = std::function<void(result<void>)>;

  /// Largest group written as one write, in batches and bytes.
  static constexpr size_t max_group_batches = 4096;
  static constexpr size_t max_group_bytes = 32 * 1024 * 1024;

  struct counters {
    uint64_t batches = 0;
    /// Durable points: fsyncs with `batch` and `always`, writes with `none`.
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

  /// A group written (or failed) and waiting for its fsync.
  struct written {
    std::deque<pending> group;
    result<void> outcome;
  };

  void run();
  void run_sync();
  void write_group(std::deque<pending>& group);
  void finish(std::deque<pending>& group, const result<void>& res);
  void observe_commit(double seconds, size_t batches, bool ok);

  engine& store_;
  sync_mode mode_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  bool stopping_ = false;
  // Written groups waiting for the sync thread (batch mode).
  std::condition_variable sync_cv_;
  std::deque<written> to_sync_;
  bool writer_done_ = false;
  counters stats_;
  metrics::histogram* commit_seconds_ = nullptr;
  metrics::histogram* write_seconds_ = nullptr;
  metrics::histogram* group_size_ = nullptr;
  metrics::counter* batches_total_ = nullptr;
  metrics::counter* commits_total_ = nullptr;
  metrics::counter* errors_total_ = nullptr;
  std::thread thread_;
  std::thread sync_thread_;
};

} // namespace shoal::storage
