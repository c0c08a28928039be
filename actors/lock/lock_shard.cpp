#include "actors/lock/lock_shard.hpp"

#include <limits>
#include <set>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "actors/random_token.hpp"

namespace shoal {

namespace {

// ---------------------------------------------------------------------------
// The lock actor of one key.

/// The requests the shard forwards (each counted, see `idle_atom`), its
/// own commit reports and timer, and the shard's `retire`.
using lock_key_actor
  = lock_requests::extend<caf::reacts_to<tick_atom>, caf::reacts_to<retire_atom>>;

using acquire_reply = std::function<void(result<lock::acquire_result>)>;

constexpr uint64_t never_reported = std::numeric_limits<uint64_t>::max();

struct lock_key_state {
  static inline const char* name = "shoal.lock.key";

  std::optional<lock::lock_key> machine;
  lock_shard_env env;
  lock_shard_actor shard;
  uint16_t shard_index = 0;
  metrics::counter* expired = nullptr;
  durable_gate gate;
  // Queued acquirers, answered when granted, timed out or lease-lost.
  std::unordered_map<uint64_t, acquire_reply> waiting;
  // Messages received from the shard, and the count last reported idle.
  uint64_t received = 0;
  uint64_t reported = never_reported;
  // When the pending timer fires (max: none).
  time_point timer_at = time_point::max();
};

using key_pointer = lock_key_actor::stateful_pointer<lock_key_state>;

// Arms the timer for the machine's next deadline, unless one fires first.
void arm(key_pointer self) {
  auto& st = self->state;
  auto next = st.machine->next_deadline();
  if (!next || *next >= st.timer_at) {
    return;
  }
  auto now = st.env.clock->now();
  auto delay = *next > now ? *next - now : duration::zero();
  delay = std::min<duration>(delay + std::chrono::milliseconds{1},
                             st.env.max_timer);
  st.timer_at = now + delay;
  self->delayed_send(self, delay, tick_atom_v);
}

// Tells the shard once the key is free, nobody waits and everything it
// answered is durable: the shard retires this actor unless it forwarded
// more since (the counts differ).
void report_if_idle(key_pointer self) {
  auto& st = self->state;
  if (st.reported == st.received || !st.waiting.empty()
      || st.gate.applied() != st.gate.durable()
      || !st.machine->idle(st.env.clock->now())) {
    return;
  }
  st.reported = st.received;
  self->send(st.shard, idle_atom_v, st.machine->name(), st.received);
}

// Persists `fx` and, once durable, answers the grants and refusals it
// carries; then re-arms the timer.
void apply_effects(key_pointer self, lock::effects fx) {
  auto& st = self->state;
  persist(st.gate, *st.env.committer, storage::column::lock, fx.writes,
          caf::actor_cast<lock_key_actor>(self));
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
      answer_when_durable(st.gate, result<lock::acquire_result>{fail(code, why)},
                          std::move(it->second));
      st.waiting.erase(it);
    }
  };
  refuse(fx.timeouts, errc::timeout, "waited too long for the lock");
  refuse(fx.lease_lost, errc::lease_expired,
         "the lease ended while waiting for the lock");
  arm(self);
}

// `apply_effects`, then answers `deliver` with `value` once durable.
template <class T>
void finish(key_pointer self, lock::effects fx, result<T> value,
            std::function<void(result<T>)> deliver) {
  apply_effects(self, std::move(fx));
  answer_when_durable(self->state.gate, std::move(value), std::move(deliver));
  report_if_idle(self);
}

