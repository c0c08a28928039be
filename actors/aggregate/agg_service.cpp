#include "actors/aggregate/agg_service.hpp"

#include <atomic>
#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/ask.hpp"
#include "actors/cluster/routing.hpp"
#include "actors/error_bridge.hpp"
#include "actors/reply_to.hpp"

namespace shoal {

namespace {

constexpr std::string_view definition_prefix = "aggregate/";

constexpr const char* op_names[] = {"get", "get_many", "merge", "window"};

// Sends one part of a batch per shard and puts the answers back in request
// order. `send(shard, items, done)` asks one shard; `done` gets every
// outcome, or the first failure of a whole part.
template <class Item, class Outcome, class ShardOf, class Send>
void scatter(std::vector<Item> items, ShardOf shard_of, Send send,
             std::function<void(result<std::vector<Outcome>>)> done) {
  using answer = std::function<void(result<std::vector<Outcome>>)>;
  if (items.empty()) {
    done(std::vector<Outcome>{});
    return;
  }
  std::map<uint16_t, std::pair<std::vector<Item>, std::vector<size_t>>> parts;
  for (size_t i = 0; i < items.size(); ++i) {
    auto& p = parts[shard_of(items[i])];
    p.first.push_back(std::move(items[i]));
    p.second.push_back(i);
  }
  if (parts.size() == 1) {
    auto& [shard, part] = *parts.begin();
    send(shard, std::move(part.first), answer{std::move(done)});
    return;
  }
  struct gather {
    std::vector<Outcome> out;
    std::atomic<size_t> pending;
    std::mutex mtx;
    std::optional<error> failure;
    answer done;
  };
  auto g = std::make_shared<gather>();
  g->out.resize(items.size());
  g->pending = parts.size();
  g->done = std::move(done);
  for (auto& [shard, part] : parts) {
    send(shard, std::move(part.first),
         answer{[g, where = std::move(part.second)](result<std::vector<Outcome>> r) {
           if (r) {
             for (size_t j = 0; j < where.size() && j < r->size(); ++j) {
               g->out[where[j]] = std::move((*r)[j]);
             }
           } else {
             std::lock_guard guard{g->mtx};
             if (!g->failure) {
               g->failure = std::move(r).err();
             }
           }
           if (g->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
             if (g->failure) {
               g->done(*g->failure);
             } else {
               g->done(std::move(g->out));
             }
           }
         }});
  }
}

// Waits for a shard's answer on the calling thread (the catalog actor
// runs detached: it may block).
template <class T, class Handle, class... Ts>
result<T> call_and_wait(const Handle& h, Ts... xs) {
  return wait_for<T>([&](std::function<void(result<T>)> done) {
    call<T>(h, std::move(done), std::move(xs)...);
  });
}

std::string record_key(std::string_view name) {
  return std::string{definition_prefix} + std::string{name};
}

} // namespace

struct agg_service::op_metrics {
  metrics::histogram* latency[4] = {};
  metrics::counter* errors[4] = {};
  metrics::counter* cache_hits = nullptr;
  metrics::counter* cache_misses = nullptr;

  void observe(agg_op op, std::chrono::steady_clock::time_point since,
               uint64_t failed) {
    auto i = static_cast<size_t>(op);
    latency[i]->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
    if (failed > 0) {
      errors[i]->inc(failed);
    }
  }
};

// The catalog actor's access to the service's view.
struct catalog_access {
  static std::shared_ptr<const agg_service::catalog> snapshot(const agg_service& s) {
    return s.snapshot();
  }
  static void publish(agg_service& s, std::shared_ptr<const agg_service::catalog> c) {
    s.publish(std::move(c));
  }
  static std::shared_ptr<cell_mirror> mirror(const agg_service& s) {
    return s.mirror_->get();
  }
  static std::shared_ptr<agg_service::op_metrics> metrics_for(agg_service& s,
                                                              const std::string& name) {
    return s.metrics_for(name);
  }
};

namespace {

// True on the member whose catalog is the cluster's (and on one node).
bool holds_catalog(const directory* dir) {
  return dir == nullptr || dir->single() || dir->catalog_owner() == dir->self_index();
}

struct catalog_env {
  agg_service* svc;
  storage::engine* store;
  const directory* dir;
  // Null on one node: only members ask other members' catalogs.
  caf::actor bridge;

