#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal::lease {

/// A lease: a deadline kept alive by its holder. Locks and kv keys bound to
/// it end when it is revoked or expires.
struct lease_info {
  uint64_t id = 0;
  /// The TTL every keep-alive renews to.
  duration ttl{0};
  time_point granted;
  time_point expires_at;
};

/// A record the shell persists (`value` nullopt: delete).
struct write {
  std::string key;
  std::optional<std::string> value;
};

/// What a command or a sweep produced besides its answer.
struct effects {
  std::vector<write> writes;
  /// Leases that ran out (their locks and keys must go).
  std::vector<uint64_t> expired;
};

struct lease_config {
  duration min_ttl = std::chrono::milliseconds{100};
  duration max_ttl = std::chrono::hours{24};
  /// Leases per shard; more get `overloaded`.
  size_t max_leases = 1'000'000;
};

/// `invalid_ttl` unless `ttl` is within the bounds of `cfg`.
result<void> check_ttl(const lease_config& cfg, duration ttl);

/// The pure state machine of one lease shard: the shard's leases and their
/// deadlines. Ids are drawn by the shell (randomness is not the machine's
/// business); the table refuses 0 and an id it already holds. A lease that
/// is revoked or expired is gone: every later call on it gets `not_found`,
/// and one past its deadline counts as gone even before the sweep records
/// its expiry.
///
/// Storage layout (column `lease`): shard (2 bytes big-endian), then the
/// id (8 bytes big-endian) → ttl, granted, expires_at.
class lease_table {
public:
  lease_table(uint16_t shard, lease_config cfg);

  /// A new lease `id` for `ttl`. Errors: `invalid_ttl`, `conflict` (the id
  /// is taken: draw another), `invalid_argument` (id 0), `overloaded`.
  result<lease_info> grant(uint64_t id, duration ttl, time_point now,
                           effects& out);

  /// Renews `id` to now + its TTL. `not_found` if revoked or expired (an
  /// expired one is recorded as such in `out`).
  result<lease_info> keepalive(uint64_t id, time_point now, effects& out);

  /// Ends `id` now. `not_found` if already gone.
  result<lease_info> revoke(uint64_t id, time_point now, effects& out);

  /// The live lease `id`, or `not_found`.
  result<lease_info> get(uint64_t id, time_point now) const;

  /// Ends every lease whose deadline is ≤ now (ids in `out.expired`).
  void expire(time_point now, effects& out);

  std::optional<time_point> next_expiry() const;

  const lease_config& config() const {
    return cfg_;
  }

  size_t size() const {
    return leases_.size();
  }

  bool contains(uint64_t id) const {
    return leases_.count(id) != 0;
  }

  uint16_t shard() const {
    return shard_;
  }

  /// Rebuilds state from one stored record (start-up).
  result<void> restore(std::string_view key, std::string_view value);

  static std::string prefix(uint16_t shard);

private:
  std::string record_key(uint64_t id) const;
  void end(std::unordered_map<uint64_t, lease_info>::iterator it, effects& out);

  uint16_t shard_;
  lease_config cfg_;
  std::unordered_map<uint64_t, lease_info> leases_;
  std::set<std::pair<time_point, uint64_t>> deadlines_;
};

} // namespace shoal::lease
