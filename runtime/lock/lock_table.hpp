#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "runtime/lock/lock_key.hpp"
#include "runtime/lock/lock_types.hpp"
#include "runtime/result.hpp"

namespace shoal::lock {

/// Extends the hold of `key` owned by `token` to now + `ttl`.
struct refresh_cmd {
  std::string key;
  std::string token;
  duration ttl{0};
};

/// Ends the hold of `key` owned by `token`; the answer is its fence.
struct release_cmd {
  std::string key;
  std::string token;
};

/// Lease `lease` ended: holds bound to it end, its waiters leave
/// (`lease_lost`). The answer is how many holds ended.
struct lease_end_cmd {
  uint64_t lease = 0;
};

/// Ends expired holds and waits past their deadline, on every key whose
/// deadline passed; grants the next waiters. The answer is how many keys
/// it looked at.
struct tick_cmd {};

/// Every command of the machine, as a log entry holds it.
using command = std::variant<acquire_cmd, refresh_cmd, release_cmd, lease_end_cmd, tick_cmd>;

void encode(codec::writer& w, const command& cmd);
bool decode(codec::reader& r, command& out);

/// The pure state machine of one lock shard: one `lock_key` per held or
/// contended key (its hold, FIFO waiters and deadlines), a deadline index
/// over them, and the shard's fencing counter. Fences come from that one
/// counter, drawn as acquires are applied, so they strictly increase per
/// lock key and are never reused, also across expiry and restarts: the
/// counter record reserves a block of fences (`lock_config::fence_block`)
/// and a restarted shard continues above the last reservation. A key that
/// is free with nobody waiting is forgotten (its fences live on in the
/// counter).
///
/// Records (column `lock`, after the u16be shard prefix): `c` the fence
/// reservation, `h`+key the holder of a held key.
class lock_table {
public:
  using effects_type = effects;
  using event_type = event;

  lock_table(uint16_t shard, lock_config cfg);

  // -- commands ----------------------------------------------------------------

  /// Granted, `lock_held`, or queued (`granted` false: an event answers it
  /// later). Errors of `check` first.
  result<acquire_result> apply(const acquire_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<lock_info> apply(const refresh_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const release_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const lease_end_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const tick_cmd& cmd, const apply_ctx& ctx, effects& out);

  // -- observers ---------------------------------------------------------------

  /// The state of `key` without its owner token (free if not held).
  result<lock_info> get(std::string_view key, time_point now) const;

  /// The next time a `tick_cmd` has something to do, if any.
  std::optional<time_point> next_deadline() const;

  /// Adds the leases holds and waiters are bound to.
  void leases(std::set<uint64_t>& out) const;

  /// The held or contended keys.
  const std::map<std::string, lock_key, std::less<>>& keys() const {
    return keys_;
  }

  /// An acquire's key, ttl, wait and owner token.
  result<void> check(const acquire_cmd& cmd) const;
  /// A refresh's key and ttl.
  result<void> check_refresh(std::string_view key, duration ttl) const;
  result<void> validate_key(std::string_view key) const;

  /// The next fence. Appends the counter record when it opens a new block;
  /// it goes in the same batch as (and before) any grant carrying the
  /// fence.
  uint64_t draw_fence(effects& out);

  /// The state of a free key.
  lock_key make_key(std::string key) const;

  /// Rebuilds the counter or one holder from a stored record (start-up).
  /// Waiters are not stored: they are connections.
  result<void> restore(std::string_view key, std::string_view value);

  uint64_t last_fence() const {
    return fence_;
  }

  uint16_t shard() const {
    return shard_;
  }

  const lock_config& config() const {
    return cfg_;
  }

  static std::string prefix(uint16_t shard);

private:
  using key_map = std::map<std::string, lock_key, std::less<>>;

  result<void> check_ttl(duration ttl) const;
  std::string holder_key(std::string_view key) const;
  std::string counter_key() const;
  // Indexes the deadline of `it` again after a change, and forgets the key
  // once idle at `now`.
  void settle(key_map::iterator it, time_point now);

  uint16_t shard_;
  lock_config cfg_;
  // The last fence drawn, and the highest one the stored counter covers.
  uint64_t fence_ = 0;
  uint64_t reserved_ = 0;
  key_map keys_;
  // (deadline, key) of every key with one, and each key's indexed deadline.
  std::set<std::pair<time_point, std::string>> deadlines_;
  std::map<std::string, time_point, std::less<>> deadline_of_;
};

} // namespace shoal::lock