  bool authority() const {
    return holds_catalog(dir);
  }
};

constexpr auto catalog_sync_interval = std::chrono::seconds{2};

result<bool> define_here(const catalog_env& env, const agg::definition& def) {
  auto* svc = env.svc;
  // The table's own checks (name, durations, kind parameters).
  agg::aggregate_table check{0};
  if (auto ok = check.define(def); !ok) {
    return std::move(ok).err();
  }
  auto current = catalog_access::snapshot(*svc);
  auto old = current->find(def.name);
  if (old != current->end()) {
    if (!agg::same_shape(old->second.def, def)) {
      return error{errc::conflict, "aggregate " + def.name
                                     + " exists with another kind, parameters or "
                                       "window; drop it first"};
    }
    if (old->second.def.retention == def.retention
        && old->second.def.dedup_retention == def.dedup_retention) {
      return false;
    }
  }
  storage::write_batch b;
  b.put(storage::column::meta, record_key(def.name), agg::encode_definition(def));
  if (auto ok = env.store->write(b, storage::durability::sync); !ok) {
    return std::move(ok).err();
  }
  for (const auto& shard : svc->shards()) {
    auto r = call_and_wait<bool>(shard, define_atom_v, def);
    if (!r) {
      // The record is durable: a restart gives the shard the definition.
      spdlog::error("aggregate {}: a shard refused the definition: {}", def.name,
                    to_string(r.err()));
      return std::move(r).err();
    }
  }
  auto next = std::make_shared<agg_service::catalog>(*current);
  (*next)[def.name] = agg_service::entry{def, catalog_access::metrics_for(*svc, def.name)};
  catalog_access::publish(*svc, std::move(next));
  spdlog::info("aggregate {} {} ({})", def.name,
               old == current->end() ? "defined" : "updated", agg::to_string(def.k));
  return old == current->end();
}

result<bool> drop_here(const catalog_env& env, const std::string& name) {
  auto* svc = env.svc;
  auto current = catalog_access::snapshot(*svc);
  if (current->find(name) == current->end()) {
    return false;
  }
  storage::write_batch b;
  b.erase(storage::column::meta, record_key(name));
  if (auto ok = env.store->write(b, storage::durability::sync); !ok) {
    return std::move(ok).err();
  }
  auto next = std::make_shared<agg_service::catalog>(*current);
  next->erase(name);
  catalog_access::publish(*svc, std::move(next));
  uint64_t removed = 0;
  for (const auto& shard : svc->shards()) {
    auto r = call_and_wait<uint64_t>(shard, drop_atom_v, name);
    if (!r) {
      // The definition is gone: a restart deletes the cells left.
      return std::move(r).err();
    }
    removed += *r;
  }
  if (auto m = catalog_access::mirror(*svc)) {
    m->dropped(name);
  }
  spdlog::info("aggregate {} dropped ({} records removed)", name, removed);
  return true;
}

// Asks the catalog actor of another member and waits (the catalog actor
// runs detached: it may block).
template <class T, class... Ts>
result<T> ask_catalog(const catalog_env& env, size_t member,
                      std::chrono::milliseconds timeout, Ts... xs) {
  auto target = env.dir->catalog_of(member);
  if (!target) {
    return std::move(target).err();
  }
  return wait_for<T>([&](std::function<void(result<T>)> done) {
    ask<T>(env.bridge, caf::actor_cast<caf::actor>(*target), timeout, std::move(done),
           std::move(xs)...);
  });
}

// The cluster's catalog tells every other reachable member of a change
// before it answers; one that is not reachable catches up by its sync.
template <class... Ts>
void push(const catalog_env& env, Ts... xs) {
  if (!env.authority() || env.dir == nullptr) {
    return;
  }
  auto members = env.dir->identity().members.size();
  for (size_t i = 0; i < members; ++i) {
    if (i == env.dir->self_index()) {
      continue;
    }
    auto r = ask_catalog<bool>(env, i, env.dir->forward_timeout(), xs...);
    if (!r) {
      spdlog::warn("aggregate catalog: {} did not take a change now ({}); it "
                   "catches up when reachable",
                   env.dir->identity().members[i].name, r.err().message);
    }
  }
}

// A member's catalog made equal to the cluster's.
void sync(const catalog_env& env) {
  auto listed = ask_catalog<std::vector<std::string>>(
    env, env.dir->catalog_owner(), env.dir->forward_timeout(), list_atom_v);
  if (!listed) {
    return; // not reachable now: next time
  }
  std::map<std::string, agg::definition> wanted;
  for (const auto& text : *listed) {
    if (auto def = agg::decode_definition(text)) {
      wanted.emplace(def->name, std::move(*def));
    }
  }
  auto current = catalog_access::snapshot(*env.svc);
  for (const auto& [name, e] : *current) {
    auto it = wanted.find(name);
    if (it == wanted.end() || !agg::same_shape(it->second, e.def)) {
      if (auto r = drop_here(env, name); !r) {
        spdlog::warn("aggregate catalog: cannot drop {}: {}", name, r.err().message);
      }
    }
  }
  for (const auto& [name, def] : wanted) {
    if (auto r = define_here(env, def); !r) {
      spdlog::warn("aggregate catalog: cannot define {}: {}", name, r.err().message);
    }
  }
}

// Catalog changes, one at a time on a thread of its own: each writes its
// record synchronously, then tells every shard and waits for all. In a
// cluster, changes go to the catalog of the owner of shard 0, which makes
// them and passes them to every other member before it answers; the
// others take those and, every 2 s, make their catalog equal to its
// (to catch up on what they missed while unreachable).
caf::behavior catalog_impl(caf::event_based_actor* self, catalog_env env) {
  if (!env.authority()) {
    self->send(self, tick_atom_v);
  }
  auto define = [env](const agg::definition& def) {
    auto r = define_here(env, def);
    if (r) {
      push(env, define_atom_v, def);
    }
    return r;
  };
  auto drop = [env](const std::string& name) {
    auto r = drop_here(env, name);
    if (r) {
      push(env, drop_atom_v, name);
    }
    return r;
  };
  return {
    [define](define_atom, agg::definition& def, reply_to<bool>& reply) {
      reply.fn(define(def));
    },
    [drop](drop_atom, std::string& name, reply_to<bool>& reply) {
      reply.fn(drop(name));
    },
    [define](define_atom, agg::definition& def) -> caf::result<bool> {
      auto r = define(def);
      if (!r) {
        return to_caf_error(r.err());
      }
      return *r;
    },
    [drop](drop_atom, std::string& name) -> caf::result<bool> {
      auto r = drop(name);
      if (!r) {
        return to_caf_error(r.err());
      }
      return *r;
    },
    [env](list_atom) {
      std::vector<std::string> out;
      for (const auto& [name, e] : *catalog_access::snapshot(*env.svc)) {
        out.push_back(agg::encode_definition(e.def));
      }
      return out;
    },
    [self, env](tick_atom) {
      sync(env);
      self->delayed_send(self, catalog_sync_interval, tick_atom_v);
    },
  };
}

} // namespace

result<std::unique_ptr<agg_service>> agg_service::start(caf::actor_system& sys,
                                                        uint32_t shard_count,
                                                        agg_config cfg,
                                                        agg_shard_env env,
                                                        const directory* dir) {
  auto out = std::unique_ptr<agg_service>{new agg_service};
  out->dir_ = dir;
  out->sys_ = &sys;
  out->hooks_ = std::make_unique<merge_hooks>();
  out->mirror_ = std::make_unique<mirror_slot>();
  if (dir != nullptr && !dir->single()) {
    out->bridge_ = spawn_bridge(sys);
    out->hub_ = spawn_agg_hub(sys, *out->hooks_, *out->mirror_, dir->identity().self);
  }
  env.mirror = out->mirror_.get();
  if (env.shard.metrics == nullptr) {
    out->own_metrics_ = std::make_unique<metrics::registry>();
    env.shard.metrics = out->own_metrics_.get();
  }
  env.hooks = out->hooks_.get();
  env.cache_bytes = shard_count == 0 ? 0 : cfg.cache_bytes / shard_count;
  out->env_ = env;
  auto defs = std::make_shared<catalog>();
  auto loaded = env.shard.store->load_prefix(
    storage::column::meta, definition_prefix,
    [&](std::string_view, std::string_view v) -> result<void> {
      auto def = agg::decode_definition(v);
      if (!def) {
        return std::move(def).err();
      }
      auto name = def->name;
      (*defs)[name] = entry{std::move(*def), out->metrics_for(name)};
      return {};
    });
  if (!loaded) {
    return std::move(loaded).err();
  }
  out->catalog_ = defs;
  size_t cells = 0;
  size_t marks = 0;
  storage::write_batch orphans;
  for (uint32_t i = 0; i < shard_count; ++i) {
    agg::aggregate_table table{static_cast<uint16_t>(i), cfg.table};
    for (const auto& [name, e] : *defs) {
      if (auto ok = table.define(e.def); !ok) {
        return std::move(ok).err();
      }
    }
    if (auto ok = restore_shard(*env.shard.store, storage::column::aggregate, table,
                                "aggregate");
        !ok) {
      return std::move(ok).err();
    }
    for (auto& k : table.take_orphans()) {
      orphans.erase(storage::column::aggregate, std::move(k));
    }
    cells += table.cells();
    marks += table.marks();
    out->shards_.push_back(spawn_agg_shard(sys, std::move(table), env));
  }
  if (!orphans.empty()) {
    auto n = orphans.ops().size();
    if (auto ok = env.shard.store->write(orphans, storage::durability::sync); !ok) {
      return std::move(ok).err();
    }
    spdlog::info("aggregates: deleted {} cells of dropped aggregates", n);
  }
  out->catalog_actor_ = sys.spawn<caf::detached>(
    catalog_impl, catalog_env{out.get(), env.shard.store, dir, out->bridge_});
  spdlog::info("aggregates: {} shards, {} definitions, {} cells, {} dedup marks restored",
               shard_count, defs->size(), cells, marks);
  return out;
}

agg_service::~agg_service() = default;

std::shared_ptr<const agg_service::catalog> agg_service::snapshot() const {
  std::lock_guard guard{mtx_};
  return catalog_;
}

void agg_service::publish(std::shared_ptr<const catalog> next) {
  std::lock_guard guard{mtx_};
  catalog_ = std::move(next);
}

std::shared_ptr<agg_service::op_metrics> agg_service::metrics_for(const std::string& name) {
  auto m = std::make_shared<op_metrics>();
  auto& reg = *env_.shard.metrics;
  for (size_t i = 0; i < 4; ++i) {
    metrics::labels l{{"aggregate", name}, {"op", op_names[i]}};
    m->latency[i] = &reg.add_histogram("shoal_aggregate_op_seconds",
                                       "Aggregate operation latency by aggregate and "
                                       "operation.",
                                       metrics::latency_buckets(), l);
    m->errors[i] = &reg.add_counter("shoal_aggregate_op_errors_total",
                                    "Aggregate operations (or batch items) refused.",
                                    l);
  }
  m->cache_hits = &reg.add_counter("shoal_aggregate_cache_total",
                                   "Window reads answered from the window cache (hit) "
                                   "or merged from cells (miss).",
                                   {{"aggregate", name}, {"result", "hit"}});
  m->cache_misses = &reg.add_counter("shoal_aggregate_cache_total",
                                     "Window reads answered from the window cache "
                                     "(hit) or merged from cells (miss).",
                                     {{"aggregate", name}, {"result", "miss"}});
  return m;
}

template <class... Ts>
void agg_service::change_catalog(std::function<void(result<bool>)> done, Ts... xs) {
  if (holds_catalog(dir_)) {
    call<bool>(catalog_actor_, std::move(done), std::move(xs)...);
    return;
  }
  // The cluster's catalog makes the change and passes it to every member
  // (this one too) before it answers.
  auto owner = dir_->catalog_owner();
  auto target = dir_->catalog_of(owner);
  if (!target) {
    done(std::move(target).err());
    return;
  }
  auto members = dir_->identity().members.size();
  detail::ask_forwarded<bool>(bridge_, caf::actor_cast<caf::actor>(*target),
                              dir_->forward_timeout() * static_cast<int64_t>(members + 1),
                              dir_->identity().members[owner].name, std::move(done),
                              std::move(xs)...);
}

void agg_service::define(agg::definition def, std::function<void(result<bool>)> done) {
  change_catalog(std::move(done), define_atom_v, std::move(def));
}

void agg_service::drop(std::string name, std::function<void(result<bool>)> done) {
  change_catalog(std::move(done), drop_atom_v, std::move(name));
}

std::optional<agg::definition> agg_service::find(std::string_view name) const {
  auto c = snapshot();
  auto it = c->find(name);
  if (it == c->end()) {
    return std::nullopt;
  }
  return it->second.def;
}

std::vector<agg::definition> agg_service::list() const {
  auto c = snapshot();
  std::vector<agg::definition> out;
  for (const auto& [name, e] : *c) {
    out.push_back(e.def);
  }
  return out;
}

uint16_t agg_service::shard_of(std::string_view name, std::string_view entity) const {
  std::string k;
  k.reserve(name.size() + entity.size() + 1);
  k.append(name);
  k.push_back('\0');
  k.append(entity);
  return shard_index(k, static_cast<uint32_t>(shards_.size()));
}

uint16_t agg_service::scope_shard_of(std::string_view scope,
                                     std::string_view event_id) const {
  std::string k{"\x01"};
  k.append(scope);
  k.push_back('\0');
  k.append(event_id);
  return shard_index(k, static_cast<uint32_t>(shards_.size()));
}

namespace {

// The metrics bookkeeping of one batch: each item's (aggregate, operation)
// group, so that the batch's latency is observed once per group with the
// group's failed items. Usually one group; no per-item copies of names.
class batch_accounting {
public:
  void add(std::string_view name, agg_op op) {
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (groups_[g].op == op && groups_[g].name == name) {
        group_of_.push_back(static_cast<uint32_t>(g));
        return;
      }
    }
    groups_.push_back({std::string{name}, op, 0});
    group_of_.push_back(static_cast<uint32_t>(groups_.size() - 1));
  }

