#include "actors/lease/lease_shard.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "actors/error_bridge.hpp"
#include "actors/random_token.hpp"

namespace shoal {

namespace {

using info_reply = std::function<void(result<lease::lease_info>)>;

struct lease_shard_state {
  static inline const char* name = "shoal.lease.shard";

  std::optional<lease::lease_table> table;
  lease_shard_env env;
  durable_gate gate;
  metrics::counter* expired = nullptr;
};

using shard_pointer = lease_shard_actor::stateful_pointer<lease_shard_state>;

// Persists `fx`; once durable, announces the leases it ended (`revoked`
// if the command was a revoke) and answers `deliver` with `value`.
void finish(shard_pointer self, lease::effects fx,
            std::optional<uint64_t> revoked, result<lease::lease_info> value,
            info_reply deliver) {
  auto& st = self->state;
  persist(st.gate, *st.env.committer, storage::column::lease, fx.writes,
          caf::actor_cast<lease_shard_actor>(self));
  if (st.expired != nullptr && !fx.expired.empty()) {
    st.expired->inc(fx.expired.size());
  }
  if (!fx.expired.empty() || revoked) {
    st.gate.after_durable([self, ended = std::move(fx.expired),
                           revoked](const error* failure) {
      auto& on_end = self->state.env.on_end;
      if (failure != nullptr || !on_end) {
        return;
      }
      for (auto id : ended) {
        on_end(id, true);
      }
      if (revoked) {
        on_end(*revoked, false);
      }
    });
  }
  if (deliver) {
    answer_when_durable(st.gate, std::move(value), std::move(deliver));
  }
}

lease_shard_actor::behavior_type lease_shard_impl(shard_pointer self,
                                                  lease::lease_table table,
                                                  lease_shard_env env) {
  auto& st = self->state;
  st.table.emplace(std::move(table));
  st.env = std::move(env);
  if (st.env.metrics != nullptr) {
    st.expired = &st.env.metrics->add_counter(
      "shoal_lease_expired_total", "Leases that ended by expiry.");
  }
  self->delayed_send(self, st.env.tick_interval, tick_atom_v);
  return {
    [self](grant_atom, duration ttl, reply_to<lease::lease_info>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      auto n = std::max<uint32_t>(st.env.shard_count, 1);
      lease::effects fx;
      result<lease::lease_info> r = error{errc::internal};
      // Ids stay below 2^53 so JSON numbers carry them exactly. A
      // collision with a live lease is rare; draw again.
      for (int attempt = 0; attempt < 8; ++attempt) {
        auto id = (random_u64() >> 12) / n * n + st.table->shard();
        r = st.table->grant(id, ttl, st.env.clock->now(), fx);
        if (r || r.code() != errc::conflict) {
          break;
        }
      }
      finish(self, std::move(fx), std::nullopt, std::move(r),
             std::move(reply.fn));
    },
    [self](keepalive_atom, uint64_t id, reply_to<lease::lease_info>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lease::effects fx;
      auto r = st.table->keepalive(id, st.env.clock->now(), fx);
      finish(self, std::move(fx), std::nullopt, std::move(r),
             std::move(reply.fn));
    },
    [self](revoke_atom, uint64_t id, reply_to<lease::lease_info>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lease::effects fx;
      auto r = st.table->revoke(id, st.env.clock->now(), fx);
      std::optional<uint64_t> revoked;
      if (r) {
        revoked = id;
      }
      finish(self, std::move(fx), revoked, std::move(r), std::move(reply.fn));
    },
    [self](get_atom, uint64_t id, reply_to<lease::lease_info>& reply) {
      // A failed gate answers with its error.
      auto& st = self->state;
      answer_when_durable(st.gate, st.table->get(id, st.env.clock->now()),
                          std::move(reply.fn));
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
      auto& st = self->state;
      auto rp = self->make_response_promise<std::vector<uint64_t>>();
      auto now = st.env.clock->now();
      std::vector<uint64_t> unknown;
      for (auto id : ids) {
        if (auto l = st.table->get(id, now); !l && l.code() == errc::not_found) {
          unknown.push_back(id);
        }
      }
      answer_when_durable(st.gate, result<std::vector<uint64_t>>{std::move(unknown)},
                          deliver_to(rp));
      return rp;
    },
    [self](bind_atom, uint64_t id, caf::actor& target, caf::message& command) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (st.gate.failed()) {
        rp.deliver(to_caf_error(durable_gate::stopped_error()));
        return;
      }
      if (auto alive = st.table->get(id, st.env.clock->now()); !alive) {
        rp.deliver(to_caf_error(alive.err()));
        return;
      }
      // The requester gets the target's answer; the lease's end, if it
      // comes, is sent from this thread after this.
      rp.delegate(target, std::move(command));
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      on_commit_report(self->state.gate, "lease", self->state.table->shard(), seq,
                       code, std::move(message));
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (!st.gate.failed()) {
        auto now = st.env.clock->now();
        if (auto next = st.table->next_expiry(); next && *next <= now) {
          lease::effects fx;
          st.table->expire(now, fx);
          finish(self, std::move(fx), std::nullopt, error{errc::internal}, {});
        }
      }
      // Without leases the shard looks again after the shortest TTL: a
      // lease granted meanwhile cannot expire before that, and 64 idle
      // shards do not keep the actor clock busy every 20 ms.
      auto delay = st.table->next_expiry()
                     ? st.env.tick_interval
                     : std::max<duration>(st.env.tick_interval,
                                          st.table->config().min_ttl);
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
