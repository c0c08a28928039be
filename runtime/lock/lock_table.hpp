#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "runtime/lock/lock_key.hpp"
#include "runtime/lock/lock_types.hpp"
#include "runtime/result.hpp"

namespace shoal::lock {

/// The pure state machine of one lock shard's own part: it validates
/// commands before they reach a lock key (`lock_key`, one per held or
/// contended key, each in its own actor) and keeps the shard's fencing
/// counter. Fences come from that one counter, drawn in arrival order, so
/// they strictly increase per lock key and are never reused, also across
/// expiry and restarts: the counter record reserves a block of fences
/// (`lock_config::fence_block`) and a restarted shard continues above the
/// last reservation.
///
/// Records (column `lock`, after the u16be shard prefix): `c` the fence
/// reservation, `h`+key the holder of a held key.
class lock_table {
public:
  lock_table(uint16_t shard, lock_config cfg);

  /// An acquire's key, ttl, wait and owner token.
  result<void> check(const acquire_cmd& cmd) const;
  /// A refresh's key and ttl.
  result<void> check_refresh(std::string_view key, duration ttl) const;
  result<void> validate_key(std::string_view key) const;

  /// The next fence. Appends the counter record when it opens a new block;
  /// that record is submitted before any grant carrying the fence.
  uint64_t draw_fence(effects& out);

  /// The state of a free key (for a new lock actor).
  lock_key make_key(std::string key) const;

  /// Rebuilds the counter or one holder from a stored record (start-up).
  /// Waiters are not stored: they are connections.
  result<void> restore(std::string_view key, std::string_view value);

  /// The held keys restored so far; the shard spawns their actors.
  std::map<std::string, lock_key, std::less<>> take_restored();

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
  result<void> check_ttl(duration ttl) const;
  std::string holder_key(std::string_view key) const;
  std::string counter_key() const;

  uint16_t shard_;
  lock_config cfg_;
  // The last fence drawn, and the highest one the stored counter covers.
  uint64_t fence_ = 0;
  uint64_t reserved_ = 0;
  std::map<std::string, lock_key, std::less<>> restored_;
};

} // namespace shoal::lock
