#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <variant>

#include "runtime/aggregate/monoid.hpp"
#include "runtime/machine.hpp"
#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal::agg {

/// A declared aggregate: its kind, its time window and how long buckets
/// and event-id marks are kept.
struct definition {
  std::string name;
  kind k = kind::sum;
  kind_params params;
  /// Bucket width (0: no window, everything in bucket 0). Bucket b covers
  /// [b·window, (b+1)·window) of event time since the Unix epoch.
  duration window{0};
  /// A bucket expires this long after its end (0: never).
  duration retention{0};
  /// How long a merge's event id is remembered for dedup.
  duration dedup_retention = std::chrono::hours{24};
};

/// A definition as a stored record (the node keeps its aggregates'
/// definitions in its meta keyspace).
std::string encode_definition(const definition& def);
result<definition> decode_definition(std::string_view bytes);

/// Whether `next` may replace `prev` with the cells of `prev` kept: the
/// same kind, parameters and window (retentions may change).
bool same_shape(const definition& prev, const definition& next);

/// One merge. The bucket comes from `bucket`, else from `event_time`
/// (windowed aggregates), else the current time.
struct merge_cmd {
  std::string name;
  std::string entity;
  std::optional<int64_t> bucket;
  std::optional<time_point> event_time;
  value delta;
  /// Extends the cell's expiry to at least now + ttl (0: no change).
  duration ttl{0};
  /// With an id, the dedup mark and the merge are one record batch; a
  /// repeated id for the same aggregate and entity within the dedup
  /// retention changes nothing.
  std::string event_id;
};

struct merge_result {
  int64_t bucket = 0;
  /// The event id was seen before: nothing changed.
  bool duplicate = false;
};

/// A cell's value as read.
struct cell_view {
  int64_t bucket = 0;
  value v;
  /// Absent or expired: `v` is the identity.
  bool found = false;
  time_point expires_at = time_point::max();
};

/// One live cell, whole (for mirrors and scans).
struct cell_snapshot {
  std::string name;
  std::string entity;
  int64_t bucket = 0;
  value v;
  time_point expires_at = time_point::max();
};

/// A merge applied (for on-merge hooks and watchers, once durable): the
/// command with its bucket filled in, and the time it was applied at.
struct applied_merge {
  merge_cmd merge;
  time_point at;
};

/// One merge of a batch: its result, or the error that refused it (`code`
/// non-zero; the merge changed nothing).
struct merge_outcome {
  merge_result r;
  uint8_t code = 0;
  std::string message;
};

/// Records, and the merges applied as events (if `keep_merged`: a shell
/// without on-merge hooks saves the copies).
struct effects : shoal::effects<applied_merge> {
  bool keep_merged = true;
  /// Set: merges leave their cells' records to `aggregate_table::flush`,
  /// which writes each touched cell once (a batch of merges into one
  /// cell encodes it once).
  bool defer_cells = false;
  std::vector<std::tuple<std::string, std::string, int64_t>> deferred;
};


/// What to read of one (aggregate, entity).
struct read_query {
  enum class mode : uint8_t {
    /// The bucket of now.
    current,
    /// `bucket`.
    bucket,
    /// The merge of buckets [from, to).
    range,
    /// The merge of the last `n` buckets, the current one included.
    last,
  };
  std::string name;
  std::string entity;
  mode how = mode::current;
  int64_t bucket = 0;
  int64_t from = 0;
  int64_t to = 0;
  int64_t n = 0;
};

/// The answer to a `read_query`: the buckets [from, to) it covered and
/// their merged value (the identity if none is live).
struct reading {
  std::string entity;
  /// Some live cell was merged.
  bool found = false;
  int64_t from = 0;
  int64_t to = 0;
  value v;
  /// The earliest expiry of the cells merged (max: none expires).
  time_point expires_at = time_point::max();
};

struct table_config {
  size_t max_entity_bytes = 1024;
  size_t max_event_id_bytes = 256;
  /// Buckets one window query may merge.
  int64_t max_window_buckets = 100'000;
  /// Expired cells and marks removed per sweep.
  size_t max_sweep = 10'000;
};

/// The merges of one batch that reach one shard, applied in order: each
/// is atomic on its own (a refused one changes nothing) and a cell merged
/// several times is written once. The answer has one outcome per merge.
struct merge_batch_cmd {
  std::vector<merge_cmd> merges;
};

/// Claims `event_id` in `scope` for `retention`: true for exactly the
/// first caller while the mark lives.
struct seen_cmd {
  std::string scope;
  std::string event_id;
  duration retention{0};
};

/// Forgets a definition and deletes its cells and marks; the answer is how
/// many records went.
struct drop_cmd {
  std::string name;
};

/// Removes expired cells and marks (at most `max_sweep`); the answer is
/// how many.
struct sweep_cmd {};

/// Adds or replaces a definition in the shard's memory (no record: the
/// node's catalog keeps definitions and gives every shard each of them).
struct define_cmd {
  definition def;
};

/// Every command that changes a shard's records, as a log entry holds it.
/// (`define_cmd` is the catalog's, which has its own log.)
using command = std::variant<merge_cmd, merge_batch_cmd, seen_cmd, drop_cmd, sweep_cmd>;

void encode(codec::writer& w, const command& cmd);
bool decode(codec::reader& r, command& out);

