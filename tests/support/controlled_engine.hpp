#pragma once

// A storage engine for tests of the write path: the memory engine, except
// that write number `fail_at` (from 1; 0: none) fails and that writes can
// be held back until the test lets them through.

#include <condition_variable>
#include <memory>
#include <mutex>

#include "runtime/storage/engine.hpp"

namespace shoal::test {

class controlled_engine final : public storage::engine {
public:
  explicit controlled_engine(int fail_at = 0)
    : inner_(storage::make_memory_engine()), fail_at_(fail_at) {
  }

  /// Writes wait (on the committer's thread) until `release`.
  void hold() {
    std::lock_guard guard{mtx_};
    held_ = true;
  }

  void release() {
    {
      std::lock_guard guard{mtx_};
      held_ = false;
    }
    cv_.notify_all();
  }

  /// Writes attempted so far.
  int writes() const {
    std::lock_guard guard{mtx_};
    return writes_;
  }

  result<std::optional<std::string>> get(storage::column cf,
                                         std::string_view key) const override {
    return inner_->get(cf, key);
  }
  result<void> scan(storage::column cf, std::string_view b, std::string_view e,
                    const storage::scan_fn& fn, storage::direction dir) const override {
    return inner_->scan(cf, b, e, fn, dir);
  }
  result<void> write(const storage::write_batch& batch, storage::durability d) override {
    {
      std::unique_lock guard{mtx_};
      cv_.wait(guard, [this] { return !held_; });
      if (++writes_ == fail_at_) {
        return fail(errc::storage_error, "write failed (test)");
      }
    }
    return inner_->write(batch, d);
  }
  result<void> sync() override {
    return inner_->sync();
  }
  std::unique_ptr<storage::snapshot> make_snapshot() const override {
    return inner_->make_snapshot();
  }
  result<void> flush() override {
    return inner_->flush();
  }
  void close() override {
    inner_->close();
  }
  bool is_persistent() const override {
    return false;
  }
  storage::engine_stats stats() const override {
    return inner_->stats();
  }

private:
  std::unique_ptr<storage::engine> inner_;
  int fail_at_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool held_ = false;
  int writes_ = 0;
};

} // namespace shoal::test
