#include "actors/idempotency/idem_shard.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/random_token.hpp"

namespace shoal {

namespace {

struct idem_shard_state {
  static inline const char* name = "shoal.idempotency.shard";

  std::optional<shard_host<idem::idempotency_table>> host;
  metrics::counter* swept = nullptr;
};

using shard_pointer = idem_shard_actor::stateful_pointer<idem_shard_state>;

// Applies a command through the host and answers `reply` once durable.
template <class R, class Command>
void change(shard_pointer self, const Command& cmd, std::function<void(result<R>)> reply,
            reply_thread thread = reply_thread::shard) {
  self->state.host->template submit<R>(self, cmd, std::move(reply), thread);
}

// Reads a record, answered once what it saw is durable.
void get(shard_pointer self, const std::string& key,
         std::function<void(result<idem::record>)> reply) {
  auto& host = *self->state.host;
  host.read(host.machine().get(key, host.now()), std::move(reply));
}

// Removes every expired record, in rounds; returns how many.
uint64_t sweep(shard_pointer self) {
  auto& st = self->state;
  auto n = st.host->submit_until_done(self, idem::sweep_cmd{});
  if (st.swept != nullptr && n > 0) {
    st.swept->inc(n);
  }
  return n;
}

idem_shard_actor::behavior_type idem_shard_impl(shard_pointer self,
                                                idem::idempotency_table table,
                                                idem_shard_env env) {
  auto& st = self->state;
  st.host.emplace(std::move(table), env, storage::column::idempotency, "idempotency");
  if (env.metrics != nullptr) {
    st.swept = &env.metrics->add_counter(
      "shoal_idempotency_swept_total",
      "Idempotency records removed after their lease or retention ended.");
  }
  self->delayed_send(self, env.sweep_interval, tick_atom_v);
  // The owner token of a fresh begin is drawn here, before the command is
  // applied: applying it again (on a replica) gives the same record.
  auto with_token = [](idem::begin_cmd cmd) {
    cmd.new_token = random_token();
    return cmd;
  };
  return {
    [self, with_token](begin_atom, idem::begin_cmd& cmd) {
      return promise_of<idem::begin_result>(self, [&](auto reply) {
        change<idem::begin_result>(self, with_token(std::move(cmd)), std::move(reply));
      });
    },
    [self](touch_atom, idem::touch_cmd& cmd) {
      return promise_of<idem::record>(self, [&](auto reply) {
        change<idem::record>(self, cmd, std::move(reply));
      });
    },
    [self](complete_atom, idem::complete_cmd& cmd) {
      return promise_of<idem::record>(self, [&](auto reply) {
        change<idem::record>(self, cmd, std::move(reply));
      });
    },
    [self](fail_atom, idem::fail_cmd& cmd) {
      return promise_of<idem::record>(self, [&](auto reply) {
        change<idem::record>(self, cmd, std::move(reply));
      });
    },
    [self](get_atom, std::string& key) {
      return promise_of<idem::record>(self,
                                      [&](auto reply) { get(self, key, std::move(reply)); });
    },
    [self](delete_atom, std::string& key) {
      return promise_of<bool>(self, [&](auto reply) {
        change<bool>(self, idem::erase_cmd{std::move(key)}, std::move(reply));
      });
    },
    [self, with_token](begin_atom, idem::begin_cmd& cmd,
                       reply_to<idem::begin_result>& reply) {
      change<idem::begin_result>(self, with_token(std::move(cmd)), std::move(reply.fn),
                                 thread_of(reply.any_thread));
    },
    [self](touch_atom, idem::touch_cmd& cmd, reply_to<idem::record>& reply) {
      change<idem::record>(self, cmd, std::move(reply.fn), thread_of(reply.any_thread));
    },
    [self](complete_atom, idem::complete_cmd& cmd, reply_to<idem::record>& reply) {
      change<idem::record>(self, cmd, std::move(reply.fn), thread_of(reply.any_thread));
    },
    [self](fail_atom, idem::fail_cmd& cmd, reply_to<idem::record>& reply) {
      change<idem::record>(self, cmd, std::move(reply.fn), thread_of(reply.any_thread));
    },
    [self](get_atom, std::string& key, reply_to<idem::record>& reply) {
      get(self, key, std::move(reply.fn));
    },
    [self](sweep_atom) {
      return promise_of<uint64_t>(self, [&](auto reply) {
        self->state.host->read(result<uint64_t>{sweep(self)}, std::move(reply));
      });
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      self->state.host->on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, self->state.host->env().sweep_interval, tick_atom_v);
    },
  };
}

} // namespace

idem_shard_actor spawn_idem_shard(caf::actor_system& sys,
                                  idem::idempotency_table table,
                                  idem_shard_env env) {
  return sys.spawn(idem_shard_impl, std::move(table), env);
}

} // namespace shoal
