#include "actors/durable_gate.hpp"

namespace shoal {

error durable_gate::stopped_error() {
  return error{errc::storage_error,
               "shard stopped after a storage failure; restart the node"};
}

void durable_gate::after_durable(waiter fn) {
  if (failed_) {
    auto err = stopped_error();
    fn(&err);
    return;
  }
  if (applied_ <= durable_) {
    fn(nullptr);
    return;
  }
  waiting_.push_back({applied_, std::move(fn)});
}

void durable_gate::committed(uint64_t seq, const error* failure) {
  if (failed_) {
    return;
  }
  if (failure != nullptr) {
    failed_ = true;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& p : waiting) {
      p.fn(failure);
    }
    return;
  }
  if (seq > durable_) {
    durable_ = seq;
  }
  while (!waiting_.empty() && waiting_.front().needed <= durable_) {
    auto fn = std::move(waiting_.front().fn);
    waiting_.pop_front();
    fn(nullptr);
  }
}

void acknowledge_commit(std::atomic<bool>& failed, const result<void>& outcome,
                        const durable_gate::waiter& fn) {
  if (!outcome) {
    failed.store(true, std::memory_order_release);
    if (fn) {
      fn(&outcome.err());
    }
    return;
  }
  if (!fn) {
    return;
  }
  if (failed.load(std::memory_order_acquire)) {
    auto err = durable_gate::stopped_error();
    fn(&err);
    return;
  }
  fn(nullptr);
}

} // namespace shoal
