#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "runtime/lock/lock_types.hpp"
#include "runtime/result.hpp"

namespace shoal::lock {

/// `lock_not_held` for `key`: no hold with the given token.
error not_held(std::string_view key);

/// The pure state machine of one lock key: its hold, its FIFO waiter queue
/// and its deadlines. A lock actor owns one; the shard (`lock_table`)
/// validates commands and draws their fences before they get here.
///
/// Transitions:
/// - acquire when free (no holder, lock-delay over, nobody waiting) →
///   granted with the command's fence; held (or in lock-delay, or others
///   queued first) and no wait → `lock_held` naming the holder's expiry;
///   with wait → queued at the back (`overloaded` past `max_waiters`).
/// - a hold bound to a lease has no deadline of its own (`no_deadline`):
///   it ends by release or with the lease (`release_lease`); refresh
///   refuses it with `invalid_argument`.
/// - refresh(token) on a live hold → extended; the hold expired →
///   `lock_expired`; released, never held, or another token →
///   `lock_not_held`.
/// - release(token) on a live hold → free, the first waiter is granted;
///   otherwise as refresh (an expired hold → `lock_expired`).
/// - tick: an expired hold ends (the first waiter is granted after the
///   lock-delay), waits past their deadline time out.
///
/// Every change appends the holder record to write (`record_key`).
class lock_key {
public:
  /// Takes `cfg.lock_delay` and `cfg.max_waiters`.
  lock_key(std::string name, std::string record_key, const lock_config& cfg);

  /// `cmd` is valid (`lock_table::check`) and carries its fence.
  result<acquire_result> acquire(const acquire_cmd& cmd, time_point now,
                                 effects& out);
  /// `ttl` is valid.
  result<lock_info> refresh(std::string_view token, duration ttl,
                            time_point now, effects& out);
  /// Returns the fence of the hold that ended.
  result<uint64_t> release(std::string_view token, time_point now,
                           effects& out);
  /// A queued acquirer went away (its connection closed).
  void cancel(uint64_t waiter, time_point now, effects& out);
  /// Ends the hold if it is bound to `lease` and drops the waiters bound
  /// to it (`lease_lost`). Returns true if the hold ended.
  bool release_lease(uint64_t lease, time_point now, effects& out);
  /// Ends an expired hold and the waits past their deadline; grants the
  /// next waiter.
  void tick(time_point now, effects& out);

  /// The next time `tick` has something to do, if any.
  std::optional<time_point> next_deadline() const;

  /// The state, without the owner token.
  lock_info get(time_point now) const;

  /// Free, nobody waiting, no lock-delay running: the key's state can be
  /// forgotten (its fences live on in the shard's counter).
  bool idle(time_point now) const;

  /// Adds the leases the hold and the waiters are bound to.
  void leases(std::set<uint64_t>& out) const;

  const std::string& name() const {
    return name_;
  }

  /// The fence of the current (or last) hold.
  uint64_t fence() const {
    return fence_;
  }

  /// The state of a held key from its holder record (start-up).
  static result<lock_key> restore(std::string name, std::string record_key,
                                  const lock_config& cfg, std::string_view value);

private:
  struct waiter_entry {
    uint64_t id;
    std::string token;
    duration ttl;
    time_point deadline;
    uint64_t lease;
    uint64_t fence;
  };

  lock_info info(bool with_token) const;
  result<void> check_live(std::string_view token, time_point now) const;
  void grant_to(std::string token, duration ttl, uint64_t lease,
                uint64_t fence, time_point now, effects& out);
  // Appends the holder record of the current hold.
  void write_record(effects& out) const;
  void end_hold(effects& out);
  // After the holder left: grants the first live waiter once the
  // lock-delay is over.
  void hand_over(time_point now, effects& out);

  std::string name_;
  std::string record_key_;
  duration lock_delay_;
  size_t max_waiters_;
  bool held_ = false;
  std::string owner_token_;
  uint64_t fence_ = 0;
  time_point acquired_;
  time_point expires_at_;
  uint64_t lease_ = 0;
  time_point free_at_;
  // A lock-delay after an expiry runs until `free_at_`.
  bool delay_pending_ = false;
  std::deque<waiter_entry> waiters_;
};

} // namespace shoal::lock
