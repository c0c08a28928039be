#pragma once

// The generic shell of a shard: the one place where a command meets its
// machine. It draws the command's context (time, position), applies it,
// hands the records to the committer, and answers and publishes once they
// are durable. Replication slides under `submit`: the command goes to the
// log first and is applied on every replica (runtime/machine.hpp).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "actors/reply_to.hpp"
#include "runtime/machine.hpp"
#include "runtime/metrics.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"
#include "runtime/time.hpp"

namespace shoal {

/// What every shard needs from its node. Outlives every shard actor.
struct shard_env {
  storage::engine* store = nullptr;
  storage::committer* committer = nullptr;
  const clock_source* clock = nullptr;
  metrics::registry* metrics = nullptr;
  /// How often a shard's tick runs (expiry sweeps and the like).
  duration sweep_interval = std::chrono::milliseconds{100};
};

/// Where an answer may be delivered from.
enum class reply_thread : uint8_t {
  /// The shard's own thread (a response promise needs that).
  shard,
  /// Any thread: a write's answer comes straight from the storage commit
  /// thread once the write is durable, skipping the shard's mailbox.
  any,
};

/// How a shard hands its records to the committer.
enum class commit_mode : uint8_t {
  /// Each command's records as one batch of their own (a write can be
  /// answered straight from the commit thread).
  each,
  /// One batch in flight at a time: records of later commands gather, the
  /// last write of each key winning, and go as one batch once it is
  /// durable. For many small commands into few keys (aggregate cells).
  /// Range deletes are not gathered: a machine in this mode makes none.
  coalesce,
};

/// The thread a `reply_to` allows.
inline reply_thread thread_of(bool any_thread) {
  return any_thread ? reply_thread::any : reply_thread::shard;
}

/// A storage batch of `records` on `column`.
storage::write_batch to_batch(storage::column column, std::vector<record> records);

/// The shell around one shard's machine, held in the shard actor's state.
/// `Machine` keeps the contract of runtime/machine.hpp: `effects_type`,
/// `event_type`, `shard()` and `apply(cmd, ctx, fx)` per command.
///
/// Every command goes through `submit`: refused once the shard failed,
/// else applied with a fresh context; its records (if any) go to the
/// committer as the shard's next change; once they are durable its events
/// go to `publish` and then it is answered — a command that changed
/// nothing waits too, since its answer may describe pending state. Reads
/// go through `read`, which waits the same way.
///
/// Owned by one shard actor and used only on its thread.
template <class Machine>
class shard_host {
public:
  using effects_type = typename Machine::effects_type;
  using event_type = typename Machine::event_type;
  using publish_fn = std::function<void(std::vector<event_type>&&)>;

  shard_host(Machine machine, shard_env env, storage::column column,
             const char* primitive, commit_mode mode = commit_mode::each)
    : machine_(std::move(machine)),
      env_(env),
      column_(column),
      primitive_(primitive),
      mode_(mode) {
    if (env_.metrics != nullptr) {
      commit_failures_ = &env_.metrics->add_counter(
        std::string{"shoal_"} + primitive + "_commit_failures_total",
        std::string{primitive} + " commits that failed (the shard stops serving).");
    }
  }

  // -- observers --------------------------------------------------------------

  /// The machine, for reads and the shell's own bookkeeping. Commands that
  /// change it go through `submit`.
  const Machine& machine() const {
    return machine_;
  }

  const shard_env& env() const {
    return env_;
  }

  const durable_gate& gate() const {
    return gate_;
  }

  durable_gate& gate() {
    return gate_;
  }

  bool failed() const {
    return gate_.failed();
  }

  /// The time reads are answered at.
  time_point now() const {
    return env_.clock->now();
  }

  /// Commands applied so far (the index of the last one).
  uint64_t applied() const {
    return index_;
  }

  // -- configuration ----------------------------------------------------------

  /// Where events go once durable (nothing by default).
  void on_events(publish_fn fn) {
    publish_ = std::move(fn);
  }

  // -- commands ---------------------------------------------------------------

  /// Applies `cmd` and calls `reply` with its result once its effects are
  /// durable (or with the storage failure). `self` is the shard actor,
  /// which receives the commit report.
  template <class R, class Self, class Command>
  void submit(Self* self, const Command& cmd, std::function<void(result<R>)> reply,
              reply_thread thread = reply_thread::shard) {
    if (gate_.refuse_if_failed(reply)) {
      return;
    }
    effects_type fx;
    auto r = machine_.apply(cmd, next_context(), fx);
    finish(self, std::move(fx), std::move(r), std::move(reply), thread);
  }

  /// `submit` without an answer (a lease's end, a tick's command), starting
  /// from `fx` (a machine's effects may carry options). Returns the result
  /// at once: the caller answers it with `read` once durable, if at all.
  template <class Self, class Command>
  auto submit(Self* self, const Command& cmd, effects_type fx = {}) {
    using R = typename decltype(machine_.apply(cmd, std::declval<apply_ctx>(),
                                               std::declval<effects_type&>()))::value_type;
    if (gate_.failed()) {
      return result<R>{durable_gate::stopped_error()};
    }
    auto r = machine_.apply(cmd, next_context(), fx);
    finish<R>(self, std::move(fx), result<R>{error{errc::internal}}, {},
              reply_thread::shard);
    return r;
  }

