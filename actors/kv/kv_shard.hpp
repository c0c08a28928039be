#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/shard/shard_host.hpp"
#include "actors/type_ids.hpp"
#include "runtime/kv/kv_table.hpp"
#include "runtime/metrics.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"

namespace shoal {

/// The typed handle of one kv shard actor. Writes are answered once their
/// records are durable; reads are answered from memory, but never with
/// state that is not durable yet (they wait for the pending commit). Put,
/// delete and get also come in a local form with a trailing `reply_to<T>`
/// (see actors/reply_to.hpp). `watch` registers a watch actor (again:
/// a second registration of the same actor replaces the first) and `read`
/// (from, to, limit) returns the change-log events of revisions [from, to]
/// for a watcher's catch-up on another node.
using kv_shard_actor = caf::typed_actor<
  caf::replies_to<put_atom, kv::put_cmd>::with<kv::write_result>,
  caf::replies_to<delete_atom, kv::delete_cmd>::with<kv::write_result>,
  caf::replies_to<get_atom, std::string>::with<kv::entry>,
  caf::replies_to<list_atom, kv::list_query>::with<kv::list_page>,
  caf::replies_to<history_atom, std::string,
                  uint32_t>::with<std::vector<kv::version_record>>,
  caf::replies_to<watch_atom, kv::watch_request>::with<kv::watch_ack>,
  caf::replies_to<read_atom, uint64_t, uint64_t,
                  uint32_t>::with<std::vector<kv::event>>,
  caf::reacts_to<put_atom, kv::put_cmd, reply_to<kv::write_result>>,
  caf::reacts_to<delete_atom, kv::delete_cmd, reply_to<kv::write_result>>,
  caf::reacts_to<get_atom, std::string, reply_to<kv::entry>>,
  caf::reacts_to<lease_end_atom, uint64_t, bool>,
  caf::replies_to<leases_atom>::with<std::vector<uint64_t>>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>>;

/// What a kv shard actor needs from its node (its tick expires keys and
/// trims the change log).
using kv_shard_env = shard_env;

/// Reads change-log events of `shard` with revisions in [from, to], at
/// most `limit`, in revision order, from storage (every durable change
/// still retained is there).
result<std::vector<kv::event>> read_changes(const storage::read_view& store, uint16_t shard,
                                            uint64_t from, uint64_t to, size_t limit);

/// Spawns the actor of one shard around an already restored table.
kv_shard_actor spawn_kv_shard(caf::actor_system& sys, kv::kv_table table,
                              kv_shard_env env);

} // namespace shoal
