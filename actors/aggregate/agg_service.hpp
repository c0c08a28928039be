#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

#include "actors/aggregate/agg_hub.hpp"
#include "actors/aggregate/agg_shard.hpp"
#include "actors/aggregate/merge_hooks.hpp"
#include "actors/cluster/routing.hpp"
#include "actors/sharding.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// Limits and budgets of the aggregate primitive.
struct agg_config {
  agg::table_config table;
  /// The node's window cache, split evenly among the shards (0: none).
  size_t cache_bytes = size_t{64} << 20;
};

/// The operations the per-aggregate metrics distinguish.
enum class agg_op : uint8_t { get, get_many, merge, window };

/// A merge watch; destroying it ends the watch.
class merge_watch {
public:
  explicit merge_watch(std::function<void()> stop) : stop_(std::move(stop)) {
  }
  merge_watch(const merge_watch&) = delete;
  merge_watch& operator=(const merge_watch&) = delete;
  ~merge_watch() {
    stop_();
  }

private:
  std::function<void()> stop_;
};

/// The aggregate primitive of a node.
///
/// - A catalog of definitions, persisted in the node's meta keyspace and
///   given to every shard. `define` adds one (or changes its retentions);
///   its kind, parameters and window are fixed until it is dropped. `drop`
///   deletes its cells everywhere. Catalog changes run one at a time. In a
///   cluster (`dir`), the catalog of the owner of shard 0 is the cluster's:
///   every member sends it changes, and it passes each to every other
///   reachable member before answering; the others make their catalog
///   equal to it every 2 s (catching up on what they missed).
/// - Merges, reads, dedup claims and sweeps go to each shard's owner.
/// - Shards: the cells of (aggregate, entity) live on the shard of both
///   names, with the dedup marks of their merges; a standalone dedup mark
///   lives on the shard of (scope, event id). At start every shard restores
///   its records; cells of aggregates dropped while the node was down are
///   deleted then.
/// - Batched merges and reads are split by shard and their answers put
///   back in request order. Each merge is atomic; a batch is not.
/// - Per-aggregate metrics: latency and errors per operation, and window
///   cache hits and misses, in `/metrics`.
/// - On-merge hooks (`hooks()`): they run where a merge lands, so in a
///   cluster they see this member's shards. `watch` sees every member's.
/// - The read cache (`set_mirror`): each member mirrors its own shards;
///   `cache_rebuild` and `cache_check` ask every member's.
///
/// Every method may be called from any thread; callbacks run on actor
/// threads and must not block.
class agg_service {
public:
  static result<std::unique_ptr<agg_service>> start(caf::actor_system& sys,
                                                    uint32_t shard_count,
                                                    agg_config cfg,
                                                    agg_shard_env env,
                                                    const directory* dir = nullptr);
  ~agg_service();

  // -- catalog ------------------------------------------------------------------

  /// Declares `def`: true if it is new, false if it existed (with the same
  /// kind, parameters and window; its retentions are now `def`'s). Fails
  /// with `conflict` if it exists with another shape, `invalid_key` or
  /// `invalid_argument` for a bad definition.
  void define(agg::definition def, std::function<void(result<bool>)> done);
  /// Drops aggregate `name` and its values: true if it existed.
  void drop(std::string name, std::function<void(result<bool>)> done);
  std::optional<agg::definition> find(std::string_view name) const;
  std::vector<agg::definition> list() const;

  // -- values -------------------------------------------------------------------

  /// Applies `batch` (any aggregates and entities): one outcome per merge.
  void merge(std::vector<agg::merge_cmd> batch,
             std::function<void(result<std::vector<agg::merge_outcome>>)> done);
  /// Answers `queries`: one outcome per query. `many`: counted as get_many.
  void read(std::vector<agg::read_query> queries, bool many,
            std::function<void(result<std::vector<agg::read_outcome>>)> done);
  /// Claims `event_id` in `scope` for `retention` (see `aggregate_table::mark_seen`).
  void mark_seen(std::string scope, std::string event_id, duration retention,
                 std::function<void(result<bool>)> done);
  /// Sweeps every shard now; the number of cells and marks removed.
  void sweep(std::function<void(result<uint64_t>)> done);

  merge_hooks& hooks() {
    return *hooks_;
  }

