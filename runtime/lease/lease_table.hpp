#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <variant>

#include "runtime/machine.hpp"
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

/// Why a lease ended.
enum class end_reason : uint8_t { revoked = 1, expired = 2 };

/// A lease that ended: its locks and keys must go.
struct lease_end {
  uint64_t id = 0;
  end_reason reason = end_reason::expired;

  friend bool operator==(const lease_end&, const lease_end&) = default;
};

/// What a command produced besides its answer: records, and the leases it
/// ended (published once durable).
using effects = shoal::effects<lease_end>;

/// A new lease `id` (drawn by the shell: randomness is not the machine's
/// business) for `ttl`.
struct grant_cmd {
  uint64_t id = 0;
  duration ttl{0};
};

/// Renews lease `id` to now + its TTL.
struct keepalive_cmd {
  uint64_t id = 0;
};

/// Ends lease `id` now.
struct revoke_cmd {
  uint64_t id = 0;
};

/// Ends every lease whose deadline passed; the answer is how many.
struct expire_cmd {};

/// Every command of the machine, as a log entry holds it.
using command = std::variant<grant_cmd, keepalive_cmd, revoke_cmd, expire_cmd>;

void encode(codec::writer& w, const command& cmd);
bool decode(codec::reader& r, command& out);

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

  using effects_type = effects;
  using event_type = lease_end;

  /// A new lease. Errors: `invalid_ttl`, `conflict` (the id is taken: draw
  /// another), `invalid_argument` (id 0), `overloaded`.
  result<lease_info> apply(const grant_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// `not_found` if revoked or expired (an expired one ends now, with its
  /// `lease_end`).
  result<lease_info> apply(const keepalive_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// `not_found` if already gone (an expired one ends now as expired).
  result<lease_info> apply(const revoke_cmd& cmd, const apply_ctx& ctx, effects& out);

  result<uint64_t> apply(const expire_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// The live lease `id`, or `not_found`.
  result<lease_info> get(uint64_t id, time_point now) const;

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
