#include "actors/aggregate/agg_shard.hpp"

#include <optional>
#include <set>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/aggregate/window_cache.hpp"

namespace shoal {

namespace {

struct agg_shard_state {
  static inline const char* name = "shoal.aggregate.shard";

  // Group commit in the shard (`commit_mode::coalesce`): merges into a few
  // hot cells while a batch is committed gather into one write per cell.
  std::optional<shard_host<agg::aggregate_table>> host;
  std::optional<agg::window_cache> cache;
  const merge_hooks* hooks = nullptr;
  const mirror_slot* mirror = nullptr;
  metrics::counter* swept = nullptr;
};

using shard_pointer = agg_shard_actor::stateful_pointer<agg_shard_state>;

template <class T>
void reply_when_durable(shard_pointer self, result<T> value, reply_to<T>& reply) {
  self->state.host->read(std::move(value), std::move(reply.fn));
}

// Hands the mirror the values of the cells this batch changed, once durable.
void mirror_cells(shard_pointer self, const std::vector<agg::merge_cmd>& batch,
                  const std::vector<agg::merge_outcome>& out) {
  auto& st = self->state;
  auto now = st.host->now();
  std::set<std::tuple<std::string_view, std::string_view, int64_t>> seen;
  std::vector<agg::cell_snapshot> cells;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (out[i].code != 0 || out[i].r.duplicate
        || !seen.emplace(batch[i].name, batch[i].entity, out[i].r.bucket).second) {
      continue;
    }
    if (auto c = st.host->machine().snapshot(batch[i].name, batch[i].entity,
                                             out[i].r.bucket, now)) {
      cells.push_back(std::move(*c));
    }
  }
  if (cells.empty()) {
    return;
  }
  st.host->gate().after_durable(
    [slot = st.mirror, cells = std::move(cells)](const error* e) mutable {
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
  // Applied merges are kept as events only for the hooks to see.
  agg::effects fx;
  fx.keep_merged = st.hooks != nullptr && !st.hooks->empty();
  agg::merge_batch_cmd cmd{std::move(batch)};
  auto out = st.host->submit(self, cmd, std::move(fx));
  if (out) {
    const auto& merges = cmd.merges;
    for (size_t i = 0; i < out->size(); ++i) {
      const auto& o = (*out)[i];
      if (st.cache && o.code == 0 && !o.r.duplicate) {
        st.cache->invalidate(merges[i].name, merges[i].entity, o.r.bucket);
      }
    }
    if (st.mirror != nullptr && st.mirror->active()) {
      mirror_cells(self, merges, *out);
    }
  }
  reply_when_durable(self, std::move(out), reply);
}

void read(shard_pointer self, std::vector<agg::read_query>& queries,
          reply_to<std::vector<agg::read_outcome>>& reply) {
  auto& st = self->state;
  const auto& table = st.host->machine();
  auto now = st.host->now();
  std::vector<agg::read_outcome> out(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    auto& o = out[i];
    auto span = table.span(q, now);
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
    auto r = table.read(q, now);
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
  reply_when_durable(self, result<std::vector<agg::read_outcome>>{std::move(out)}, reply);
}

// Removes every expired cell and mark, in rounds; returns how many.
uint64_t sweep(shard_pointer self) {
  auto& st = self->state;
  auto n = st.host->submit_until_done(self, agg::sweep_cmd{});
  if (st.swept != nullptr && n > 0) {
    st.swept->inc(n);
  }
  return n;
}

agg_shard_actor::behavior_type agg_shard_impl(shard_pointer self,
                                              agg::aggregate_table table,
                                              agg_shard_env env) {
  auto& st = self->state;
  st.host.emplace(std::move(table), env.shard, storage::column::aggregate, "aggregate",
                  commit_mode::coalesce);
  st.hooks = env.hooks;
  st.mirror = env.mirror;
  if (env.cache_bytes > 0) {
    st.cache.emplace(env.cache_bytes);
  }
  if (env.shard.metrics != nullptr) {
    st.swept = &env.shard.metrics->add_counter(
      "shoal_aggregate_swept_total",
      "Aggregate cells and dedup marks removed after their retention.");
  }
  // Once durable, in commit order (the gate runs waiters in order).
  st.host->on_events([self](std::vector<agg::applied_merge>&& merged) {
    const auto* hooks = self->state.hooks;
    for (auto& m : merged) {
      if (hooks->watched(m.merge.name)) {
        hooks->run(merge_event{m.merge.name, m.merge.entity, *m.merge.bucket, m.merge.delta,
                               m.merge.event_id, m.at});
      }
    }
  });
  self->delayed_send(self, env.shard.sweep_interval, tick_atom_v);
  return {
    [self](define_atom, agg::definition& def, reply_to<bool>& reply) {
      // The node's catalog: every shard holds every definition in memory;
      // no record of its own.
      auto& st = self->state;
      auto name = def.name;
      auto ok = st.host->submit(self, agg::define_cmd{std::move(def)});
      if (ok && st.cache) {
        st.cache->drop(name);
      }
      reply.fn(std::move(ok));
    },
    [self](drop_atom, std::string& name, reply_to<uint64_t>& reply) {
      auto& st = self->state;
      auto removed = st.host->submit(self, agg::drop_cmd{name});
      if (st.cache) {
        st.cache->drop(name);
      }
      reply_when_durable(self, std::move(removed), reply);
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
      self->state.host->submit<bool>(
        self, agg::seen_cmd{std::move(scope), std::move(id), retention},
        std::move(reply.fn));
    },
    [self](scan_atom, bool has_after, agg::cell_snapshot& after, uint32_t limit,
           reply_to<std::vector<agg::cell_snapshot>>& reply) {
      auto& host = *self->state.host;
      auto page = host.machine().scan(has_after ? std::optional{std::move(after)}
                                                : std::nullopt,
                                      limit, host.now());
      reply_when_durable(self, result<std::vector<agg::cell_snapshot>>{std::move(page)},
                         reply);
    },
    [self](sweep_atom, reply_to<uint64_t>& reply) {
      reply_when_durable(self, result<uint64_t>{sweep(self)}, reply);
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
      self->state.host->on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, self->state.host->env().sweep_interval, tick_atom_v);
    },
  };
}

} // namespace

agg_shard_actor spawn_agg_shard(caf::actor_system& sys, agg::aggregate_table table,
                                agg_shard_env env) {
  return sys.spawn(agg_shard_impl, std::move(table), env);
}

} // namespace shoal
