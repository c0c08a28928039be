#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/aggregate/agg_service.hpp"
#include "actors/cluster/directory.hpp"
#include "actors/idempotency/idem_service.hpp"
#include "actors/kv/kv_service.hpp"
#include "actors/lease/lease_service.hpp"
#include "actors/lock/lock_service.hpp"
#include "actors/node_actor.hpp"
#include "actors/stream/stream_service.hpp"
#include "runtime/cluster/membership.hpp"
#include "runtime/metrics.hpp"
#include "runtime/result.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"
#include "runtime/time.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

class node;

/// Something that runs beside a node and stops before it: the HTTP gateway
/// (in `shoal::net`) is one. Services start after the actors and stop
/// first, so requests drain while storage is still open.
class node_service {
public:
  virtual ~node_service() = default;
  virtual std::string name() const = 0;
  virtual result<void> start() = 0;
  /// Stops taking new work and finishes what is in flight.
  virtual void stop() = 0;
};

/// Everything a node needs to start. The defaults are `shoald`'s.
struct node_config {
  /// RocksDB directory; empty means in-memory mode (nothing persists).
  std::string data_dir;
  storage::sync_mode sync = storage::sync_mode::batch;
  /// Shards per primitive.
  uint32_t shard_count = 64;
  /// `host:port` the HTTP gateway listens on (port 0: pick one); empty: no
  /// HTTP. Read by the gateway service.
  std::string http_address = "127.0.0.1:7700";
  /// `host:port` on which the node actor is published through the CAF
  /// middleman (port 0: pick one); empty: not published.
  std::string cluster_address;
  /// Actor scheduler threads; 0: half the cores (at least one), leaving
  /// the other half to the HTTP io threads and the commit thread.
  size_t worker_threads = 0;
  /// Node name used as node id at first start; empty: a random id.
  /// Required with `initial_cluster`, where it names this member.
  std::string name;
  /// `n1=host:port,n2=host:port,…`: the members of the cluster this node
  /// belongs to (itself included), each with its cluster address. Fixes
  /// the cluster id and the shard placement at first start; later starts
  /// must agree with what the data dir holds. Empty: the identity in the
  /// data dir, or (at first start) a one-node cluster.
  std::string initial_cluster;
  /// Failure detection intervals of the membership protocol.
  cluster::membership_config membership;
  /// How long a request forwarded to a shard's owner waits for it before
  /// failing with `unavailable`.
  std::chrono::milliseconds forward_timeout = std::chrono::seconds{3};
  /// Limits of the kv primitive (value size, history depth, change log).
  kv::kv_config kv;
  /// Limits and default retention of idempotency records.
  idem::idem_config idempotency;
  /// Limits and lock-delay of locks.
  lock::lock_config locks;
  /// TTL bounds of leases.
  lease::lease_config leases;
  /// Limits and the window cache budget of aggregates.
  agg_config aggregates;
  /// Limits of streams (event size, batch, dedup window, checkpoints) and
  /// their tails.
  stream_service_config streams;
  /// The time every shard applies its commands at; null: the wall clock.
  /// Tests pass a `manual_clock`. Must outlive the node.
  const clock_source* clock = nullptr;
  /// Services to start after the actors (see `node_service`).
  std::vector<std::function<std::unique_ptr<node_service>(node&)>> services;
};

/// The embeddable shoal runtime: one actor system, one storage engine and
/// the shard actors of every primitive. A C++ program starts one with
/// `node::start`, spawns its own actors in `system()`, talks to shoal's
/// actors through their typed handles, and calls `stop()` (or lets the
/// destructor do it).
///
/// Thread-safety: the accessors may be called from any thread; `stop` from
/// one thread at a time.
class node {
public:
  /// Opens storage, builds the actor system, spawns the actors, publishes
  /// on the cluster address and starts the services. Fails with
  /// `storage_error` (data dir locked or unreadable), `invalid_argument`
  /// (bad config) or `unavailable` (a port cannot be bound).
  static result<std::unique_ptr<node>> start(node_config cfg);

  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Drains the services, stops the actors, flushes and closes storage.
  /// Idempotent.
  void stop();

  // -- observers ---------------------------------------------------------------

  const node_config& config() const;

  /// The actor system; programs may spawn their own actors in it.
  caf::actor_system& system();

  /// The node's own actor (see `node_actor`).
  node_actor handle() const;

  /// One of the node's bridge actors (round robin), for `shoal::ask` and
  /// `shoal::gather` from threads that are not actors.
  caf::actor bridge() const;

  /// The kv shards: `kv().shard_for(key)` is the typed handle to send kv
  /// commands to (see `kv_shard_actor`).
  const kv_service& kv() const;

  /// The idempotency shards (see `idem_shard_actor`).
  const idem_service& idempotency() const;

  /// The lock shards (see `lock_shard_actor`).
  const lock_service& locks() const;

  /// The lease shards (see `lease_shard_actor`).
  const lease_service& leases() const;

  /// The aggregate catalog, shards and on-merge hooks (see `agg_service`).
  agg_service& aggregates() const;

  /// The stream shards (see `stream_shard_actor`).
  const stream_service& streams() const;

  /// The cluster identity, the owner of every shard and the members'
  /// states: route every shard request through it (actors/cluster/routing.hpp).
  const directory& placement() const;

  /// Runs `fn` after every durable merge into aggregate `name` (see
  /// `merge_hooks`); returns the id for `remove_merge_hook`.
  uint64_t on_merge(std::string name, merge_hooks::callback fn);
  bool remove_merge_hook(uint64_t id);

  /// The stable node id.
  const std::string& id() const;

  /// The port the node actor is published on, 0 if not published.
  uint16_t cluster_port() const;

  /// What `info` returns, computed now.
  node_info info() const;

  metrics::registry& metrics();
  storage::engine& store();
  storage::committer& committer();
  const clock_source& clock() const;

  /// True once `start` finished and until `stop` begins.
  bool is_ready() const;

  /// A service started with this node, by name, or nullptr.
  node_service* service(const std::string& name);

  /// Connects to a node actor published at `host:port` through this node's
  /// middleman (a remote node, or this one). Blocks the calling thread
  /// until connected or failed; not for use inside an actor.
  result<node_actor> connect(const std::string& host, uint16_t port);

private:
  struct impl;
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The version string of this build.
const char* version();

/// Splits `host:port`; fails with `invalid_argument`.
result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text);

} // namespace shoal
