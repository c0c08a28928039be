#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/reply_to.hpp"
#include "actors/shard/shard_host.hpp"
#include "actors/type_ids.hpp"
#include "runtime/idempotency/idempotency_table.hpp"

namespace shoal {

/// The typed handle of one idempotency shard actor. Changes are answered
/// once their records are durable; reads never see a change that is not.
/// `begin` draws the new owner token itself (a `begin_cmd`'s `new_token` is
/// ignored). `sweep` removes every expired record of the shard now and
/// answers how many. Each request also comes in a local form with a
/// trailing `reply_to<T>` (see actors/reply_to.hpp).
using idem_shard_actor = caf::typed_actor<
  caf::replies_to<begin_atom, idem::begin_cmd>::with<idem::begin_result>,
  caf::replies_to<touch_atom, idem::touch_cmd>::with<idem::record>,
  caf::replies_to<complete_atom, idem::complete_cmd>::with<idem::record>,
  caf::replies_to<fail_atom, idem::fail_cmd>::with<idem::record>,
  caf::replies_to<get_atom, std::string>::with<idem::record>,
  caf::replies_to<delete_atom, std::string>::with<bool>,
  caf::replies_to<sweep_atom>::with<uint64_t>,
  caf::reacts_to<begin_atom, idem::begin_cmd, reply_to<idem::begin_result>>,
  caf::reacts_to<touch_atom, idem::touch_cmd, reply_to<idem::record>>,
  caf::reacts_to<complete_atom, idem::complete_cmd, reply_to<idem::record>>,
  caf::reacts_to<fail_atom, idem::fail_cmd, reply_to<idem::record>>,
  caf::reacts_to<get_atom, std::string, reply_to<idem::record>>,
  caf::reacts_to<commit_atom, uint64_t, uint8_t, std::string>,
  caf::reacts_to<tick_atom>>;

/// What an idempotency shard needs from its node (its tick sweeps expired
/// records).
using idem_shard_env = shard_env;

idem_shard_actor spawn_idem_shard(caf::actor_system& sys,
                                  idem::idempotency_table table,
                                  idem_shard_env env);

} // namespace shoal
