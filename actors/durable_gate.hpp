#pragma once

#include <cstdint>
#include <deque>
#include <functional>

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

private:
  struct pending {
    uint64_t needed;
    waiter fn;
  };

  uint64_t applied_;
  uint64_t durable_;
  bool failed_ = false;
  std::deque<pending> waiting_;
};

/// Calls `deliver` with `value` once every change applied so far is
/// durable (or with the storage failure instead).
template <class T>
void answer_when_durable(durable_gate& gate, result<T> value,
                         std::function<void(result<T>)> deliver) {
  gate.after_durable([deliver = std::move(deliver),
                      value = std::move(value)](const error* failure) mutable {
    if (failure != nullptr) {
      deliver(*failure);
    } else {
      deliver(std::move(value));
    }
  });
}

} // namespace shoal
