#include "actors/aggregate/agg_shard.hpp"

#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "runtime/aggregate/window_cache.hpp"

namespace shoal {

namespace {

struct agg_shard_state {
  static inline const char* name = "shoal.aggregate.shard";

  std::optional<agg::aggregate_table> table;
  std::optional<agg::window_cache> cache;
  agg_shard_env env;
  durable_gate gate;
  metrics::counter* swept = nullptr;
  // Group commit in the shard: while one batch is being committed, later
  // changes gather here, the last write of each record winning, and go
  // as one batch (one gate sequence number) once it is durable.
  bool in_flight = false;
  std::map<std::string, std::optional<std::string>> pending;
  uint64_t pending_seq = 0;
};

using shard_pointer = agg_shard_actor::stateful_pointer<agg_shard_state>;

void submit(shard_pointer self, std::vector<agg::write> writes, uint64_t seq) {
  auto& st = self->state;
  st.in_flight = true;
  commit_async(*st.env.committer, to_batch(storage::column::aggregate, writes),
               caf::actor_cast<agg_shard_actor>(self), seq);
}

// Persists `fx`: at once if no batch of this shard is being committed,
// otherwise with the next group.
void persist_effects(shard_pointer self, agg::effects& fx) {
  auto& st = self->state;
  if (fx.writes.empty()) {
    return;
  }
  if (!st.in_flight) {
    submit(self, std::move(fx.writes), st.gate.advance());
    return;
  }
  if (st.pending.empty()) {
    st.pending_seq = st.gate.advance();
  }
  for (auto& w : fx.writes) {
    st.pending.insert_or_assign(std::move(w.key), std::move(w.value));
  }
}

// A commit report: the gate learns it, and the gathered group goes next.
void on_committed(shard_pointer self, uint64_t seq, uint8_t code, std::string message) {
  auto& st = self->state;
  auto failure = on_commit_report(st.gate, "aggregate", st.table->shard(), seq, code,
                                  std::move(message));
  st.in_flight = false;
  if (failure) {
    st.pending.clear();
    return;
  }
  if (!st.pending.empty()) {
    std::vector<agg::write> writes;
    writes.reserve(st.pending.size());
    for (auto& [k, v] : st.pending) {
      writes.push_back({k, std::move(v)});
    }
    st.pending.clear();
    submit(self, std::move(writes), st.pending_seq);
  }
}

template <class T>
void reply_when_durable(shard_pointer self, T value, reply_to<T>& reply) {
  answer_when_durable(self->state.gate, result<T>{std::move(value)},
                      std::move(reply.fn));
}

// Hands the mirror the values of the cells this batch changed, once durable.
void mirror_cells(shard_pointer self, const std::vector<agg::merge_cmd>& batch,
                  const std::vector<agg::merge_outcome>& out, time_point now) {
  auto& st = self->state;
  std::set<std::tuple<std::string_view, std::string_view, int64_t>> seen;
  std::vector<agg::cell_snapshot> cells;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (out[i].code != 0 || out[i].r.duplicate
        || !seen.emplace(batch[i].name, batch[i].entity, out[i].r.bucket).second) {
      continue;
    }
    if (auto c = st.table->snapshot(batch[i].name, batch[i].entity, out[i].r.bucket, now)) {
      cells.push_back(std::move(*c));
    }
  }
  if (cells.empty()) {
    return;
  }
  st.gate.after_durable(
    [slot = st.env.mirror, cells = std::move(cells)](const error* e) mutable {
      if (e != nullptr) {
        return;
      }
      if (auto m = slot->get()) {
        m->updated(std::move(cells));
      }
    });
}

void merge(shard_pointer self, std::vector<agg::merge_cmd>& batch,
           reply_to<std::vector<agg::merge_outcome>>& reply) {
  auto& st = self->state;
  if (st.gate.refuse_if_failed(reply.fn)) {
    return;
  }
  auto now = st.env.clock->now();
  const auto* hooks = st.env.hooks;
  agg::effects fx;
  fx.keep_merged = hooks != nullptr && !hooks->empty();
  fx.defer_cells = batch.size() > 1;
  std::vector<agg::merge_outcome> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    auto r = st.table->merge(batch[i], now, fx);
    if (r) {
      out[i].r = *r;
      if (st.cache && !r->duplicate) {
        st.cache->invalidate(batch[i].name, batch[i].entity, r->bucket);
      }
    } else {
      out[i].code = static_cast<uint8_t>(r.code());
      out[i].message = r.err().message;
    }
  }
  // Several merges into one cell: its last value is what must persist.
  st.table->flush(fx);
  persist_effects(self, fx);
  if (st.env.mirror != nullptr && st.env.mirror->active()) {
    mirror_cells(self, batch, out, now);
  }
  if (!fx.merged.empty()) {
    // Once durable, in commit order: the gate runs waiters in order.
    st.gate.after_durable([hooks, merged = std::move(fx.merged), now](const error* e) {
      if (e != nullptr) {
        return;
      }
      for (auto& m : merged) {
        if (hooks->watched(m.name)) {
          hooks->run(merge_event{m.name, m.entity, *m.bucket, m.delta, m.event_id, now});
        }
      }
    });
  }
  reply_when_durable(self, std::move(out), reply);
}

