#include "actors/lease/lease_reconciler.hpp"

#include <algorithm>
#include <map>
#include <memory>

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

// Leases asked of an owner shard in one request.
constexpr size_t check_page = 1024;

// Asks the owner shard of the remote leases, a page of them per request,
// which it no longer knows; ends those.
void check_leases(reconciler_pointer self) {
  auto& st = self->state;
  // Per lease, the shards bound to it; shared by the round's answers.
  auto bound = std::make_shared<const std::map<uint64_t, std::vector<size_t>>>(
    std::exchange(st.remote, {}));
  std::map<uint16_t, std::vector<uint64_t>> by_owner;
  for (const auto& entry : *bound) {
    by_owner[st.env.leases->shard_of(entry.first)].push_back(entry.first);
  }
  for (auto& [index, leases] : by_owner) {
    auto owner = st.env.dir->remote(shard_kind::leases, index);
    if (!owner) {
      continue; // unreachable: asked again next round
    }
    for (size_t from = 0; from < leases.size(); from += check_page) {
      auto to = std::min(leases.size(), from + check_page);
      std::vector<uint64_t> page(leases.begin() + from, leases.begin() + to);
      self
        ->request(caf::actor_cast<caf::actor>(*owner), st.env.dir->forward_timeout(),
                  check_atom_v, std::move(page))
        .then(
          [self, bound](const std::vector<uint64_t>& unknown) {
            for (auto lease : unknown) {
              auto it = bound->find(lease);
              if (it == bound->end()) {
                continue; // not one this node asked about
              }
              spdlog::info("lease {} ended while this node did not hear of it; "
                           "ending its keys and holds here",
                           lease);
              for (auto i : it->second) {
                caf::anon_send(self->state.env.bound[i], lease_end_atom_v, lease, true);
              }
            }
          },
          [index = index](caf::error& e) {
            // Asked again next round.
            spdlog::debug("lease check with the owner of lease shard {} failed: {}",
                          index, to_string(from_caf_error(e)));
          });
    }
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