/// The checks of a merge into `def` that need no state: the entity's and
/// the event id's sizes, the ttl, and the bucket of an aggregate without a
/// window. `aggregate_table::merge` makes them first; the HTTP codec makes
/// them for every merge of a batch before sending any, so that a malformed
/// batch changes nothing.
result<void> check_merge(const merge_cmd& cmd, const definition& def,
                         const table_config& cfg = {});

/// The pure state machine of one aggregate shard: cells (aggregate,
/// entity, bucket) → value with an optional expiry, and dedup marks (scope,
/// event id) → expiry. Commands take `now` and append the records to
/// persist; a merge with an event id writes its mark and its cell in the
/// same effects, so they are durable together or not at all. Expired cells
/// and marks are invisible at once and removed by `sweep`.
///
/// Records (after the u16be shard prefix): `c` + len-prefixed name +
/// len-prefixed entity + bucket (u64be, order-preserving) → cell; `d` +
/// len-prefixed scope + event id → mark. Definitions are the node's and
/// are given to every shard (`define`).
class aggregate_table {
public:
  aggregate_table(uint16_t shard, table_config cfg = {});

  /// Adds or replaces a definition (its cells stay if the kind and
  /// parameters are unchanged; `invalid_argument` otherwise while cells
  /// exist).
  result<void> define(definition def);
  const definition* find(std::string_view name) const;

  using effects_type = effects;
  using event_type = applied_merge;

  result<merge_result> apply(const merge_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<std::vector<merge_outcome>> apply(const merge_batch_cmd& cmd, const apply_ctx& ctx,
                                           effects& out);
  result<bool> apply(const seen_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const drop_cmd& cmd, const apply_ctx& ctx, effects& out);
  result<uint64_t> apply(const sweep_cmd& cmd, const apply_ctx& ctx, effects& out);
  /// `define`, as a command (true).
  result<bool> apply(const define_cmd& cmd, const apply_ctx& ctx, effects& out);

  // get, window and last are `read` in their own shapes.

  /// The cell of `bucket` (nullopt: the current one).
  result<cell_view> get(std::string_view name, std::string_view entity,
                        std::optional<int64_t> bucket, time_point now) const;
  /// The merge of buckets [from, to).
  result<value> window(std::string_view name, std::string_view entity, int64_t from,
                       int64_t to, time_point now) const;
  /// The merge of the last `n` buckets, the current one included.
  result<value> last(std::string_view name, std::string_view entity, int64_t n,
                     time_point now) const;
  /// Any of the above.
  result<reading> read(const read_query& q, time_point now) const;
  /// The buckets [from, to) `q` covers at `now`, or why it is refused.
  result<std::pair<int64_t, int64_t>> span(const read_query& q, time_point now) const;

  /// The bucket of `t` for aggregate `def`.
  static int64_t bucket_of(const definition& def, time_point t);

  /// The live cell (name, entity, bucket), if any.
  std::optional<cell_snapshot> snapshot(const std::string& name, const std::string& entity,
                                        int64_t bucket, time_point now) const;
  /// Up to `limit` live cells after `after` (nullopt: from the first), in
  /// key order: a scan in pages.
  std::vector<cell_snapshot> scan(const std::optional<cell_snapshot>& after, size_t limit,
                                  time_point now) const;


  /// Rebuilds a cell or a mark from a stored record (start-up, after every
  /// definition). A cell of an aggregate no longer defined (dropped while
  /// the node went down) is set aside: `take_orphans` names its record.
  result<void> restore(std::string_view key, std::string_view value);
  std::vector<std::string> take_orphans();

  static std::string prefix(uint16_t shard);
  uint16_t shard() const {
    return shard_;
  }
  size_t cells() const {
    return cells_.size();
  }
  size_t marks() const {
    return marks_.size();
  }

private:
  struct cell {
    value v;
    time_point expires_at = time_point::max();
  };
  struct aggregate {
    definition def;
    monoid m;
  };
  using cell_key = std::tuple<std::string, std::string, int64_t>;
  using mark_key = std::pair<std::string, std::string>;

  result<merge_result> merge(const merge_cmd& cmd, time_point now, effects& out);
  // Writes the records of the cells `fx.deferred` names (each once).
  void flush(effects& fx) const;
  result<const aggregate*> lookup(std::string_view name) const;
  // The first cell of aggregate `name` (cells sort by name first).
  std::map<cell_key, cell>::iterator first_cell(std::string_view name);
  // Merges the live cells of [from, to) into `out`.
  result<void> merge_range(const aggregate& a, std::string_view name,
                           std::string_view entity, int64_t from, int64_t to,
                           time_point now, reading& out) const;
  // The dedup scope of merges into (name, entity).
  static std::string merge_scope(std::string_view name, std::string_view entity);
  result<void> check_entity(std::string_view entity) const;
  std::string cell_record_key(const cell_key& k) const;
  std::string mark_record_key(const mark_key& k) const;
  std::string encode_cell(const aggregate& a, const cell& c) const;
  void write_mark(const mark_key& k, time_point expires_at, effects& out);

  uint16_t shard_;
  table_config cfg_;
  std::map<std::string, aggregate, std::less<>> aggregates_;
  std::map<cell_key, cell> cells_;
  std::map<mark_key, time_point> marks_;
  // Expiries of cells and marks, for the sweep.
  std::set<std::pair<time_point, cell_key>> cell_deadlines_;
  std::set<std::pair<time_point, mark_key>> mark_deadlines_;
  // Records of cells without a definition, found at restore.
  std::vector<std::string> orphans_;
};

} // namespace shoal::agg
