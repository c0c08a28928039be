#include "runtime/storage/committer.hpp"

#include <chrono>

namespace shoal::storage {

committer::committer(engine& store, sync_mode mode, metrics::registry* registry)
  : store_(store), mode_(mode) {
  if (registry != nullptr) {
    metrics::labels lbls{{"sync", std::string{to_string(mode)}}};
    commit_seconds_ = &registry->add_histogram(
      "shoal_storage_commit_seconds",
      "Time to write (and fsync, unless sync=none) one commit group.",
      metrics::latency_buckets(), lbls);
    group_size_ = &registry->add_histogram(
      "shoal_storage_commit_group_batches",
      "Batches written together by one commit.",
      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}, lbls);
    batches_total_ = &registry->add_counter(
      "shoal_storage_batches_total", "Write batches committed.", lbls);
    commits_total_ = &registry->add_counter(
      "shoal_storage_commits_total",
      "Storage writes issued (each is one fsync unless sync=none).", lbls);
    errors_total_ = &registry->add_counter(
      "shoal_storage_commit_errors_total", "Commits that failed.", lbls);
  }
  thread_ = std::thread{[this] { run(); }};
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
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
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
        return; // stopping and drained
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
    commit(group);
    group.clear();
  }
}

void committer::commit(std::deque<pending>& group) {
  auto start = std::chrono::steady_clock::now();
  auto d = mode_ == sync_mode::none ? durability::async : durability::sync;
  result<void> res;
  if (group.size() == 1) {
    res = store_.write(group.front().batch, d);
  } else {
    write_batch merged;
    for (const auto& p : group) {
      merged.append(p.batch);
    }
    res = store_.write(merged, d);
  }
  auto elapsed = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  {
    std::lock_guard guard{mtx_};
    stats_.batches += group.size();
    stats_.commits += 1;
  }
  if (commit_seconds_ != nullptr) {
    commit_seconds_->observe(elapsed);
    group_size_->observe(static_cast<double>(group.size()));
    batches_total_->inc(group.size());
    commits_total_->inc();
    if (!res) {
      errors_total_->inc();
    }
  }
  for (auto& p : group) {
    p.done(res);
  }
}

} // namespace shoal::storage
