#include "actors/lease/lease_reconciler.hpp"

#include <map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/routing.hpp"
#include "actors/error_bridge.hpp"
#include "actors/lease/lease_service.hpp"
#include "actors/type_ids.hpp"

namespace shoal {

namespace {

struct reconciler_state {
  static inline const char* name = "shoal.lease.reconciler";
  lease_reconciler_env env;
  /// The round under way: the shards yet to answer, and per lease held
  /// by another member, the shards bound to it.
  size_t missing = 0;
  std::map<uint64_t, std::vector<size_t>> remote;
};

using reconciler_pointer = caf::stateful_actor<reconciler_state>*;

void next_round(reconciler_pointer self) {
  self->delayed_send(self, self->state.env.interval, tick_atom_v);
}

// Asks the owner of each remote lease; ends the ones it does not know.
void check_leases(reconciler_pointer self) {
  auto& st = self->state;
  auto remote = std::exchange(st.remote, {});
  for (auto& [lease, shards] : remote) {
    auto index = st.env.leases->shard_of(lease);
    auto owner = st.env.dir->remote(shard_kind::leases, index);
    if (!owner) {
      continue; // unreachable: asked again next round
    }
    self
      ->request(caf::actor_cast<caf::actor>(*owner), st.env.dir->forward_timeout(),
                get_atom_v, lease)
      .then([](const lease::lease_info&) {},
            [self, lease, shards = std::move(shards)](caf::error& err) {
              auto e = from_caf_error(err);
              if (e.code != errc::not_found) {
                return;
              }
              spdlog::info("lease {} ended while this node did not hear of it; "
                           "ending its keys and holds here",
                           lease);
              for (auto i : shards) {
                caf::anon_send(self->state.env.bound[i], lease_end_atom_v, lease,
                               true);
              }
            });
  }
  next_round(self);
}

void start_round(reconciler_pointer self) {
  auto& st = self->state;
  st.missing = st.env.bound.size();
  st.remote.clear();
  if (st.missing == 0) {
    next_round(self);
    return;
  }
  for (size_t i = 0; i < st.env.bound.size(); ++i) {
    auto done = [self] {
      if (--self->state.missing == 0) {
        check_leases(self);
      }
    };
    self->request(st.env.bound[i], st.env.dir->forward_timeout(), leases_atom_v)
      .then(
        [self, i, done](const std::vector<uint64_t>& leases) {
          auto& st = self->state;
          for (auto lease : leases) {
            if (!st.env.dir->is_local(st.env.leases->shard_of(lease))) {
              st.remote[lease].push_back(i);
            }
          }
          done();
        },
        [done](caf::error&) { done(); });
  }
}

caf::behavior reconciler_impl(reconciler_pointer self, lease_reconciler_env env) {
  self->state.env = std::move(env);
  next_round(self);
  return {
    [self](tick_atom) { start_round(self); },
  };
}

} // namespace

caf::actor spawn_lease_reconciler(caf::actor_system& sys, lease_reconciler_env env) {
  return sys.spawn(reconciler_impl, std::move(env));
}

} // namespace shoal
