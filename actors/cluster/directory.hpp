#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_control_block.hpp>

#include "actors/cluster/cluster_messages.hpp"
#include "runtime/cluster/topology.hpp"
#include "runtime/result.hpp"

namespace shoal {

/// The primitives whose shards the directory routes.
enum class shard_kind : uint8_t { kv, idempotency, locks, leases, aggregates, streams };

/// Where each shard lives. Every node holds one: the placement is fixed by
/// the cluster identity; the membership actor keeps it told which members
/// are reachable and what their shard actors are. A request for a shard is
/// sent to the local actor, or to the owner's actor over the middleman, or
/// fails at once with `unavailable` if the owner is dead, left or not
/// connected — never served by another node.
///
/// Thread-safety: every member function may be called from any thread.
class directory {
public:
  explicit directory(cluster::cluster_identity id,
                     std::chrono::milliseconds forward_timeout
                     = std::chrono::seconds{3});
  ~directory();

  const cluster::cluster_identity& identity() const {
    return id_;
  }

  /// True for a one-node cluster: every shard is local.
  bool single() const {
    return id_.members.size() == 1;
  }

  /// True if this node owns `shard`.
  bool is_local(uint16_t shard) const {
    return id_.shard_owner[shard] == self_;
  }

  /// The owner of `shard` (a member name).
  const std::string& owner_of(uint16_t shard) const {
    return id_.members[id_.shard_owner[shard]].name;
  }

  /// The actor of a shard that another member owns, or `unavailable` with
  /// the reason (owner dead, left, or not connected).
  result<caf::strong_actor_ptr> remote(shard_kind kind, uint16_t shard) const;

  /// The aggregate catalog actor of member `index` (another member), or
  /// `unavailable`.
  result<caf::strong_actor_ptr> catalog_of(size_t member) const;

  /// The aggregate hub of member `index` (another member), or `unavailable`.
  result<caf::strong_actor_ptr> hub_of(size_t member) const;

  /// The member whose aggregate catalog is the cluster's: the owner of
  /// shard 0.
  size_t catalog_owner() const {
    return id_.shard_owner[0];
  }

  /// This member's index.
  size_t self_index() const {
    return self_;
  }

  /// How long a forwarded request waits for the owner.
  std::chrono::milliseconds forward_timeout() const {
    return forward_timeout_;
  }

  // -- updated by the membership actor -----------------------------------------

  /// The shard actors of member `index` once connected, null when the
  /// connection is lost.
  void set_shards(size_t index, std::shared_ptr<const shard_table> shards);
  void set_state(size_t index, cluster::member_state state, uint64_t incarnation);

  /// One member as the directory sees it.
  struct member_status {
    std::string name;
    std::string address;
    cluster::member_state state = cluster::member_state::alive;
    uint64_t incarnation = 0;
    bool self = false;
    /// Connected over the middleman (always true for this node).
    bool connected = false;
  };
  std::vector<member_status> members() const;

private:
  struct peer;
  // Member `member`'s shard table if it is reachable, else `unavailable`
  // saying that `what` is owned by an unreachable member.
  result<std::shared_ptr<const shard_table>> reachable(size_t member,
                                                       const std::string& what) const;
  // One of member `member`'s node-wide actors (`field` of its table).
  result<caf::strong_actor_ptr> node_actor_of(size_t member,
                                              caf::strong_actor_ptr shard_table::*field,
                                              const std::string& what) const;
  cluster::cluster_identity id_;
  uint16_t self_;
  std::chrono::milliseconds forward_timeout_;
  std::vector<std::unique_ptr<peer>> peers_;
};

} // namespace shoal
