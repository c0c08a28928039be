#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "runtime/error.hpp"
#include "runtime/result.hpp"

namespace shoal {

/// The durability bookkeeping of one shard actor. Every change the shard
/// applies to its in-memory state advances `applied`; the change's batch
/// goes to the committer, whose callback (in submission order) reports it
/// durable through `committed`. Work that may only happen once the state it
/// saw is durable — a write's acknowledgement, a read's answer, a watch
/// event — waits in `after_durable` and runs as soon as it is.
///
/// A failed commit leaves memory ahead of the disk: the gate fails every
/// waiter with the error and stays failed (`failed()`); the shard must stop
/// serving.
class durable_gate {
public:
  /// Called with nullptr once durable, or with the failure.
  using waiter = std::function<void(const error*)>;

  explicit durable_gate(uint64_t durable = 0)
    : applied_(durable), durable_(durable) {
  }

  /// Records one more applied change; returns its sequence number, which
  /// the committer callback passes back to `committed`.
  uint64_t advance() {
    return ++applied_;
  }

  /// Runs `fn` now if every applied change is durable, otherwise once it is.
  void after_durable(waiter fn);

  /// The change `seq` (and every one before it) is durable, or `failure`.
  void committed(uint64_t seq, const error* failure);

  bool failed() const {
    return failed_;
  }

  /// What a failed gate answers: `storage_error`, the shard stopped.
  static error stopped_error();

  /// If the gate failed, calls `deliver` with `stopped_error()` and returns
  /// true: the shard must not apply the command.
  template <class Deliver>
  bool refuse_if_failed(const Deliver& deliver) const {
    if (!failed_) {
      return false;
    }
    deliver(stopped_error());
    return true;
  }

  uint64_t applied() const {
    return applied_;
  }

  uint64_t durable() const {
    return durable_;
  }

  /// Shared with the shard's commit callbacks (`acknowledge_commit`): set
  /// by the first failed commit.
  const std::shared_ptr<std::atomic<bool>>& commit_failed() const {
    return commit_failed_;
  }

private:
  struct pending {
    uint64_t needed;
    waiter fn;
  };

  uint64_t applied_;
  uint64_t durable_;
  bool failed_ = false;
  std::deque<pending> waiting_;
  std::shared_ptr<std::atomic<bool>> commit_failed_ =
    std::make_shared<std::atomic<bool>>(false);
};

/// For a commit callback, which runs in submission order: records a failed
/// `outcome` in `failed` and calls `fn` with nullptr only if this commit
/// and every earlier one of the shard succeeded, with the failure (or
/// `stopped_error()`) otherwise — what the gate's own waiters would get.
void acknowledge_commit(std::atomic<bool>& failed, const result<void>& outcome,
                        const durable_gate::waiter& fn);

/// The waiter that calls `deliver` with `value`, or with the failure.
template <class T>
durable_gate::waiter answer_with(result<T> value,
                                 std::function<void(result<T>)> deliver) {
  return [deliver = std::move(deliver),
          value = std::move(value)](const error* failure) mutable {
    if (failure != nullptr) {
      deliver(*failure);
    } else {
      deliver(std::move(value));
    }
  };
}

/// Calls `deliver` with `value` once every change applied so far is
/// durable (or with the storage failure instead).
template <class T>
void answer_when_durable(durable_gate& gate, result<T> value,
                         std::function<void(result<T>)> deliver) {
  gate.after_durable(answer_with(std::move(value), std::move(deliver)));
}

} // namespace shoal
