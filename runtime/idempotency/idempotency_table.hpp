#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <variant>

#include "runtime/machine.hpp"
#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal::idem {

/// Where an idempotency record stands.
enum class state : uint8_t { in_progress = 1, completed = 2, failed = 3 };

std::string_view to_string(state s);

/// One idempotency key's record.
struct record {
  std::string key;
  state st = state::in_progress;
  /// The current owner's token (128-bit random, hex). Only the holder of an
  /// in-progress record's token may touch, complete or fail it.
  std::string owner_token;
  /// Optional request fingerprint; a later begin with another one is
  /// refused with `fingerprint_mismatch`.
  std::string fingerprint;
  time_point created;
  time_point updated;
  /// In progress: the end of the owner's lease. Completed or failed: the end
  /// of the record's retention. The record is gone after this.
  time_point expires_at;
  std::string result;
  /// SHA-256 of `result`, lowercase hex.
  std::string result_hash;
  std::string error_code;
  std::string error_message;
  /// The highest lock fence presented for this key (0: none). A begin,
  /// complete or fail carrying a lower fence is refused with `fenced`: its
  /// caller's lock was superseded.
  uint64_t fence = 0;
};

/// Take the lease of `key` (or learn its outcome).
struct begin_cmd {
  std::string key;
  duration lease_ttl{0};
  std::string fingerprint;
  /// The token a fresh owner gets; drawn by the shell (randomness is not
  /// the machine's business).
  std::string new_token;
  /// The fence of the lock the caller holds, 0 if none.
  uint64_t fence = 0;
};

struct begin_result {
  /// True: the caller owns the key now and should do the work.
  bool fresh = false;
  record rec;
};

struct touch_cmd {
  std::string key;
  std::string token;
  duration lease_ttl{0};
};

struct complete_cmd {
  std::string key;
  std::string token;
  std::string result;
  /// How long the outcome is kept; 0: the table's default.
  duration retention{0};
  /// The fence of the lock the caller holds, 0 if none.
  uint64_t fence = 0;
};

struct fail_cmd {
  std::string key;
  std::string token;
  std::string code;
  std::string message;
  duration retention{0};
  uint64_t fence = 0;
};

/// Removes a record, live or not; the answer tells whether one existed.
struct erase_cmd {
  std::string key;
};

/// Removes up to the table's `max_sweep` records whose deadline passed,
/// oldest deadline first; the answer is how many.
struct sweep_cmd {};

/// Every command of the machine, as a log entry holds it.
using command = std::variant<begin_cmd, touch_cmd, complete_cmd, fail_cmd, erase_cmd,
                             sweep_cmd>;

/// Idempotency records have no events: only records to persist.
using effects = shoal::effects<no_event>;

void encode(codec::writer& w, const command& cmd);
bool decode(codec::reader& r, command& out);

/// Limits of the table.
struct idem_config {
  size_t max_key_bytes = 256;
  duration max_lease = std::chrono::hours{24};
  duration default_retention = std::chrono::hours{24};
  duration max_retention = std::chrono::hours{24 * 365};
  size_t max_result_bytes = 1024 * 1024;
  size_t max_code_bytes = 64;
  size_t max_message_bytes = 512;
  size_t max_fingerprint_bytes = 256;
  size_t max_sweep = 1000;
};

/// Checks an idempotency key: 1..max_bytes printable ASCII, no spaces.
/// Fails with `invalid_key`.
result<void> validate_record_key(std::string_view key, size_t max_bytes = 256);

/// The pure state machine of one idempotency shard: records by key and a
/// deadline index. Commands are applied with a context (`now`; begin
/// carries the fresh token) and append the records to persist; reads never
/// change state (runtime/machine.hpp). A record whose
/// deadline passed is invisible at once and removed by `sweep`.
///
/// Transitions (every other combination is an error, nothing changes):
/// - begin on an absent or dead key → in_progress with `new_token` (fresh);
///   on a live in_progress key → `conflict`; on a completed/failed key → the
///   record (not fresh); a fingerprint differing from a live record's →
///   `fingerprint_mismatch`.
/// - touch / complete / fail need a live in_progress record and its token:
///   absent → `not_found`; already completed/failed → `conflict`; another
///   token → `not_owner`; the lease ran out → `lease_expired` (if nobody
///   took over; after a takeover the old token gets `not_owner`).
/// - a begin, complete or fail with a lock fence lower than the highest one
///   the key has seen → `fenced` (fence 0 means none and is not checked).
class idempotency_table {
public:
  using effects_type = effects;
  using event_type = no_event;

  idempotency_table(uint16_t shard, idem_config cfg);

  result<begin_result> apply(const begin_cmd& cmd, const apply_ctx& ctx,
                             effects& out);
  result<record> apply(const touch_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<record> apply(const complete_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<record> apply(const fail_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<bool> apply(const erase_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const sweep_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// The live record of `key`, or `not_found`.
  result<record> get(std::string_view key, time_point now) const;

  size_t size() const {
    return records_.size();
  }

  uint16_t shard() const {
    return shard_;
  }

  /// Rebuilds state from one stored record (start-up).
  result<void> restore(std::string_view key, std::string_view value);

  static std::string prefix(uint16_t shard);
  static std::string record_key(uint16_t shard, std::string_view key);
  static std::string encode(const record& r);
  static result<record> decode(std::string_view v);

  /// `validate_record_key` with this table's limit.
  result<void> validate_key(std::string_view key) const {
    return validate_record_key(key, cfg_.max_key_bytes);
  }

private:
  // The live in-progress record of `key` owned by `token`, or the error.
  result<record*> owned(const std::string& key, const std::string& token,
                        time_point now);
  result<void> check_lease(duration ttl) const;
  result<duration> retention(duration asked) const;
  // Ends the owner's lease with an outcome (complete or fail): checks the
  // retention and ownership, applies `set_outcome`, keeps the record.
  template <class SetOutcome>
  result<record> conclude(const std::string& key, const std::string& token,
                          uint64_t fence, duration keep, time_point now,
                          effects& out,
                          SetOutcome&& set_outcome);
  void store(record rec, effects& out);
  void remove(std::map<std::string, record, std::less<>>::iterator it,
              effects& out);

  uint16_t shard_;
  idem_config cfg_;
  std::map<std::string, record, std::less<>> records_;
  std::set<std::pair<time_point, std::string>> deadlines_;
};

} // namespace shoal::idem
