#pragma once

// Node-wide aggregate services that other members ask for: merge watches
// across members and the read cache's rebuild and check.
//
// Every member runs one hub. A merge watch opened on a gateway is served
// by a relay actor there, which registers with every member's hub
// (`watch_atom`, aggregate, relay); each hub adds an on-merge hook that
// sends the merges its shards make durable to the relay:
//
//   member:  shard --hook--> hub's hook --(merge_atom, event)--> (middleman)
//   gateway: relay --on_merge--> the caller's sink
//
// A hub monitors its relays and removes their hooks when one goes down (or
// its node is lost). A relay that loses a hub ends the watch: the merges
// on that member's shards would be missed, and a merge watch has no
// cursor to resume from.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/aggregate/cell_mirror.hpp"
#include "actors/aggregate/merge_hooks.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

class directory;

/// Where one merge watch delivers. Calls never overlap; they run on actor
/// threads and must not block.
class merge_sink {
public:
  virtual ~merge_sink() = default;
  /// The watch is registered on every member: every merge made durable
  /// from now on is delivered.
  virtual void on_ready() = 0;
  virtual void on_merge(const merge_event& ev) = 0;
  /// The watch ended (a member could not be reached or was lost); nothing
  /// follows.
  virtual void on_error(const error& e) = 0;
};

/// The hub of this node (`member`: its name, for messages). It answers
/// `(watch_atom, name, relay) -> bool`, `(rebuild_atom) -> uint64_t` and
/// `(check_atom) -> mirror_report` (the node's mirror, for its own shards).
caf::actor spawn_agg_hub(caf::actor_system& sys, merge_hooks& hooks, mirror_slot& mirror,
                         std::string member);

/// One member's hub, with the member's name (for messages).
struct member_hub {
  caf::actor hub;
  std::string member;
};

/// The hub of every member of `dir` (`local_hub`: this node's), or
/// `unavailable` if one is not reachable.
result<std::vector<member_hub>> member_hubs(const directory& dir,
                                            const caf::actor& local_hub);

/// Spawns the relay of one merge watch on aggregate `name` across `hubs`
/// (each registration waits up to `timeout`). The watch ends when the
/// relay is sent an exit.
caf::actor spawn_merge_relay(caf::actor_system& sys, std::vector<member_hub> hubs,
                             std::chrono::milliseconds timeout, std::string name,
                             std::shared_ptr<merge_sink> sink);

} // namespace shoal