lock_key_actor::behavior_type lock_key_impl(key_pointer self,
                                            lock::lock_key machine,
                                            lock_shard_env env,
                                            lock_shard_actor shard,
                                            uint16_t shard_index,
                                            metrics::counter* expired) {
  auto& st = self->state;
  st.machine.emplace(std::move(machine));
  st.env = env;
  st.shard = std::move(shard);
  st.shard_index = shard_index;
  st.expired = expired;
  arm(self);
  return {
    [self](acquire_atom, lock::acquire_cmd& cmd,
           reply_to<lock::acquire_result>& reply) {
      auto& st = self->state;
      ++st.received;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lock::effects fx;
      auto r = st.machine->acquire(cmd, st.env.clock->now(), fx);
      if (r && !r->granted) {
        // Queued: answered by a later grant, timeout or lease end.
        st.waiting.emplace(cmd.waiter, std::move(reply.fn));
        apply_effects(self, std::move(fx));
        return;
      }
      finish(self, std::move(fx), std::move(r), std::move(reply.fn));
    },
    [self](refresh_atom, std::string&, std::string& token, duration ttl,
           reply_to<lock::lock_info>& reply) {
      auto& st = self->state;
      ++st.received;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lock::effects fx;
      auto r = st.machine->refresh(token, ttl, st.env.clock->now(), fx);
      finish(self, std::move(fx), std::move(r), std::move(reply.fn));
    },
    [self](release_atom, std::string&, std::string& token,
           reply_to<uint64_t>& reply) {
      auto& st = self->state;
      ++st.received;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      lock::effects fx;
      auto r = st.machine->release(token, st.env.clock->now(), fx);
      finish(self, std::move(fx), std::move(r), std::move(reply.fn));
    },
    [self](get_atom, std::string&, reply_to<lock::lock_info>& reply) {
      auto& st = self->state;
      ++st.received;
      finish(self, lock::effects{},
             result<lock::lock_info>{st.machine->get(st.env.clock->now())},
             std::move(reply.fn));
    },
    [self](lease_end_atom, uint64_t lease, bool) {
      // The lease's end is durable: a hold bound to it ends, its waiters
      // leave.
      auto& st = self->state;
      ++st.received;
      if (st.gate.failed()) {
        return;
      }
      lock::effects fx;
      st.machine->release_lease(lease, st.env.clock->now(), fx);
      apply_effects(self, std::move(fx));
      report_if_idle(self);
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      auto& st = self->state;
      on_commit_report(st.gate, "lock", st.shard_index, seq, code,
                       std::move(message));
      report_if_idle(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      st.timer_at = time_point::max();
      if (!st.gate.failed()) {
        auto now = st.env.clock->now();
        if (auto next = st.machine->next_deadline(); next && *next <= now) {
          lock::effects fx;
          st.machine->tick(now, fx);
          apply_effects(self, std::move(fx));
        }
      }
      arm(self);
      report_if_idle(self);
    },
    [self](retire_atom) { self->quit(); },
  };
}

// ---------------------------------------------------------------------------
// The shard.

struct key_ref {
  lock_key_actor actor;
  // Messages forwarded to it (compared with its idle report).
  uint64_t sent = 0;
};

struct lock_shard_state {
  static inline const char* name = "shoal.lock.shard";

  std::optional<lock::lock_table> table;
  lock_shard_env env;
  durable_gate gate;
  uint64_t next_waiter = 1;
  std::unordered_map<std::string, key_ref> keys;
  /// Leases named by acquires (and restored holds) whose end this shard
  /// has not heard of yet.
  std::set<uint64_t> leases;
  metrics::counter* expired = nullptr;
  metrics::gauge* actors = nullptr;

  lock_shard_state() = default;
  lock_shard_state(const lock_shard_state&) = delete;
  lock_shard_state& operator=(const lock_shard_state&) = delete;

  // The lock actors go with their shard (they are not linked: a retiring
  // one would send its shard an exit message).
  ~lock_shard_state() {
    for (auto& [key, ref] : keys) {
      caf::anon_send_exit(ref.actor, caf::exit_reason::user_shutdown);
    }
  }
};

using shard_pointer = lock_shard_actor::stateful_pointer<lock_shard_state>;

key_ref& spawn_key(shard_pointer self, lock::lock_key machine) {
  auto& st = self->state;
  auto name = machine.name();
  auto actor = self->spawn<caf::hidden>(
    lock_key_impl, std::move(machine), st.env,
    caf::actor_cast<lock_shard_actor>(self), st.table->shard(), st.expired);
  if (st.actors != nullptr) {
    st.actors->add(1);
  }
  return st.keys.insert_or_assign(std::move(name), key_ref{actor, 0})
    .first->second;
}

// Sends `xs...` to the lock actor of `key`, counting it.
template <class... Ts>
void forward(key_ref& ref, Ts&&... xs) {
  ++ref.sent;
  caf::anon_send(ref.actor, std::forward<Ts>(xs)...);
}

key_ref* find_key(shard_pointer self, const std::string& key) {
  auto& keys = self->state.keys;
  auto it = keys.find(key);
  return it == keys.end() ? nullptr : &it->second;
}

void acquire(shard_pointer self, lock::acquire_cmd& cmd,
             reply_to<lock::acquire_result> reply) {
  auto& st = self->state;
  if (st.gate.refuse_if_failed(reply.fn)) {
    return;
  }
  cmd.new_token = random_token();
  if (auto ok = st.table->check(cmd); !ok) {
    reply.fn(std::move(ok).err());
    return;
  }
  cmd.waiter = st.next_waiter++;
  if (cmd.lease != 0) {
    st.leases.insert(cmd.lease);
  }
  // The reservation record (if any) is submitted before the lock
  // actor's grant: durable first.
  lock::effects fx;
  cmd.fence = st.table->draw_fence(fx);
  persist(st.gate, *st.env.committer, storage::column::lock, fx.writes,
          caf::actor_cast<lock_shard_actor>(self));
  auto* ref = find_key(self, cmd.key);
  if (ref == nullptr) {
    ref = &spawn_key(self, st.table->make_key(cmd.key));
  }
  forward(*ref, acquire_atom_v, std::move(cmd), std::move(reply));
}

// The lock actor of a held or contended `key` once `check` passed; else
// answers `reply` (the check's error, or `not_held`) and returns null.
template <class T>
key_ref* held_key(shard_pointer self, const std::string& key, result<void> check,
                  reply_to<T>& reply) {
  if (!check) {
    reply.fn(std::move(check).err());
    return nullptr;
  }
  auto* ref = find_key(self, key);
  if (ref == nullptr) {
    reply.fn(lock::not_held(key));
  }
  return ref;
}

void refresh(shard_pointer self, std::string& key, std::string& token, duration ttl,
             reply_to<lock::lock_info> reply) {
  auto* ref = held_key(self, key, self->state.table->check_refresh(key, ttl), reply);
  if (ref != nullptr) {
    forward(*ref, refresh_atom_v, std::move(key), std::move(token), ttl,
            std::move(reply));
  }
}

void release(shard_pointer self, std::string& key, std::string& token,
             reply_to<uint64_t> reply) {
  auto* ref = held_key(self, key, self->state.table->validate_key(key), reply);
  if (ref != nullptr) {
    forward(*ref, release_atom_v, std::move(key), std::move(token), std::move(reply));
  }
}

void get(shard_pointer self, std::string& key, reply_to<lock::lock_info> reply) {
  auto& st = self->state;
  if (auto ok = st.table->validate_key(key); !ok) {
    reply.fn(std::move(ok).err());
    return;
  }
  auto* ref = find_key(self, key);
  if (ref == nullptr) {
    // No actor: free, and nobody waits.
    lock::lock_info free;
    free.key = std::move(key);
    reply.fn(std::move(free));
    return;
  }
  forward(*ref, get_atom_v, std::move(key), std::move(reply));
}

// A `reply_to` that answers a request from another node.
template <class T>
std::pair<caf::typed_response_promise<T>, reply_to<T>> promised(shard_pointer self) {
  auto rp = self->make_response_promise<T>();
  return {rp, reply_to<T>{deliver_to(rp)}};
}

lock_shard_actor::behavior_type
lock_shard_impl(shard_pointer self, lock::lock_table table,
                std::map<std::string, lock::lock_key, std::less<>> held,
                lock_shard_env env) {
  auto& st = self->state;
  st.table.emplace(std::move(table));
  st.env = env;
  if (env.metrics != nullptr) {
    st.expired = &env.metrics->add_counter(
      "shoal_lock_expired_total", "Lock holds that ended by expiry.");
    st.actors = &env.metrics->add_gauge(
      "shoal_lock_actors", "Lock actors: held or contended lock keys.");
  }
  for (auto& [name, machine] : held) {
    machine.leases(st.leases);
    spawn_key(self, std::move(machine));
  }
  return {
    [self](acquire_atom, lock::acquire_cmd& cmd,
           reply_to<lock::acquire_result>& reply) {
      acquire(self, cmd, std::move(reply));
    },
    [self](refresh_atom, std::string& key, std::string& token, duration ttl,
           reply_to<lock::lock_info>& reply) {
      refresh(self, key, token, ttl, std::move(reply));
    },
    [self](release_atom, std::string& key, std::string& token,
           reply_to<uint64_t>& reply) {
      release(self, key, token, std::move(reply));
    },
    [self](get_atom, std::string& key, reply_to<lock::lock_info>& reply) {
      get(self, key, std::move(reply));
    },
    [self](acquire_atom, lock::acquire_cmd& cmd) {
      auto [rp, reply] = promised<lock::acquire_result>(self);
      acquire(self, cmd, std::move(reply));
      return rp;
    },
    [self](refresh_atom, std::string& key, std::string& token, duration ttl) {
      auto [rp, reply] = promised<lock::lock_info>(self);
      refresh(self, key, token, ttl, std::move(reply));
      return rp;
    },
    [self](release_atom, std::string& key, std::string& token) {
      auto [rp, reply] = promised<uint64_t>(self);
      release(self, key, token, std::move(reply));
      return rp;
    },
    [self](get_atom, std::string& key) {
      auto [rp, reply] = promised<lock::lock_info>(self);
      get(self, key, std::move(reply));
      return rp;
    },
    [self](leases_atom) {
      const auto& leases = self->state.leases;
      return std::vector<uint64_t>(leases.begin(), leases.end());
    },
    [self](lease_end_atom, uint64_t lease, bool expired) {
      self->state.leases.erase(lease);
      // Every lock actor looks: a hold or a waiter may be bound to it.
      for (auto& [key, ref] : self->state.keys) {
        forward(ref, lease_end_atom_v, lease, expired);
      }
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      on_commit_report(self->state.gate, "lock", self->state.table->shard(), seq,
                       code, std::move(message));
    },
    [self](idle_atom, std::string& key, uint64_t received) {
      auto& keys = self->state.keys;
      auto it = keys.find(key);
      if (it == keys.end() || it->second.sent != received) {
        return; // more is on its way to it: it reports again
      }
      caf::anon_send(it->second.actor, retire_atom_v);
      keys.erase(it);
      if (self->state.actors != nullptr) {
        self->state.actors->add(-1);
      }
    },
  };
}

} // namespace

lock_shard_actor
spawn_lock_shard(caf::actor_system& sys, lock::lock_table table,
                 std::map<std::string, lock::lock_key, std::less<>> held,
                 lock_shard_env env) {
  return sys.spawn(lock_shard_impl, std::move(table), std::move(held), env);
}

} // namespace shoal
