#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "runtime/time.hpp"

namespace shoal {

/// Calls `renew` every `period` on a helper thread until destroyed, or
/// until `renew` returns false (then `lost()` is true). Keeps a lease or a
/// lock alive while blocking work runs on the caller's thread.
class renewer {
public:
  renewer(duration period, std::function<bool()> renew)
    : thread_([this, period, renew = std::move(renew)] {
        std::unique_lock lock{mtx_};
        while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
          lock.unlock();
          auto ok = renew();
          lock.lock();
          if (!ok) {
            lost_ = true;
            return;
          }
        }
      }) {
  }

  ~renewer() {
    {
      std::lock_guard guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  renewer(const renewer&) = delete;
  renewer& operator=(const renewer&) = delete;

  bool lost() const {
    return lost_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

} // namespace shoal
