#pragma once

// CAF inspection of the membership messages of runtime/cluster (which
// stays CAF-free), and what one node tells another about its shards.

#include <string>
#include <vector>

#include <caf/actor_control_block.hpp>

#include "runtime/cluster/membership.hpp"

namespace shoal::cluster {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gossip& x) {
  return f(x.name, x.state, x.incarnation);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message& x) {
  return f(x.type, x.seq, x.from, x.target, x.view);
}

} // namespace shoal::cluster

namespace shoal {

/// A node's answer to `shards`: which cluster and member it is, and the
/// actors of its shards, per primitive, indexed by shard number (an entry
/// is null for a shard that the node does not own).
struct shard_table {
  std::string cluster_id;
  std::string member;
  std::vector<caf::strong_actor_ptr> kv;
  std::vector<caf::strong_actor_ptr> idempotency;
  std::vector<caf::strong_actor_ptr> locks;
  std::vector<caf::strong_actor_ptr> leases;
  std::vector<caf::strong_actor_ptr> aggregates;
  std::vector<caf::strong_actor_ptr> streams;
  /// The node's aggregate catalog actor.
  caf::strong_actor_ptr aggregate_catalog;
  /// The node's aggregate hub (merge watches, the read cache).
  caf::strong_actor_ptr aggregate_hub;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_table& x) {
  return f(x.cluster_id, x.member, x.kv, x.idempotency, x.locks, x.leases,
           x.aggregates, x.streams, x.aggregate_catalog, x.aggregate_hub);
}

} // namespace shoal
