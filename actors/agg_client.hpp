#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "actors/node.hpp"

namespace shoal {

/// Where and how one merge lands.
struct merge_options {
  /// The event's time: its bucket for windowed aggregates (default: now).
  std::optional<time_point> at;
  /// The bucket itself, instead of `at`.
  std::optional<int64_t> bucket;
  /// Counts the event once per aggregate and entity within the dedup
  /// retention; a repeat reports `duplicate` and changes nothing.
  std::string event_id;
  /// Keeps the cell at least this long (0: its retention only).
  duration ttl{0};
};

/// The aggregate primitive for C++ programs that embed a node: the same
/// catalog, merges and reads as the HTTP API, without JSON. Deltas are
/// typed by the aggregate's kind: numbers for sum, count, min and max;
/// elements for hll, topk, bloom and set; a timed value for first and
/// last. Blocking calls (never inside an actor) and `*_async` forms that
/// call `done` on an actor thread.
class agg_client {
public:
  explicit agg_client(node& n);

  /// Declares an aggregate: true if new (see `agg_service::define`).
  result<bool> define(agg::definition def);
  result<bool> drop(std::string name);
  std::optional<agg::definition> describe(std::string_view name) const;

  // -- typed deltas ---------------------------------------------------------------

  /// sum, count, min, max.
  result<agg::value> delta(std::string_view name, int64_t n) const;
  /// min, max (any finite number); sum and count (integral).
  result<agg::value> delta(std::string_view name, double x) const;
  /// hll, bloom, set, topk (`weights`: topk only, one per element).
  result<agg::value> delta(std::string_view name, const std::vector<std::string>& elements,
                           const std::vector<uint64_t>* weights = nullptr) const;
  /// first, last.
  result<agg::value> delta(std::string_view name, time_point at, std::string v) const;

  /// A merge command of `delta` (from `delta(...)`) into (name, entity).
  static agg::merge_cmd command(std::string name, std::string entity, agg::value delta,
                                const merge_options& opts = {});

  // -- merges -------------------------------------------------------------------

  /// Merges a number (see `delta`).
  result<agg::merge_result> add(std::string name, std::string entity, int64_t n,
                                const merge_options& opts = {});
  /// Merges elements (hll, topk, bloom, set).
  result<agg::merge_result> add(std::string name, std::string entity,
                                const std::vector<std::string>& elements,
                                const merge_options& opts = {});
  /// Merges one command.
  result<agg::merge_result> merge(agg::merge_cmd cmd);
  /// Merges a batch: one outcome per command, in order; each is atomic.
  result<std::vector<agg::merge_outcome>> merge(std::vector<agg::merge_cmd> batch);
  void merge_async(std::vector<agg::merge_cmd> batch,
                   std::function<void(result<std::vector<agg::merge_outcome>>)> done);

  // -- reads --------------------------------------------------------------------

  /// The cell of `bucket` (default: the current one).
  result<agg::reading> get(std::string name, std::string entity,
                           std::optional<int64_t> bucket = std::nullopt);
  /// Buckets [from, to), merged.
  result<agg::reading> window(std::string name, std::string entity, int64_t from,
                              int64_t to);
  /// The last `n` buckets, the current one included, merged.
  result<agg::reading> last(std::string name, std::string entity, int64_t n);
  /// One reading per entity (of the current bucket, or `bucket`).
  result<std::vector<agg::read_outcome>>
  get_many(std::string name, const std::vector<std::string>& entities,
           std::optional<int64_t> bucket = std::nullopt);
  void read_async(std::vector<agg::read_query> queries, bool many,
                  std::function<void(result<std::vector<agg::read_outcome>>)> done);

  // -- dedup --------------------------------------------------------------------

  /// True for exactly one caller per (scope, event id) while its mark lives.
  result<bool> mark_seen(std::string scope, std::string event_id, duration retention);

private:
  // A delta built by `make` with the kind and parameters of aggregate `name`.
  result<agg::value>
  with_monoid(std::string_view name,
              const std::function<result<agg::value>(const agg::monoid&)>& make) const;
  result<agg::reading> read_one(agg::read_query q);

  node& node_;
};

} // namespace shoal
