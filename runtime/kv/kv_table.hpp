#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <variant>

#include "runtime/key.hpp"
#include "runtime/kv/kv_types.hpp"
#include "runtime/machine.hpp"
#include "runtime/result.hpp"

namespace shoal::kv {

/// What one command produced besides its result: records to persist in
/// one atomic batch, then events to publish once they are durable.
using effects = shoal::effects<event>;

/// Expires up to the table's `max_expire_per_sweep` keys whose deadline
/// passed, each with an `expire` event; the answer is how many.
struct expire_cmd {};

/// Drops change-log entries beyond the count or age limit.
struct trim_log_cmd {};

/// Removes every key bound to `lease`: `op` is `del` when it was revoked,
/// `expire` when it ran out. The answer is how many keys went.
struct end_lease_cmd {
  uint64_t lease = 0;
  operation op = operation::expire;
};

/// Every command of the machine, as a log entry holds it.
using command = std::variant<put_cmd, delete_cmd, expire_cmd, trim_log_cmd, end_lease_cmd>;

void encode(codec::writer& w, const command& cmd);
bool decode(codec::reader& r, command& out);

/// The pure state machine of one kv shard. It owns the shard's keys (in
/// memory, sorted), their expiry index, the shard revision, the revisions
/// of each key's retained history and of the retained change log. Commands
/// are applied with a context (runtime/machine.hpp); they return results
/// and append records and events to an `effects`. Reads never change state.
/// Owned by one kv shard actor.
///
/// Storage layout (column `kv`, every key prefixed by the shard as 2 bytes
/// big-endian, then a type byte):
/// - `e` + key                   → entry
/// - `h` + key + 0x00 + rev(be64) → version_record (history)
/// - `l` + rev(be64)             → event (change log for watch resume)
/// - `m`                         → shard revision (varint)
/// - `f` + key                   → fences: (lock, highest token) pairs
class kv_table {
public:
  using effects_type = effects;
  using event_type = event;

  kv_table(uint16_t shard, kv_config cfg);

  // -- commands ----------------------------------------------------------------

  /// Writes a key. Errors: `invalid_key`, `too_large` (value), `invalid_ttl`
  /// (negative or above the maximum), `invalid_argument` (a malformed
  /// fence), `fenced` (a fence below the highest token the key accepted for
  /// that lock; `current` is that token), `conflict` (with `current` set to
  /// the key's revision, 0 if absent). A key that has expired but was not yet
  /// swept counts as absent; its expiry is recorded first.
  result<write_result> apply(const put_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// Deletes a key. Absent and unconditional: success, nothing changes
  /// (except that a fence is remembered). Errors as for put.
  result<write_result> apply(const delete_cmd& cmd, const apply_ctx& ctx,
                             effects& out);

  result<uint64_t> apply(const expire_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const trim_log_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const end_lease_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// The leases keys of this shard are bound to.
  std::vector<uint64_t> leases() const;

  // -- reads -------------------------------------------------------------------

  /// The live entry of `key`: `not_found` if absent or expired at `now`.
  result<entry> get(std::string_view key, time_point now) const;

  /// Live entries matching the query, in key order.
  result<list_page> list(const list_query& q, time_point now) const;

  /// Every live entry matching `pattern` (for a watch's initial values).
  std::vector<entry> snapshot(const key_pattern& pattern, time_point now) const;

  uint16_t shard() const {
    return shard_;
  }

  /// The shard revision: the revision of the last change.
  uint64_t revision() const {
    return revision_;
  }

  /// The oldest revision still in the change log, or revision()+1 if the
  /// log is empty. A watch can resume after revision r iff
  /// r + 1 >= oldest_log_revision().
  uint64_t oldest_log_revision() const;

  /// The earliest expiry deadline, if any key has one.
  std::optional<time_point> next_expiry() const;

  size_t size() const {
    return entries_.size();
  }

  const kv_config& config() const {
    return cfg_;
  }

  // -- persistence -------------------------------------------------------------

  /// Rebuilds state from one stored record of this shard (fed in storage
  /// key order at start-up). Fails with `storage_error` on a corrupt one.
  result<void> restore(std::string_view key, std::string_view value);

  /// This shard's key prefix; every record key starts with it.
  static std::string prefix(uint16_t shard);
  static std::string entry_key(uint16_t shard, std::string_view key);
  static std::string history_prefix(uint16_t shard, std::string_view key);
  static std::string log_key(uint16_t shard, uint64_t revision);
  static std::string fence_key(uint16_t shard, std::string_view key);

  static std::string encode(const entry& e);
  static result<entry> decode_entry(std::string_view key, std::string_view v);
  static std::string encode(const version_record& v);
  static result<version_record> decode_version(std::string_view v);
  static std::string encode(const event& e);
  static result<event> decode_event(std::string_view v);

private:
  // Calls `fn` for each live entry matching `pattern`, in key order,
  // starting after `after` (empty: from the start); stops when `fn`
  // returns false.
  template <class Fn>
  void visit_live(const key_pattern& pattern, const std::string& after,
                  time_point now, Fn&& fn) const;

  bool is_live(const entry& e, time_point now) const {
    return !e.has_expiry() || e.expires_at > now;
  }

  void bind_lease(const entry& e);
  void unbind_lease(const entry& e);

  // Records the removal of a key by delete or expiry.
  void remove(std::map<std::string, entry, std::less<>>::iterator it,
              operation op, time_point now, effects& out);

  // Refuses a malformed fence or one below what `key` accepted.
  result<void> check_fence(const std::string& key, const fence& f) const;
  // Remembers an accepted fence (if it raises the token).
  void note_fence(const std::string& key, const fence& f, effects& out);

  void add_history(const std::string& key, const version_record& v,
                   effects& out);
  void add_log(const event& e, effects& out);
  void persist_revision(effects& out);

  uint16_t shard_;
  kv_config cfg_;
  uint64_t revision_ = 0;
  std::map<std::string, entry, std::less<>> entries_;
  std::set<std::pair<time_point, std::string>> expiry_;
  std::unordered_map<std::string, std::deque<uint64_t>> history_;
  std::deque<std::pair<uint64_t, time_point>> log_;
  std::unordered_map<std::string, std::vector<fence>> fences_;
  std::unordered_map<uint64_t, std::set<std::string>> by_lease_;
};

/// Merges the pages of several shards into one: key order, at most `limit`
/// entries, `more` if any shard had more or entries were cut.
list_page merge_pages(std::vector<list_page> pages, uint32_t limit);

} // namespace shoal::kv
