#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/type_ids.hpp"

namespace shoal {

/// The node's own actor: answers `info` with a `node_info`. Published over
/// the middleman on the node's cluster address, so remote programs and
/// other nodes reach it with `remote_actor<node_actor>`.
using node_actor
  = caf::typed_actor<caf::replies_to<info_atom>::with<node_info>>;

} // namespace shoal
