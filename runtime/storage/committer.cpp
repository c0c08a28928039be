#include "runtime/storage/committer.hpp"

#include <chrono>

namespace shoal::storage {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
    .count();
}

} // namespace

committer::committer(engine& store, sync_mode mode, metrics::registry* registry)
  : store_(store), mode_(mode) {
  if (registry != nullptr) {
    metrics::labels lbls{{"sync", std::string{to_string(mode)}}};
    commit_seconds_ = &registry->add_histogram(
      "shoal_storage_commit_seconds",
      "Time to make one commit group durable: its fsync (or, with "
      "sync=always and none, its whole write).",
      metrics::latency_buckets(), lbls);
    write_seconds_ = &registry->add_histogram(
      "shoal_storage_write_seconds",
      "Time to write one group of batches, before its fsync.",
      metrics::latency_buckets(), lbls);
    group_size_ = &registry->add_histogram(
      "shoal_storage_commit_group_batches",
      "Batches made durable together by one commit.",
      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}, lbls);
    batches_total_ = &registry->add_counter(
      "shoal_storage_batches_total", "Write batches committed.", lbls);
    commits_total_ = &registry->add_counter(
      "shoal_storage_commits_total",
      "Commits: fsyncs, or writes with sync=none.", lbls);
    errors_total_ = &registry->add_counter(
      "shoal_storage_commit_errors_total", "Commits that failed.", lbls);
  }
  thread_ = std::thread{[this] { run(); }};
  if (mode_ == sync_mode::batch) {
    sync_thread_ = std::thread{[this] { run_sync(); }};
  }
}

committer::~committer() {
  stop();
}

void committer::submit(write_batch batch, callback done) {
  {
    std::lock_guard guard{mtx_};
    if (!stopping_) {
      queue_.push_back(pending{std::move(batch), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(fail(errc::shutting_down, "storage is shutting down"));
}

void committer::stop() {
  {
    std::lock_guard guard{mtx_};
    stopping_ = true;
    cv_.notify_one();
  }
  auto self = std::this_thread::get_id();
  // The writer drains the queue and then tells the sync thread it is done,
  // so the sync thread ends after the last written group.
  if (thread_.joinable() && thread_.get_id() != self) {
    thread_.join();
  }
  if (sync_thread_.joinable() && sync_thread_.get_id() != self) {
    sync_thread_.join();
  }
}

committer::counters committer::stats() const {
  std::lock_guard guard{mtx_};
  return stats_;
}

void committer::run() {
  std::deque<pending> group;
  for (;;) {
    {
      std::unique_lock guard{mtx_};
      cv_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        // Stopping and drained.
        writer_done_ = true;
        sync_cv_.notify_one();
        return;
      }
      // Take what is queued, up to one group's worth; the rest waits for
      // the next round.
      size_t bytes = 0;
      while (!queue_.empty() && group.size() < max_group_batches
             && (group.empty() || bytes + queue_.front().batch.bytes()
                                    <= max_group_bytes)) {
        bytes += queue_.front().batch.bytes();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (mode_ == sync_mode::always) {
          break;
        }
      }
    }
    write_group(group);
    group.clear();
  }
}

void committer::write_group(std::deque<pending>& group) {
  auto start = std::chrono::steady_clock::now();
  auto d = mode_ == sync_mode::always ? durability::sync : durability::async;
  result<void> res;
  if (group.size() == 1) {
    res = store_.write(group.front().batch, d);
  } else {
    write_batch merged;
    for (auto& p : group) {
      merged.append(std::move(p.batch));
    }
    res = store_.write(merged, d);
  }
  auto elapsed = seconds_since(start);
  if (write_seconds_ != nullptr) {
    write_seconds_->observe(elapsed);
  }
  if (mode_ != sync_mode::batch) {
    // The write was the commit: synced (always) or not waited for (none).
    observe_commit(elapsed, group.size(), static_cast<bool>(res));
    finish(group, res);
    return;
  }
  std::lock_guard guard{mtx_};
  to_sync_.push_back(written{std::move(group), std::move(res)});
  sync_cv_.notify_one();
}

void committer::run_sync() {
  std::deque<written> batch;
  for (;;) {
    {
      std::unique_lock guard{mtx_};
      sync_cv_.wait(guard, [this] { return writer_done_ || !to_sync_.empty(); });
      if (to_sync_.empty()) {
        return; // the writer is done and everything is synced
      }
      batch.swap(to_sync_);
    }
    // One fsync covers every group written before it started.
    bool any_written = false;
    size_t batches = 0;
    for (const auto& w : batch) {
      any_written = any_written || static_cast<bool>(w.outcome);
      batches += w.group.size();
    }
    auto start = std::chrono::steady_clock::now();
    result<void> synced;
    if (any_written) {
      synced = store_.sync();
    }
    observe_commit(seconds_since(start), batches, static_cast<bool>(synced));
    for (auto& w : batch) {
      finish(w.group, w.outcome ? synced : w.outcome);
    }
    batch.clear();
  }
}

void committer::observe_commit(double seconds, size_t batches, bool ok) {
  {
    std::lock_guard guard{mtx_};
    stats_.batches += batches;
    stats_.commits += 1;
  }
  if (commit_seconds_ != nullptr) {
    commit_seconds_->observe(seconds);
    group_size_->observe(static_cast<double>(batches));
    batches_total_->inc(batches);
    commits_total_->inc();
    if (!ok) {
      errors_total_->inc();
    }
  }
}

void committer::finish(std::deque<pending>& group, const result<void>& res) {
  for (auto& p : group) {
    p.done(res);
  }
}

} // namespace shoal::storage
