#include "actors/lease/lease_shard.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/error_bridge.hpp"
#include "actors/random_token.hpp"

namespace shoal {

namespace {

using info_reply = std::function<void(result<lease::lease_info>)>;

struct lease_shard_state {
  static inline const char* name = "shoal.lease.shard";

  std::optional<shard_host<lease::lease_table>> host;
  uint32_t shard_count = 1;
  std::function<void(uint64_t lease, bool expired)> on_end;
  metrics::counter* expired = nullptr;
};

using shard_pointer = lease_shard_actor::stateful_pointer<lease_shard_state>;

// A fresh lease id of this shard: random, ≡ the shard index modulo the
// shard count (the id names its shard), below 2^53 so JSON numbers carry
// it exactly, and not held by a live lease (drawn again, rarely). Drawn
// here, before the command is applied.
uint64_t draw_id(shard_pointer self) {
  auto& st = self->state;
  const auto& table = st.host->machine();
  auto n = std::max<uint32_t>(st.shard_count, 1);
  uint64_t id = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    id = (random_u64() >> 12) / n * n + table.shard();
    if (id != 0 && !table.contains(id)) {
      break;
    }
  }
  return id;
}

template <class Command>
void change(shard_pointer self, const Command& cmd, info_reply reply) {
  self->state.host->template submit<lease::lease_info>(self, cmd, std::move(reply));
}

lease_shard_actor::behavior_type lease_shard_impl(shard_pointer self,
                                                  lease::lease_table table,
                                                  lease_shard_env env) {
  auto& st = self->state;
  st.host.emplace(std::move(table), env.shard, storage::column::lease, "lease");
  st.shard_count = env.shard_count;
  st.on_end = std::move(env.on_end);
  if (env.shard.metrics != nullptr) {
    st.expired = &env.shard.metrics->add_counter("shoal_lease_expired_total",
                                                 "Leases that ended by expiry.");
  }
  // Once durable, every lease's end is announced (answers to the command
  // that ended it came first, on this thread).
  st.host->on_events([self](std::vector<lease::lease_end>&& ended) {
    auto& st = self->state;
    for (const auto& e : ended) {
      auto expired = e.reason == lease::end_reason::expired;
      if (expired && st.expired != nullptr) {
        st.expired->inc();
      }
      if (st.on_end) {
        st.on_end(e.id, expired);
      }
    }
  });
  self->delayed_send(self, env.shard.sweep_interval, tick_atom_v);
  return {
    [self](grant_atom, duration ttl, reply_to<lease::lease_info>& reply) {
      change(self, lease::grant_cmd{draw_id(self), ttl}, std::move(reply.fn));
    },
    [self](keepalive_atom, uint64_t id, reply_to<lease::lease_info>& reply) {
      change(self, lease::keepalive_cmd{id}, std::move(reply.fn));
    },
    [self](revoke_atom, uint64_t id, reply_to<lease::lease_info>& reply) {
      change(self, lease::revoke_cmd{id}, std::move(reply.fn));
    },
    [self](get_atom, uint64_t id, reply_to<lease::lease_info>& reply) {
      auto& host = *self->state.host;
      host.read(host.machine().get(id, host.now()), std::move(reply.fn));
    },
    [self](grant_atom a, duration ttl) {
      return via_reply_to<lease::lease_info>(self, a, ttl);
    },
    [self](keepalive_atom a, uint64_t id) {
      return via_reply_to<lease::lease_info>(self, a, id);
    },
    [self](revoke_atom a, uint64_t id) {
      return via_reply_to<lease::lease_info>(self, a, id);
    },
    [self](get_atom a, uint64_t id) {
      return via_reply_to<lease::lease_info>(self, a, id);
    },
    [self](check_atom, std::vector<uint64_t>& ids) {
      auto& host = *self->state.host;
      auto now = host.now();
      std::vector<uint64_t> unknown;
      for (auto id : ids) {
        if (auto l = host.machine().get(id, now); !l && l.code() == errc::not_found) {
          unknown.push_back(id);
        }
      }
      return promise_of<std::vector<uint64_t>>(self, [&](auto reply) {
        host.read(result<std::vector<uint64_t>>{std::move(unknown)}, std::move(reply));
      });
    },
    [self](bind_atom, uint64_t id, caf::actor& target, caf::message& command) {
      auto& host = *self->state.host;
      auto rp = self->make_response_promise();
      if (host.failed()) {
        rp.deliver(to_caf_error(durable_gate::stopped_error()));
        return;
      }
      if (auto alive = host.machine().get(id, host.now()); !alive) {
        rp.deliver(to_caf_error(alive.err()));
        return;
      }
      // The requester gets the target's answer; the lease's end, if it
      // comes, is sent from this thread after this.
      rp.delegate(target, std::move(command));
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      self->state.host->on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      auto& host = *self->state.host;
      if (auto next = host.machine().next_expiry(); next && *next <= host.now()) {
        (void) host.submit(self, lease::expire_cmd{});
      }
      // Without leases the shard looks again after the shortest TTL: a
      // lease granted meanwhile cannot expire before that, and 64 idle
      // shards do not keep the actor clock busy every 20 ms.
      auto tick = host.env().sweep_interval;
      auto delay = host.machine().next_expiry()
                     ? tick
                     : std::max<duration>(tick, host.machine().config().min_ttl);
      self->delayed_send(self, delay, tick_atom_v);
    },
  };
}

} // namespace

lease_shard_actor spawn_lease_shard(caf::actor_system& sys,
                                    lease::lease_table table,
                                    lease_shard_env env) {
  return sys.spawn(lease_shard_impl, std::move(table), std::move(env));
}

} // namespace shoal
