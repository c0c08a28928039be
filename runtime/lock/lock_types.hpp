#pragma once

// The values lock tables and lock actors exchange: commands, answers and
// effects.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  /// command arrived (`lock_table::draw_fence`). A key grants in arrival
  /// order, so its fences strictly increase; refused and timed-out
  /// acquirers leave gaps.
  uint64_t fence = 0;
};

struct acquire_result {
  /// True: granted now (`info` holds the owner token and fence). False:
  /// queued; a `grant` or `timeout` effect follows later.
  bool granted = false;
  lock_info info;
};

/// A record the shell persists (`value` nullopt: delete).
struct write {
  std::string key;
  std::optional<std::string> value;
};

/// A queued acquirer got the lock.
struct grant {
  uint64_t waiter = 0;
  lock_info info;
};

/// What a command or a tick produced besides its answer.
struct effects {
  std::vector<write> writes;
  std::vector<grant> grants;
  /// Queued acquirers whose wait deadline passed (answer `timeout`).
  std::vector<uint64_t> timeouts;
  /// Keys whose holder expired (for metrics and logs).
  std::vector<std::string> expired;
  /// Queued acquirers whose lease ended while they waited.
  std::vector<uint64_t> lease_lost;
};

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
