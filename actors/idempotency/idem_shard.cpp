#include "actors/idempotency/idem_shard.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "actors/error_bridge.hpp"
#include "actors/random_token.hpp"

namespace shoal {

namespace {

struct idem_shard_state {
  static inline const char* name = "shoal.idempotency.shard";

  std::optional<idem::idempotency_table> table;
  idem_shard_env env;
  durable_gate gate;
  metrics::counter* swept = nullptr;
};

using shard_pointer = idem_shard_actor::stateful_pointer<idem_shard_state>;

// Persists `fx` (if anything changed) and calls `deliver` with `value`
// once the state it was computed from is durable — from the commit thread
// if `any_thread` (`persist_and_answer`). Errors and reads persist nothing
// but still wait: they may describe a change whose commit is pending.
template <class T>
void answer(shard_pointer self, idem::effects fx, result<T> value,
            std::function<void(result<T>)> deliver, bool any_thread = false) {
  auto& st = self->state;
  auto shard = caf::actor_cast<idem_shard_actor>(self);
  if (any_thread) {
    persist_and_answer(st.gate, *st.env.committer, storage::column::idempotency,
                       std::move(fx.writes), std::move(shard), std::move(value),
                       std::move(deliver));
    return;
  }
  persist(st.gate, *st.env.committer, storage::column::idempotency,
          std::move(fx.writes), std::move(shard));
  answer_when_durable(st.gate, std::move(value), std::move(deliver));
}

// The same, answering a response promise.
template <class T>
caf::typed_response_promise<T> answer(shard_pointer self, idem::effects fx,
                                      result<T> value) {
  auto rp = self->make_response_promise<T>();
  answer<T>(self, std::move(fx), std::move(value), deliver_to(rp));
  return rp;
}

// Applies a command (nothing once the shard failed: memory is ahead of the
// disk) and answers through `deliver`.
template <class T, class Command>
void change(shard_pointer self, const Command& cmd,
            std::function<void(result<T>)> deliver, bool any_thread = false) {
  auto& st = self->state;
  if (st.gate.failed()) {
    answer<T>(self, {}, result<T>{fail(errc::storage_error, "")},
              std::move(deliver));
    return;
  }
  idem::effects fx;
  auto r = st.table->apply(cmd, st.env.clock->now(), fx);
  answer<T>(self, std::move(fx), std::move(r), std::move(deliver), any_thread);
}

template <class T, class Command>
caf::typed_response_promise<T> change(shard_pointer self, const Command& cmd) {
  auto rp = self->make_response_promise<T>();
  change<T>(self, cmd, deliver_to(rp));
  return rp;
}

// Removes every expired record; returns how many.
uint64_t sweep(shard_pointer self) {
  auto& st = self->state;
  return sweep_expired<idem::effects>(
    st.gate, *st.table, st.env.clock->now(), st.swept, [self](const idem::effects& fx) {
      auto& st = self->state;
      persist(st.gate, *st.env.committer, storage::column::idempotency, fx.writes,
              caf::actor_cast<idem_shard_actor>(self));
    });
}

idem_shard_actor::behavior_type idem_shard_impl(shard_pointer self,
                                                idem::idempotency_table table,
                                                idem_shard_env env) {
  auto& st = self->state;
  st.table.emplace(std::move(table));
  st.env = env;
  if (env.metrics != nullptr) {
    st.swept = &env.metrics->add_counter(
      "shoal_idempotency_swept_total",
      "Idempotency records removed after their lease or retention ended.");
  }
  self->delayed_send(self, env.sweep_interval, tick_atom_v);
  return {
    [self](begin_atom, idem::begin_cmd& cmd) {
      cmd.new_token = random_token();
      return change<idem::begin_result>(self, cmd);
    },
    [self](touch_atom, idem::touch_cmd& cmd) {
      return change<idem::record>(self, cmd);
    },
    [self](complete_atom, idem::complete_cmd& cmd) {
      return change<idem::record>(self, cmd);
    },
    [self](fail_atom, idem::fail_cmd& cmd) {
      return change<idem::record>(self, cmd);
    },
    [self](get_atom, std::string& key) {
      auto& st = self->state;
      return answer<idem::record>(self, {},
                                  st.table->get(key, st.env.clock->now()));
    },
    [self](delete_atom, std::string& key) {
      if (self->state.gate.failed()) {
        return answer<bool>(self, {}, result<bool>{fail(errc::storage_error, "")});
      }
      idem::effects fx;
      auto r = self->state.table->erase(key, fx);
      return answer<bool>(self, std::move(fx), std::move(r));
    },
    [self](begin_atom, idem::begin_cmd& cmd,
           reply_to<idem::begin_result>& reply) {
      cmd.new_token = random_token();
      change<idem::begin_result>(self, cmd, std::move(reply.fn), reply.any_thread);
    },
    [self](touch_atom, idem::touch_cmd& cmd, reply_to<idem::record>& reply) {
      change<idem::record>(self, cmd, std::move(reply.fn), reply.any_thread);
    },
    [self](complete_atom, idem::complete_cmd& cmd,
           reply_to<idem::record>& reply) {
      change<idem::record>(self, cmd, std::move(reply.fn), reply.any_thread);
    },
    [self](fail_atom, idem::fail_cmd& cmd, reply_to<idem::record>& reply) {
      change<idem::record>(self, cmd, std::move(reply.fn), reply.any_thread);
    },
    [self](get_atom, std::string& key, reply_to<idem::record>& reply) {
      auto& st = self->state;
      answer<idem::record>(self, {}, st.table->get(key, st.env.clock->now()),
                           std::move(reply.fn));
    },
    [self](sweep_atom) {
      auto n = sweep(self);
      return answer<uint64_t>(self, {}, result<uint64_t>{n});
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      on_commit_report(self->state.gate, "idempotency", self->state.table->shard(), seq,
                       code, std::move(message));
    },
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, self->state.env.sweep_interval, tick_atom_v);
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