  // Counts item `i` as failed.
  void failed(size_t i) {
    ++groups_[group_of_[i]].failed;
  }

  // The metrics of item `i`'s aggregate, or nullptr if it is not defined.
  agg_service::op_metrics* metrics_of(const agg_service::catalog& c, size_t i) const {
    auto it = c.find(groups_[group_of_[i]].name);
    return it == c.end() ? nullptr : it->second.metrics.get();
  }

  agg_op op_of(size_t i) const {
    return groups_[group_of_[i]].op;
  }

  size_t size() const {
    return group_of_.size();
  }

  void observe(const agg_service::catalog& c, std::chrono::steady_clock::time_point since) {
    for (const auto& g : groups_) {
      if (auto it = c.find(g.name); it != c.end()) {
        it->second.metrics->observe(g.op, since, g.failed);
      }
    }
  }

private:
  struct group {
    std::string name;
    agg_op op;
    uint64_t failed;
  };
  std::vector<group> groups_;
  std::vector<uint32_t> group_of_;
};

} // namespace

void agg_service::merge(std::vector<agg::merge_cmd> batch,
                        std::function<void(result<std::vector<agg::merge_outcome>>)> done) {
  auto since = std::chrono::steady_clock::now();
  batch_accounting acct;
  for (const auto& m : batch) {
    acct.add(m.name, agg_op::merge);
  }
  auto measured = [this, since, acct = std::move(acct), done = std::move(done)](
                    result<std::vector<agg::merge_outcome>> r) mutable {
    for (size_t i = 0; i < acct.size(); ++i) {
      if (!r || (*r)[i].code != 0) {
        acct.failed(i);
      }
    }
    acct.observe(*snapshot(), since);
    done(std::move(r));
  };
  scatter<agg::merge_cmd, agg::merge_outcome>(
    std::move(batch),
    [this](const agg::merge_cmd& m) { return shard_of(m.name, m.entity); },
    [this](uint16_t shard, std::vector<agg::merge_cmd> part,
           std::function<void(result<std::vector<agg::merge_outcome>>)> answer) {
      route<std::vector<agg::merge_outcome>>(shard, std::move(answer), merge_atom_v,
                                             std::move(part));
    },
    std::function<void(result<std::vector<agg::merge_outcome>>)>{std::move(measured)});
}