  /// Watches the merges of aggregate `name` on every member: `sink` gets
  /// `on_ready` once the watch is registered everywhere, then every merge
  /// made durable. Fails with `unavailable` at once if a member is not
  /// reachable; a member lost later ends the watch (`on_error`). In a
  /// cluster the sink may be called shortly after the watch is destroyed.
  result<std::unique_ptr<merge_watch>> watch(std::string name,
                                             std::shared_ptr<merge_sink> sink);
  /// Fails with `unavailable` if a watch would be refused now (a member is
  /// not reachable).
  result<void> can_watch() const;

  /// Attaches a mirror (nullptr: detaches it).
  void set_mirror(std::shared_ptr<cell_mirror> m) {
    mirror_->set(std::move(m));
  }

  /// Rebuilds every member's mirror: the cells written in all. `not_found`
  /// if a member has none, `unavailable` if one is not reachable.
  void cache_rebuild(std::function<void(result<uint64_t>)> done);
  /// Compares every member's mirror with its cells: the sum of the reports.
  void cache_check(std::function<void(result<mirror_report>)> done);

  /// Up to `limit` live cells of `shard` after `after` (nullopt: from its
  /// first), in key order.
  void scan(uint16_t shard, std::optional<agg::cell_snapshot> after, uint32_t limit,
            std::function<void(result<std::vector<agg::cell_snapshot>>)> done);

  // -- routing ------------------------------------------------------------------

  uint16_t shard_of(std::string_view name, std::string_view entity) const;
  uint16_t scope_shard_of(std::string_view scope, std::string_view event_id) const;
  /// True if this node owns `shard` (always, on one node).
  bool is_local(uint16_t shard) const {
    return dir_ == nullptr || dir_->is_local(shard);
  }
  /// True on the member that keeps the cluster's catalog (always, on one
  /// node).
  bool keeps_catalog() const;
  const std::vector<agg_shard_actor>& shards() const {
    return shards_;
  }

  /// The catalog actor (other members send it catalog changes).
  const caf::actor& catalog_actor() const {
    return catalog_actor_;
  }

  /// The hub actor (other members' merge watches and cache requests);
  /// null on one node.
  const caf::actor& hub_actor() const {
    return hub_;
  }

  void stop();

  // The catalog's view, shared with its actor.
  struct op_metrics;
  struct entry {
    agg::definition def;
    std::shared_ptr<op_metrics> metrics;
  };
  using catalog = std::map<std::string, entry, std::less<>>;

private:
  // Sends `xs...` to shard `shard`: this node's actor, or its owner's.
  template <class T, class... Ts>
  void route(uint16_t shard, std::function<void(result<T>)> done, Ts... xs) const {
    if (dir_ == nullptr) {
      call<T>(shards_[shard], std::move(done), std::move(xs)...);
      return;
    }
    call_shard<T>(*dir_, bridge_, shard_kind::aggregates, shard, shards_[shard],
                  std::move(done), std::move(xs)...);
  }
  // A cache request: this node's mirror (`local`), or in a cluster every
  // member's hub (`what`), the answers added up.
  template <class T, class Atom>
  void ask_mirrors(Atom what, void (cell_mirror::*local)(std::function<void(result<T>)>),
                   std::function<void(result<T>)> done) const;
  // Sends a catalog change to the catalog that makes it.
  template <class... Ts>
  void change_catalog(std::function<void(result<bool>)> done, Ts... xs);
  std::shared_ptr<const catalog> snapshot() const;
  std::shared_ptr<op_metrics> metrics_for(const std::string& name);
  void publish(std::shared_ptr<const catalog> next);

  std::vector<agg_shard_actor> shards_;
  const directory* dir_ = nullptr;
  caf::actor bridge_;
  caf::actor catalog_actor_;
  caf::actor hub_;
  caf::actor_system* sys_ = nullptr;
  agg_shard_env env_;
  std::unique_ptr<merge_hooks> hooks_;
  std::unique_ptr<mirror_slot> mirror_;
  // Without a node registry (tests), the metrics count here.
  std::unique_ptr<metrics::registry> own_metrics_;
  mutable std::mutex mtx_;
  std::shared_ptr<const catalog> catalog_;
  friend struct catalog_access;
};

} // namespace shoal
