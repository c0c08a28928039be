#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"
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
};

/// The pure state machine of one lock shard: holders, FIFO waiter queues
/// and the shard's fencing counter. Commands take `now` and append the
/// records to persist and the grants/timeouts to deliver; nothing else
/// changes state. Fencing tokens come from one counter per shard, so they
/// are strictly increasing per lock key and never reused, also across
/// expiry and restarts (the counter is persisted with every grant).
///
/// Transitions:
/// - acquire on a free key (no holder, lock-delay over, nobody waiting) →
///   granted with the next fence; held (or in lock-delay, or others queued
///   first) and no wait → `lock_held` naming the holder's expiry; with wait
///   → queued at the back.
/// - a hold bound to a lease has no deadline of its own (`no_deadline`):
///   it ends by release or with the lease (`release_lease`); refresh
///   refuses it with `invalid_argument`.
/// - refresh(token) on a live hold → extended; the hold expired →
///   `lock_expired`; released, never held, or another token →
///   `lock_not_held`.
/// - release(token) on a live hold → free, the first waiter is granted;
///   otherwise as refresh (an expired hold → `lock_expired`).
/// - tick: expired holds end (the first waiter is granted after the
///   lock-delay), waits past their deadline time out.
class lock_table {
public:
  lock_table(uint16_t shard, lock_config cfg);

  result<acquire_result> acquire(const acquire_cmd& cmd, time_point now,
                                 effects& out);
  result<lock_info> refresh(std::string_view key, std::string_view token,
                            duration ttl, time_point now, effects& out);
  /// Returns the fence of the hold that ended.
  result<uint64_t> release(std::string_view key, std::string_view token,
                           time_point now, effects& out);
  /// A queued acquirer went away (its connection closed).
  void cancel(std::string_view key, uint64_t waiter, time_point now,
              effects& out);
  /// Releases every hold bound to `lease` (revoked or expired) and drops
  /// the waiters that would have been bound to it (`lease_lost`). Returns
  /// how many holds ended.
  size_t release_lease(uint64_t lease, time_point now, effects& out);

  /// The leases that holds and waiters of this shard are bound to.
  std::vector<uint64_t> leases() const;

  /// Ends expired holds and waits; grants the next waiters.
  void tick(time_point now, effects& out);

  /// The next time `tick` has something to do, if any.
  std::optional<time_point> next_deadline() const;

  /// The state of `key` (not held: `held` false, the last fence if known).
  /// The owner token is left out.
  result<lock_info> get(std::string_view key, time_point now) const;

  uint64_t last_fence() const {
    return fence_;
  }

  uint16_t shard() const {
    return shard_;
  }

  /// Keys with a holder or waiters.
  size_t active() const {
    return locks_.size();
  }

  /// Rebuilds state from one stored record (start-up). Waiters are not
  /// stored: they are connections.
  result<void> restore(std::string_view key, std::string_view value);

  static std::string prefix(uint16_t shard);
  result<void> validate_key(std::string_view key) const;

private:
  struct waiter_entry {
    uint64_t id;
    std::string token;
    duration ttl;
    time_point deadline;
    uint64_t lease;
  };

  struct lock_entry {
    bool held = false;
    std::string owner_token;
    uint64_t fence = 0;
    time_point acquired;
    time_point expires_at;
    uint64_t lease = 0;
    time_point free_at;
    std::deque<waiter_entry> waiters;
  };

  using map_type = std::map<std::string, lock_entry, std::less<>>;

  result<void> check_ttl(duration ttl) const;
  // The live hold of `key` by `token`, or `lock_not_held`/`lock_expired`.
  result<map_type::iterator> live_hold(std::string_view key,
                                       std::string_view token, time_point now);
  lock_info info_of(const std::string& key, const lock_entry& e,
                    bool with_token) const;
  // Grants `key` to an owner now: next fence, holder record and counter.
  void grant_to(map_type::iterator it, std::string token, duration ttl,
                uint64_t lease, time_point now, effects& out);
  // After the holder left: grants the first live waiter (once the
  // lock-delay is over), or forgets the key if nobody waits.
  void hand_over(map_type::iterator it, time_point now, effects& out);
  void end_hold(map_type::iterator it, effects& out);
  // Ends the hold of `key` if expired and its waits past their deadline,
  // then hands the lock over.
  void tick_key(const std::string& key, time_point now, effects& out);
  void index(const std::string& key, const lock_entry& e);
  void unindex(const std::string& key, const lock_entry& e);
  std::string holder_key(std::string_view key) const;
  std::string counter_key() const;

  uint16_t shard_;
  lock_config cfg_;
  uint64_t fence_ = 0;
  map_type locks_;
  // Deadlines: hold expiries, lock-delay ends and wait deadlines, by key.
  std::set<std::pair<time_point, std::string>> deadlines_;
};

} // namespace shoal::lock