void agg_service::read(std::vector<agg::read_query> queries, bool many,
                       std::function<void(result<std::vector<agg::read_outcome>>)> done) {
  auto since = std::chrono::steady_clock::now();
  batch_accounting acct;
  for (const auto& q : queries) {
    auto window = q.how == agg::read_query::mode::range
                  || q.how == agg::read_query::mode::last;
    acct.add(q.name, many ? agg_op::get_many : window ? agg_op::window : agg_op::get);
  }
  auto measured = [this, since, acct = std::move(acct), done = std::move(done)](
                    result<std::vector<agg::read_outcome>> r) mutable {
    auto c = snapshot();
    for (size_t i = 0; i < acct.size(); ++i) {
      if (!r || (*r)[i].code != 0) {
        acct.failed(i);
        continue;
      }
      if (acct.op_of(i) == agg_op::window) {
        if (auto* m = acct.metrics_of(*c, i)) {
          ((*r)[i].cached ? m->cache_hits : m->cache_misses)->inc();
        }
      }
    }
    acct.observe(*c, since);
    done(std::move(r));
  };
  scatter<agg::read_query, agg::read_outcome>(
    std::move(queries),
    [this](const agg::read_query& q) { return shard_of(q.name, q.entity); },
    [this](uint16_t shard, std::vector<agg::read_query> part,
           std::function<void(result<std::vector<agg::read_outcome>>)> answer) {
      route<std::vector<agg::read_outcome>>(shard, std::move(answer), get_atom_v,
                                            std::move(part));
    },
    std::function<void(result<std::vector<agg::read_outcome>>)>{std::move(measured)});
}

