#pragma once

#include <chrono>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/cluster/directory.hpp"
#include "actors/type_ids.hpp"
#include "runtime/cluster/membership.hpp"
#include "runtime/metrics.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// The actor around a node's `cluster::membership` machine. It connects to
/// every other member's node actor over the middleman (retrying with
/// backoff, forever), asks each for its shard actors, monitors the
/// connection, carries the machine's gossip, and keeps the `directory`
/// told. `leave` announces a graceful exit and answers once sent.
using membership_actor = caf::typed_actor<
  caf::reacts_to<gossip_atom, cluster::message>, caf::reacts_to<tick_atom>,
  caf::replies_to<leave_atom>::with<bool>>;

struct membership_env {
  directory* dir = nullptr;
  metrics::registry* metrics = nullptr;
  cluster::membership_config config;
  /// How often the machine ticks.
  std::chrono::milliseconds tick = std::chrono::milliseconds{50};
  /// A connection attempt (TCP and CAF handshake) that takes longer fails.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds{2};
  /// Reconnection backoff: doubles from `min` up to `max`.
  std::chrono::milliseconds backoff_min = std::chrono::milliseconds{100};
  std::chrono::milliseconds backoff_max = std::chrono::seconds{2};
};

membership_actor spawn_membership(caf::actor_system& sys, membership_env env);

} // namespace shoal