  /// Applies `cmd` as long as it reports work done (a count above 0) — a
  /// sweep in bounded rounds, each round its own batch. Returns the total.
  template <class Self, class Command>
  uint64_t submit_until_done(Self* self, const Command& cmd) {
    uint64_t total = 0;
    for (;;) {
      auto n = submit(self, cmd);
      if (!n || *n == 0) {
        return total;
      }
      total += *n;
    }
  }

  /// Persists `records` that are this shard's own rather than a command's:
  /// derived state kept to start faster (a projection snapshot). They go
  /// after every change applied before them, so they are durable only if
  /// those are, and never into a replicated log: each replica writes its
  /// own.
  template <class Self>
  void write_local(Self* self, std::vector<record> records) {
    if (records.empty() || gate_.failed()) {
      return;
    }
    if (mode_ == commit_mode::coalesce) {
      gather(self, std::move(records));
      return;
    }
    commit_async(gate_, *env_.committer, to_batch(column_, std::move(records)),
                 caf::actor_cast<caf::actor>(self), {});
  }

  /// Calls `reply` with `value` (computed from the machine now) once every
  /// change applied so far is durable.
  template <class R>
  void read(result<R> value, std::function<void(result<R>)> reply) {
    if (gate_.refuse_if_failed(reply)) {
      return;
    }
    answer_when_durable(gate_, std::move(value), std::move(reply));
  }

  /// Passes a `(commit_atom, seq, code, message)` report to the gate; in
  /// `coalesce` mode the records gathered meanwhile go next.
  template <class Self>
  void on_commit(Self* self, uint64_t seq, uint8_t code, std::string message) {
    auto failure = on_commit_report(gate_, primitive_, machine_.shard(), seq, code,
                                    std::move(message));
    if (failure && commit_failures_ != nullptr) {
      commit_failures_->inc();
    }
    if (mode_ != commit_mode::coalesce) {
      return;
    }
    in_flight_ = false;
    if (failure) {
      pending_.clear();
      return;
    }
    if (!pending_.empty()) {
      std::vector<record> records;
      records.reserve(pending_.size());
      for (auto& [key, value] : pending_) {
        records.push_back(record{key, std::move(value), {}});
      }
      pending_.clear();
      send(self, std::move(records), pending_seq_);
    }
  }

private:
  apply_ctx next_context() {
    return apply_ctx{env_.clock->now(), ++index_, machine_.shard()};
  }

  // Persists `fx.records` as the next change; once it is durable, publishes
  // its events and then answers (an answer on the shard's thread comes
  // after the events it caused are out, a projection updated say).
  template <class R, class Self>
  void finish(Self* self, effects_type fx, result<R> r,
              std::function<void(result<R>)> reply, reply_thread thread) {
    if (!fx.records.empty()) {
      if (mode_ == commit_mode::coalesce) {
        gather(self, std::move(fx.records));
      } else {
        durable_gate::waiter acknowledge;
        if (reply && thread == reply_thread::any) {
          acknowledge = answer_with(std::move(r), std::move(reply));
          reply = nullptr;
        }
        commit_async(gate_, *env_.committer, to_batch(column_, std::move(fx.records)),
                     caf::actor_cast<caf::actor>(self), std::move(acknowledge));
      }
    }
    if (!fx.events.empty()) {
      gate_.after_durable(published(std::move(fx.events)));
    }
    if (reply) {
      answer_when_durable(gate_, std::move(r), std::move(reply));
    }
  }

  // `coalesce` mode: sends `records` at once if no batch is in flight,
  // else gathers them for the next one (one gate sequence number for all).
  template <class Self>
  void gather(Self* self, std::vector<record> records) {
    if (!in_flight_) {
      send(self, std::move(records), gate_.advance());
      return;
    }
    if (pending_.empty()) {
      pending_seq_ = gate_.advance();
    }
    for (auto& r : records) {
      pending_.insert_or_assign(std::move(r.key), std::move(r.value));
    }
  }

  template <class Self>
  void send(Self* self, std::vector<record> records, uint64_t seq) {
    in_flight_ = true;
    commit_async(*env_.committer, to_batch(column_, std::move(records)),
                 caf::actor_cast<caf::actor>(self), seq);
  }

  durable_gate::waiter published(std::vector<event_type> events) {
    return [this, events = std::move(events)](const error* failure) mutable {
      if (failure == nullptr && publish_) {
        publish_(std::move(events));
      }
    };
  }

  Machine machine_;
  shard_env env_;
  storage::column column_;
  const char* primitive_;
  commit_mode mode_;
  durable_gate gate_;
  uint64_t index_ = 0;
  // `coalesce` mode: a batch is being committed; records gathered since,
  // by key, and the gate sequence number they will go with.
  bool in_flight_ = false;
  std::map<std::string, std::optional<std::string>> pending_;
  uint64_t pending_seq_ = 0;
  publish_fn publish_;
  metrics::counter* commit_failures_ = nullptr;
};

/// Makes a response promise of `self`, passes its delivery to `fn` and
/// returns it: the request/response form of a command, derived from its
/// `reply_to` form.
template <class R, class Self, class Fn>
caf::typed_response_promise<R> promise_of(Self* self, Fn&& fn) {
  auto rp = self->template make_response_promise<R>();
  fn(deliver_to(rp));
  return rp;
}

} // namespace shoal