void agg_service::mark_seen(std::string scope, std::string event_id, duration retention,
                            std::function<void(result<bool>)> done) {
  auto shard = scope_shard_of(scope, event_id);
  route<bool>(shard, std::move(done), seen_atom_v, std::move(scope), std::move(event_id),
              retention);
}

void agg_service::scan(uint16_t shard, std::optional<agg::cell_snapshot> after,
                       uint32_t limit,
                       std::function<void(result<std::vector<agg::cell_snapshot>>)> done) {
  if (shard >= shards_.size()) {
    done(error{errc::invalid_argument, "no shard " + std::to_string(shard)});
    return;
  }
  bool has_after = after.has_value();
  call<std::vector<agg::cell_snapshot>>(shards_[shard], std::move(done), scan_atom_v,
                                        has_after,
                                        has_after ? std::move(*after) : agg::cell_snapshot{},
                                        limit);
}

void agg_service::sweep(std::function<void(result<uint64_t>)> done) {
  struct gather {
    std::atomic<uint64_t> total{0};
    std::atomic<size_t> pending;
    std::mutex mtx;
    std::optional<error> failure;
    std::function<void(result<uint64_t>)> done;
  };
  if (shards_.empty()) {
    done(uint64_t{0});
    return;
  }
  auto g = std::make_shared<gather>();
  g->pending = shards_.size();
  g->done = std::move(done);
  // Every shard sweeps, wherever it lives; an unreachable owner's shards
  // make the answer `unavailable` (the others swept all the same).
  for (size_t s = 0; s < shards_.size(); ++s) {
    route<uint64_t>(static_cast<uint16_t>(s),
                    std::function<void(result<uint64_t>)>{[g](result<uint64_t> r) {
                      if (r) {
                        g->total += *r;
                      } else {
                        std::lock_guard guard{g->mtx};
                        if (!g->failure) {
                          g->failure = std::move(r).err();
                        }
                      }
                      if (g->pending.fetch_sub(1) == 1) {
                        if (g->failure) {
                          g->done(*g->failure);
                        } else {
                          g->done(g->total.load());
                        }
                      }
                    }},
                    sweep_atom_v);
  }
}

