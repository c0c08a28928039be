#include "actors/lock/lock_shard.hpp"

#include <set>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/random_token.hpp"

namespace shoal {

namespace {

using acquire_reply = std::function<void(result<lock::acquire_result>)>;

struct lock_shard_state {
  static inline const char* name = "shoal.lock.shard";

  std::optional<shard_host<lock::lock_table>> host;
  duration max_timer = std::chrono::seconds{5};
  uint64_t next_waiter = 1;
  // Queued acquirers, answered when granted, timed out or lease-lost.
  std::unordered_map<uint64_t, acquire_reply> waiting;
  /// Leases named by acquires (and restored holds) whose end this shard
  /// has not heard of yet.
  std::set<uint64_t> leases;
  // When the pending timer fires (max: none).
  time_point timer_at = time_point::max();
  metrics::counter* expired = nullptr;
  metrics::gauge* keys = nullptr;
  int64_t keys_reported = 0;
};

using shard_pointer = lock_shard_actor::stateful_pointer<lock_shard_state>;

// Arms the timer for the machine's next deadline, unless one fires first;
// and keeps the key gauge current.
void arm(shard_pointer self) {
  auto& st = self->state;
  const auto& table = st.host->machine();
  if (st.keys != nullptr) {
    auto now_keys = static_cast<int64_t>(table.keys().size());
    st.keys->add(static_cast<double>(now_keys - st.keys_reported));
    st.keys_reported = now_keys;
  }
  auto next = table.next_deadline();
  if (!next || *next >= st.timer_at) {
    return;
  }
  auto now = st.host->now();
  auto delay = *next > now ? *next - now : duration::zero();
  delay = std::min<duration>(delay + std::chrono::milliseconds{1}, st.max_timer);
  st.timer_at = now + delay;
  self->delayed_send(self, delay, tick_atom_v);
}

// Once durable: grants and refusals reach the acquirers that waited.
void on_events(shard_pointer self, std::vector<lock::event>&& events) {
  auto& st = self->state;
  for (auto& e : events) {
    if (e.what == lock::event::kind::expired) {
      if (st.expired != nullptr) {
        st.expired->inc();
      }
      continue;
    }
    auto it = st.waiting.find(e.waiter);
    if (it == st.waiting.end()) {
      continue;
    }
    auto reply = std::move(it->second);
    st.waiting.erase(it);
    switch (e.what) {
      case lock::event::kind::granted:
        reply(lock::acquire_result{true, std::move(e.info)});
        break;
      case lock::event::kind::timed_out:
        reply(error{errc::timeout, "waited too long for the lock"});
        break;
      case lock::event::kind::lease_lost:
        reply(error{errc::lease_expired, "the lease ended while waiting for the lock"});
        break;
      case lock::event::kind::expired:
        break;
    }
  }
}

void acquire(shard_pointer self, lock::acquire_cmd& cmd, acquire_reply reply) {
  auto& st = self->state;
  // Drawn before the command is applied: applying it again gives the same.
  cmd.new_token = random_token();
  cmd.waiter = st.next_waiter++;
  if (cmd.lease != 0 && st.host->machine().check(cmd)) {
    st.leases.insert(cmd.lease);
  }
  auto r = st.host->submit(self, cmd);
  if (r && !r->granted) {
    // Queued: answered by a later grant, timeout or lease end.
    st.waiting.emplace(cmd.waiter, std::move(reply));
  } else {
    st.host->read(std::move(r), std::move(reply));
  }
  arm(self);
}

template <class R, class Command>
void change(shard_pointer self, const Command& cmd, std::function<void(result<R>)> reply) {
  self->state.host->template submit<R>(self, cmd, std::move(reply));
  arm(self);
}

void get(shard_pointer self, const std::string& key,
         std::function<void(result<lock::lock_info>)> reply) {
  auto& host = *self->state.host;
  host.read(host.machine().get(key, host.now()), std::move(reply));
}

lock_shard_actor::behavior_type lock_shard_impl(shard_pointer self, lock::lock_table table,
                                                lock_shard_env env) {
  auto& st = self->state;
  table.leases(st.leases);
  st.host.emplace(std::move(table), env.shard, storage::column::lock, "lock");
  st.max_timer = env.max_timer;
  if (env.shard.metrics != nullptr) {
    st.expired = &env.shard.metrics->add_counter("shoal_lock_expired_total",
                                                 "Lock holds that ended by expiry.");
    st.keys = &env.shard.metrics->add_gauge(
      "shoal_lock_keys", "Lock keys held or contended (waited for).");
  }
  st.host->on_events(
    [self](std::vector<lock::event>&& events) { on_events(self, std::move(events)); });
  arm(self);
  return {
    [self](acquire_atom, lock::acquire_cmd& cmd, reply_to<lock::acquire_result>& reply) {
      acquire(self, cmd, std::move(reply.fn));
    },
    [self](refresh_atom, std::string& key, std::string& token, duration ttl,
           reply_to<lock::lock_info>& reply) {
      change<lock::lock_info>(self, lock::refresh_cmd{std::move(key), std::move(token), ttl},
                              std::move(reply.fn));
    },
    [self](release_atom, std::string& key, std::string& token, reply_to<uint64_t>& reply) {
      change<uint64_t>(self, lock::release_cmd{std::move(key), std::move(token)},
                       std::move(reply.fn));
    },
    [self](get_atom, std::string& key, reply_to<lock::lock_info>& reply) {
      get(self, key, std::move(reply.fn));
    },
    [self](acquire_atom a, lock::acquire_cmd& cmd) {
      return via_reply_to<lock::acquire_result>(self, a, std::move(cmd));
    },
    [self](refresh_atom a, std::string& key, std::string& token, duration ttl) {
      return via_reply_to<lock::lock_info>(self, a, std::move(key), std::move(token), ttl);
    },
    [self](release_atom a, std::string& key, std::string& token) {
      return via_reply_to<uint64_t>(self, a, std::move(key), std::move(token));
    },
    [self](get_atom a, std::string& key) {
      return via_reply_to<lock::lock_info>(self, a, std::move(key));
    },
    [self](leases_atom) {
      const auto& leases = self->state.leases;
      return std::vector<uint64_t>(leases.begin(), leases.end());
    },
    [self](lease_end_atom, uint64_t lease, bool) {
      // The lease's end is durable: holds bound to it end, its waiters
      // leave.
      self->state.leases.erase(lease);
      (void) self->state.host->submit(self, lock::lease_end_cmd{lease});
      arm(self);
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      self->state.host->on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      auto& st = self->state;
      st.timer_at = time_point::max();
      auto& host = *st.host;
      if (auto next = host.machine().next_deadline(); next && *next <= host.now()) {
        (void) host.submit(self, lock::tick_cmd{});
      }
      arm(self);
    },
  };
}

} // namespace

lock_shard_actor spawn_lock_shard(caf::actor_system& sys, lock::lock_table table,
                                  lock_shard_env env) {
  return sys.spawn(lock_shard_impl, std::move(table), env);
}

} // namespace shoal