void read(shard_pointer self, std::vector<agg::read_query>& queries,
          reply_to<std::vector<agg::read_outcome>>& reply) {
  auto& st = self->state;
  if (st.gate.refuse_if_failed(reply.fn)) {
    return;
  }
  auto now = st.env.clock->now();
  std::vector<agg::read_outcome> out(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    auto& o = out[i];
    auto span = st.table->span(q, now);
    if (!span) {
      o.code = static_cast<uint8_t>(span.code());
      o.message = span.err().message;
      continue;
    }
    auto cacheable = st.cache && span->second - span->first > 1;
    if (cacheable) {
      if (const auto* hit = st.cache->find(q.name, q.entity, span->first, span->second, now)) {
        o.r = *hit;
        o.cached = true;
        continue;
      }
    }
    auto r = st.table->read(q, now);
    if (!r) {
      o.code = static_cast<uint8_t>(r.code());
      o.message = r.err().message;
      continue;
    }
    if (cacheable) {
      st.cache->put(q.name, *r);
    }
    o.r = std::move(*r);
  }
  reply_when_durable(self, std::move(out), reply);
}

// Removes every expired cell and mark; returns how many.
uint64_t sweep(shard_pointer self) {
  auto& st = self->state;
  return sweep_expired<agg::effects>(st.gate, *st.table, st.env.clock->now(), st.swept,
                                     [self](agg::effects& fx) { persist_effects(self, fx); });
}

agg_shard_actor::behavior_type agg_shard_impl(shard_pointer self,
                                              agg::aggregate_table table,
                                              agg_shard_env env) {
  auto& st = self->state;
  st.table.emplace(std::move(table));
  st.env = env;
  if (env.cache_bytes > 0) {
    st.cache.emplace(env.cache_bytes);
  }
  if (env.metrics != nullptr) {
    st.swept = &env.metrics->add_counter(
      "shoal_aggregate_swept_total",
      "Aggregate cells and dedup marks removed after their retention.");
  }
  self->delayed_send(self, env.sweep_interval, tick_atom_v);
  return {
    [self](define_atom, agg::definition& def, reply_to<bool>& reply) {
      auto& st = self->state;
      auto name = def.name;
      auto ok = st.table->define(std::move(def));
      if (!ok) {
        reply.fn(std::move(ok).err());
        return;
      }
      if (st.cache) {
        st.cache->drop(name);
      }
      reply.fn(true);
    },
    [self](drop_atom, std::string& name, reply_to<uint64_t>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      agg::effects fx;
      st.table->drop(name, fx);
      if (st.cache) {
        st.cache->drop(name);
      }
      uint64_t removed = fx.writes.size();
      persist_effects(self, fx);
      reply_when_durable(self, removed, reply);
    },
    [self](merge_atom, std::vector<agg::merge_cmd>& batch,
           reply_to<std::vector<agg::merge_outcome>>& reply) {
      merge(self, batch, reply);
    },
    [self](get_atom, std::vector<agg::read_query>& queries,
           reply_to<std::vector<agg::read_outcome>>& reply) {
      read(self, queries, reply);
    },
    [self](seen_atom, std::string& scope, std::string& id, duration retention,
           reply_to<bool>& reply) {
      auto& st = self->state;
      if (st.gate.refuse_if_failed(reply.fn)) {
        return;
      }
      agg::effects fx;
      auto r = st.table->mark_seen(scope, id, retention, st.env.clock->now(), fx);
      persist_effects(self, fx);
      answer_when_durable(st.gate, std::move(r), std::move(reply.fn));
    },
    [self](scan_atom, bool has_after, agg::cell_snapshot& after, uint32_t limit,
           reply_to<std::vector<agg::cell_snapshot>>& reply) {
      auto& st = self->state;
      auto page = st.table->scan(has_after ? std::optional{std::move(after)} : std::nullopt,
                                 limit, st.env.clock->now());
      reply_when_durable(self, std::move(page), reply);
    },
    [self](sweep_atom, reply_to<uint64_t>& reply) {
      reply_when_durable(self, sweep(self), reply);
    },
    [self](merge_atom a, std::vector<agg::merge_cmd>& batch) {
      return via_reply_to<std::vector<agg::merge_outcome>>(self, a, std::move(batch));
    },
    [self](get_atom a, std::vector<agg::read_query>& queries) {
      return via_reply_to<std::vector<agg::read_outcome>>(self, a, std::move(queries));
    },
    [self](seen_atom a, std::string& scope, std::string& id, duration retention) {
      return via_reply_to<bool>(self, a, std::move(scope), std::move(id), retention);
    },
    [self](sweep_atom a) { return via_reply_to<uint64_t>(self, a); },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      on_committed(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, self->state.env.sweep_interval, tick_atom_v);
    },
  };
}

} // namespace

agg_shard_actor spawn_agg_shard(caf::actor_system& sys, agg::aggregate_table table,
                                agg_shard_env env) {
  return sys.spawn(agg_shard_impl, std::move(table), env);
}

} // namespace shoal