bool agg_service::keeps_catalog() const {
  return holds_catalog(dir_);
}

result<void> agg_service::can_watch() const {
  if (!hub_) {
    return {};
  }
  if (auto hubs = member_hubs(*dir_, hub_); !hubs) {
    return std::move(hubs).err();
  }
  return {};
}

result<std::unique_ptr<merge_watch>>
agg_service::watch(std::string name, std::shared_ptr<merge_sink> sink) {
  if (!hub_) {
    auto id = hooks_->add(std::move(name),
                          [sink](const merge_event& ev) { sink->on_merge(ev); });
    sink->on_ready();
    return std::make_unique<merge_watch>(
      [hooks = hooks_.get(), id] { hooks->remove(id); });
  }
  auto hubs = member_hubs(*dir_, hub_);
  if (!hubs) {
    return std::move(hubs).err();
  }
  auto relay = spawn_merge_relay(*sys_, std::move(*hubs), dir_->forward_timeout(),
                                 std::move(name), std::move(sink));
  return std::make_unique<merge_watch>(
    [relay] { caf::anon_send_exit(relay, caf::exit_reason::user_shutdown); });
}

// A cache request may walk every cell of a member.
constexpr auto cache_timeout = std::chrono::seconds{120};

template <class T, class Atom>
void agg_service::ask_mirrors(Atom what,
                              void (cell_mirror::*local)(std::function<void(result<T>)>),
                              std::function<void(result<T>)> done) const {
  if (!hub_) {
    auto m = mirror_->get();
    if (!m) {
      done(error{errc::not_found, "no Redis mirror (start shoald with --cache-redis)"});
      return;
    }
    ((*m).*local)(std::move(done));
    return;
  }
  auto members = member_hubs(*dir_, hub_);
  if (!members) {
    done(std::move(members).err());
    return;
  }
  std::vector<caf::actor> hubs;
  for (auto& m : *members) {
    hubs.push_back(std::move(m.hub));
  }
  gather<T>(bridge_, std::move(hubs),
            std::chrono::duration_cast<std::chrono::milliseconds>(cache_timeout),
            std::function<void(result<std::vector<T>>)>{
              [done = std::move(done)](result<std::vector<T>> r) {
                if (!r) {
                  done(std::move(r).err());
                  return;
                }
                T total{};
                for (const auto& part : *r) {
                  total += part;
                }
                done(std::move(total));
              }},
            what);
}

void agg_service::cache_rebuild(std::function<void(result<uint64_t>)> done) {
  ask_mirrors<uint64_t>(rebuild_atom_v, &cell_mirror::rebuild, std::move(done));
}

void agg_service::cache_check(std::function<void(result<mirror_report>)> done) {
  ask_mirrors<mirror_report>(check_atom_v, &cell_mirror::compare, std::move(done));
}

void agg_service::stop() {
  if (hub_) {
    caf::anon_send_exit(hub_, caf::exit_reason::user_shutdown);
    hub_ = nullptr;
  }
  if (bridge_) {
    caf::anon_send_exit(bridge_, caf::exit_reason::user_shutdown);
    bridge_ = nullptr;
  }
  if (catalog_actor_) {
    caf::anon_send_exit(catalog_actor_, caf::exit_reason::user_shutdown);
    catalog_actor_ = nullptr;
  }
  // The handles stay: requests still under way get `unavailable`.
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
}

} // namespace shoal
