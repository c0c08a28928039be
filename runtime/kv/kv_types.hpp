#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/time.hpp"

namespace shoal::kv {

/// "No condition" for `if_revision`.
inline constexpr uint64_t any_revision = std::numeric_limits<uint64_t>::max();

/// What happened to a key.
enum class operation : uint8_t { put = 1, del = 2, expire = 3 };

std::string_view to_string(operation op);

/// One key's current state.
struct entry {
  std::string key;
  std::string value;
  /// Shard revision of the last change.
  uint64_t revision = 0;
  /// Shard revision of the put that created the key.
  uint64_t create_revision = 0;
  /// Puts since creation (1 after the first).
  uint64_t version = 0;
  time_point created;
  time_point modified;
  /// Absolute deadline; `time_point{}` (the epoch) means none.
  time_point expires_at;
  /// Lease the key is bound to, 0 for none.
  uint64_t lease = 0;

  bool has_expiry() const {
    return expires_at != time_point{};
  }
};

/// A change, as watchers and the change log see it.
struct event {
  std::string key;
  operation op = operation::put;
  /// Shard revision of this change.
  uint64_t revision = 0;
  /// The key's revision before this change, 0 if it did not exist.
  uint64_t prev_revision = 0;
  /// The new value for `put`, empty otherwise.
  std::string value;
  time_point at;
  uint16_t shard = 0;

  friend bool operator==(const event&, const event&) = default;
};

/// One version in a key's history (a delete or expiry is a version too).
struct version_record {
  operation op = operation::put;
  uint64_t revision = 0;
  uint64_t version = 0;
  std::string value;
  time_point at;
  time_point expires_at;
};

/// A lock's fencing token carried by a write. Each key remembers the highest
/// token it accepted per lock (also after the key is deleted) and refuses a
/// lower one with `fenced`, so a holder whose lock has passed on cannot
/// overwrite what the next holder wrote. An empty `lock` means no fence.
struct fence {
  std::string lock;
  uint64_t token = 0;

  bool empty() const {
    return lock.empty();
  }

  friend bool operator==(const fence&, const fence&) = default;
};

/// Set `key` to `value`.
struct put_cmd {
  std::string key;
  std::string value;
  /// 0 = no expiry.
  duration ttl{0};
  /// `any_revision`: unconditional; 0: only if absent; N: only if the key's
  /// current revision is N.
  uint64_t if_revision = any_revision;
  uint64_t lease = 0;
  struct fence fence;
};

/// Remove `key` (no error if absent, unless a condition is given).
struct delete_cmd {
  std::string key;
  uint64_t if_revision = any_revision;
  struct fence fence;
};

/// The outcome of a put or delete.
struct write_result {
  /// The shard revision after the command (unchanged if nothing changed).
  uint64_t revision = 0;
  /// The key's revision before the command, 0 if absent.
  uint64_t prev_revision = 0;
  /// False for a delete of an absent key.
  bool changed = false;
  /// For a put: the new entry (value omitted).
  entry current;
};

/// A list request for one shard: keys matching `pattern` after `after`.
struct list_query {
  std::string pattern;
  /// Exclusive lower bound (the continue token), empty for the start.
  std::string after;
  uint32_t limit = 100;
  /// Omit values.
  bool keys_only = false;
};

/// One shard's answer: up to `limit` entries in key order and whether
/// more matched.
struct list_page {
  std::vector<entry> items;
  bool more = false;
  /// The shard revision the page was read at.
  uint64_t revision = 0;
};

/// Limits of a kv shard.
struct kv_config {
  size_t max_value_bytes = 1024 * 1024;
  /// Versions kept per key by `history`.
  size_t history_depth = 16;
  /// Longest TTL accepted.
  duration max_ttl = std::chrono::hours{24 * 365 * 10};
  /// Change-log entries kept per shard for watch resume.
  size_t log_max_count = 10'000;
  /// Change-log entries older than this are dropped.
  duration log_max_age = std::chrono::hours{24};
  /// Keys expired per sweep step (the rest follow on the next tick).
  size_t max_expire_per_sweep = 1'000;
  /// Distinct locks whose fencing tokens one key remembers.
  size_t max_fences_per_key = 16;
};

} // namespace shoal::kv
