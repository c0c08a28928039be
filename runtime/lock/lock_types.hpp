#pragma once

// The values lock tables and lock actors exchange: commands, answers and
// effects.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/machine.hpp"
#include "runtime/time.hpp"

namespace shoal::lock {

/// What is known about one lock key. Never carries the owner token out of
/// the shard except to the acquirer it was granted to.
struct lock_info {
  std::string key;
  /// True while someone holds the lock.
  bool held = false;
  std::string owner_token;
  /// The fencing token of the current (or, if free, the last) grant.
  uint64_t fence = 0;
  time_point acquired;
  time_point expires_at;
  /// The lease the hold is bound to (0: none).
  uint64_t lease = 0;
  /// Acquirers waiting in line.
  uint32_t waiters = 0;
  /// After an expiry, nobody is granted the lock before this (lock-delay).
  time_point free_at;
};

/// Acquire `key` for `ttl`. With `wait` > 0 the caller queues (FIFO) for at
/// most that long if the lock is held; `waiter` identifies it in grants
/// and timeouts (the shell's request id).
struct acquire_cmd {
  std::string key;
  duration ttl{0};
  duration wait{0};
  /// The owner token if granted; drawn by the shell (randomness is not the
  /// machine's business).
  std::string new_token;
  uint64_t waiter = 0;
  uint64_t lease = 0;
  /// The fencing token if granted, drawn from the shard's counter when the
  /// command is applied (a value given by the caller is replaced). A key
  /// grants in arrival order, so its fences strictly increase; refused and
  /// timed-out acquirers leave gaps.
  uint64_t fence = 0;
};

struct acquire_result {
  /// True: granted now (`info` holds the owner token and fence). False:
  /// queued; a `grant` or `timeout` effect follows later.
  bool granted = false;
  lock_info info;
};

/// What a lock command did besides its answer, published to the shell once
/// its records are durable: a queued acquirer was granted the lock, timed
/// out, or lost its lease while it waited; or a hold expired.
struct event {
  enum class kind : uint8_t { granted = 1, timed_out, lease_lost, expired };
  kind what = kind::granted;
  /// The waiter (granted, timed_out, lease_lost).
  uint64_t waiter = 0;
  /// granted: the new hold, with its owner token; expired: `key` is set.
  lock_info info;
};

/// Records to persist, then events.
using effects = shoal::effects<event>;

/// `expires_at` of a hold bound to a lease: it has no deadline of its own
/// and ends when the lease does.
inline constexpr time_point no_deadline = time_point::max();

struct lock_config {
  size_t max_key_bytes = 1024;
  duration min_ttl = std::chrono::milliseconds{100};
  duration max_ttl = std::chrono::hours{24};
  duration max_wait = std::chrono::hours{1};
  /// Waiters per key; more get `overloaded`.
  size_t max_waiters = 10'000;
  /// After a holder expired (not after an unlock), the lock stays free of
  /// holders this long: a holder that vanished may still be acting.
  duration lock_delay{0};
  /// Fences reserved per counter record: the shard persists the counter
  /// once per block, and after a restart continues above the reservation.
  uint64_t fence_block = 1024;
};

} // namespace shoal::lock
