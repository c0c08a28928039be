#include "actors/lock/lock_shard.hpp"

#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "actors/random_token.hpp"

namespace shoal {

namespace {

using acquire_reply = std::function<void(result<lock::acquire_result>)>;

struct lock_shard_state {
  static inline const char* name = "shoal.lock.shard";

  std::optional<lock::lock_table> table;
  lock_shard_env env;
  durable_gate gate;
  uint64_t next_waiter = 1;
  // Queued acquirers, answered when granted or timed out.
  std::unordered_map<uint64_t, acquire_reply> waiting;
  metrics::counter* expired = nullptr;
};

using shard_pointer = lock_shard_actor::stateful_pointer<lock_shard_state>;

// Persists `fx` and, once durable, answers the grants and timeouts it
// carries.
void apply_effects(shard_pointer self, lock::effects fx) {
  auto& st = self->state;
  persist(st.gate, *st.env.committer, storage::column::lock, fx.writes,
          caf::actor_cast<lock_shard_actor>(self));
  if (st.expired != nullptr && !fx.expired.empty()) {
    st.expired->inc(fx.expired.size());
  }
  for (auto& g : fx.grants) {
    auto it = st.waiting.find(g.waiter);
    if (it == st.waiting.end()) {
      continue;
    }
    answer_when_durable(st.gate,
                        result<lock::acquire_result>{
                          lock::acquire_result{true, std::move(g.info)}},
                        std::move(it->second));
    st.waiting.erase(it);
  }
  auto refuse = [&](const std::vector<uint64_t>& ids, errc code,
                    const char* why) {
    for (auto id : ids) {
      auto it = st.waiting.find(id);
      if (it == st.waiting.end()) {
        continue;
      }
      answer_when_durable(st.gate,
                          result<lock::acquire_result>{fail(code, why)},
                          std::move(it->second));
      st.waiting.erase(it);
    }
  };
  refuse(fx.timeouts, errc::timeout, "waited too long for the lock");
  refuse(fx.lease_lost, errc::lease_expired,
         "the lease ended while waiting for the lock");
}

// `apply_effects`, then answers `deliver` with `value` once durable.
template <class T>
void finish(shard_pointer self, lock::effects fx, result<T> value,
            std::function<void(result<T>)> deliver) {
  apply_effects(self, std::move(fx));
  answer_when_durable(self->state.gate, std::move(value), std::move(deliver));
}

lock_shard_actor::behavior_type lock_shard_impl(shard_pointer self,
                                                lock::lock_table table,
                                                lock_shard_env env) {
  auto& st = self->state;
  st.table.emplace(std::move(table));
  st.env = env;
  if (env.metrics != nullptr) {
    st.expired = &env.metrics->add_counter(
      "shoal_lock_expired_total", "Lock holds that ended by expiry.");
  }
  self->delayed_send(self, env.tick_interval, tick_atom_v);
  return {
    [self](acquire_atom, lock::acquire_cmd& cmd,
           reply_to<lock::acquire_result>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      cmd.new_token = random_token();
      cmd.waiter = st.next_waiter++;
      lock::effects fx;
      auto r = st.table->acquire(cmd, st.env.clock->now(), fx);
      if (r && !r->granted) {
        // Queued: answered by a later grant or timeout.
        st.waiting.emplace(cmd.waiter, std::move(reply.fn));
        apply_effects(self, std::move(fx));
        return;
      }
      finish(self, std::move(fx), std::move(r), std::move(reply.fn));
    },
    [self](refresh_atom, std::string& key, std::string& token, duration ttl,
           reply_to<lock::lock_info>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lock::effects fx;
      auto r = st.table->refresh(key, token, ttl, st.env.clock->now(), fx);
      finish(self, std::move(fx), std::move(r), std::move(reply.fn));
    },
    [self](release_atom, std::string& key, std::string& token,
           reply_to<uint64_t>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lock::effects fx;
      auto r = st.table->release(key, token, st.env.clock->now(), fx);
      finish(self, std::move(fx), std::move(r), std::move(reply.fn));
    },
    [self](get_atom, std::string& key, reply_to<lock::lock_info>& reply) {
      auto& st = self->state;
      answer_when_durable(st.gate, st.table->get(key, st.env.clock->now()),
                          std::move(reply.fn));
    },
    [self](lease_end_atom, uint64_t lease, bool) {
      // The lease's end is durable: its holds end, its waiters leave.
      auto& st = self->state;
      if (st.gate.failed()) {
        return;
      }
      lock::effects fx;
      st.table->release_lease(lease, st.env.clock->now(), fx);
      apply_effects(self, std::move(fx));
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      on_commit_report(self->state.gate, "lock", self->state.table->shard(), seq,
                       code, std::move(message));
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (!st.gate.failed()) {
        auto now = st.env.clock->now();
        if (auto next = st.table->next_deadline(); next && *next <= now) {
          lock::effects fx;
          st.table->tick(now, fx);
          apply_effects(self, std::move(fx));
        }
      }
      self->delayed_send(self, st.env.tick_interval, tick_atom_v);
    },
  };
}

} // namespace

lock_shard_actor spawn_lock_shard(caf::actor_system& sys, lock::lock_table table,
                                  lock_shard_env env) {
  return sys.spawn(lock_shard_impl, std::move(table), env);
}

} // namespace shoal
