#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/type_ids.hpp"

namespace shoal {

/// The node's own actor, published over the middleman on the node's
/// cluster address, so remote programs and other members reach it with
/// `remote_actor<node_actor>`. It answers `info` with a `node_info` and
/// `shards` with the actors of the shards this node owns, and hands
/// membership gossip to the membership actor.
using node_actor
  = caf::typed_actor<caf::replies_to<info_atom>::with<node_info>,
                     caf::replies_to<shards_atom>::with<shard_table>,
                     caf::reacts_to<gossip_atom, cluster::message>>;

} // namespace shoal
