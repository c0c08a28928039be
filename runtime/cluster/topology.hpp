#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::cluster {

/// One member of the initial cluster: its name and the `host:port` of its
/// cluster (middleman) endpoint.
struct member_spec {
  std::string name;
  std::string address;

  friend bool operator==(const member_spec&, const member_spec&) = default;
};

/// Parses `n1=host:port,n2=host:port,…` (the `--initial-cluster` flag).
/// Names are 1–64 characters of `[A-Za-z0-9._-]`; names and addresses are
/// unique; at most 64 members. The result is sorted by name.
result<std::vector<member_spec>> parse_initial_cluster(std::string_view text);

/// Renders members as `parse_initial_cluster` reads them.
std::string format_initial_cluster(const std::vector<member_spec>& members);

/// The owner of `shard` among `members` by rendezvous (highest random
/// weight) hashing: the member whose XXH64(name, shard) is largest. Adding
/// or removing one member moves only the shards it wins or owned.
size_t rendezvous_owner(uint16_t shard, const std::vector<member_spec>& members);

/// What a cluster is, fixed at its first start and kept in every member's
/// data dir: the id (derived from the initial member list), the members
/// (sorted by name), this node's name, and the owner of every shard (an
/// index into `members`).
struct cluster_identity {
  std::string cluster_id;
  std::string self;
  std::vector<member_spec> members;
  std::vector<uint16_t> shard_owner;

  friend bool operator==(const cluster_identity&, const cluster_identity&) = default;

  /// Index of `self` in `members`.
  size_t self_index() const;
};

/// The identity that `self` derives from `members` for `shard_count`
/// shards: every member derives the same id and placement. Fails with
/// `invalid_argument` if `self` is not a member.
result<cluster_identity> derive_identity(std::string self,
                                         std::vector<member_spec> members,
                                         uint32_t shard_count);

/// The one-node identity of a node that was started without an initial
/// cluster (it owns every shard).
cluster_identity single_node_identity(std::string self, std::string address,
                                      uint32_t shard_count);

std::string encode_identity(const cluster_identity& id);
result<cluster_identity> decode_identity(std::string_view bytes);

/// Checks that the identity a node derives from its flags matches what its
/// data dir holds. Fails with `invalid_argument` and a message that says
/// what differs (another cluster, another node name, another member list
/// or shard count).
result<void> check_identity(const cluster_identity& stored,
                            const cluster_identity& derived);

} // namespace shoal::cluster
