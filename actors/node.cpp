#include "actors/node.hpp"

#include <atomic>
#include <random>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/ask.hpp"
#include "actors/cluster/membership_actor.hpp"
#include "actors/clock.hpp"
#include "actors/error_bridge.hpp"
#include "actors/lease/lease_reconciler.hpp"

namespace shoal {

namespace {

constexpr const char* node_id_key = "node/id";
constexpr const char* identity_key = "cluster/identity";

class system_config : public caf::actor_system_config {
public:
  explicit system_config(const node_config& cfg) {
    load<caf::io::middleman>();
    add_message_types<caf::id_block::shoal>();
    // Renders shoal errors through the one decoder, error_bridge.
    add_error_category(caf::atom("shoal"),
                       [](uint8_t code, caf::atom_value category,
                          const caf::message& ctx) {
                         return to_string(from_caf_error(
                           caf::error{code, category, ctx}));
                       });
    auto workers = cfg.worker_threads != 0
                     ? cfg.worker_threads
                     : std::max<size_t>(1, std::thread::hardware_concurrency() / 2);
    set("scheduler.max-threads", workers);
    // An idle worker spins briefly and then sleeps until work is queued
    // for it. CAF's default polls every 50 us for a while first, which
    // costs a wake-up per poll: over a quarter of the worker's CPU when a
    // watch fans one change out to 1,000 watchers, and CPU on an idle node.
    set("work-stealing.moderate-poll-attempts", size_t{0});
    // Detect hung peers: CAF leaves heartbeats off by default.
    set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds{1}});
    set("middleman.connection-timeout", caf::timespan{std::chrono::seconds{5}});
    set("logger.verbosity", caf::atom("quiet"));
  }
};

struct node_actor_state {
  static inline const char* name = "shoal.node";
};

node_actor::behavior_type
node_actor_impl(node_actor::stateful_pointer<node_actor_state>,
                std::function<node_info()> info,
                std::function<shard_table()> shards, membership_actor membership) {
  return {
    [info](info_atom) { return info(); },
    [shards](shards_atom) { return shards(); },
    [membership](gossip_atom, cluster::message& m) {
      if (membership) {
        caf::anon_send(membership, gossip_atom_v, std::move(m));
      }
    },
  };
}

template <class Handle>
std::vector<caf::strong_actor_ptr> owned(const std::vector<Handle>& shards,
                                         const cluster::cluster_identity& id) {
  std::vector<caf::strong_actor_ptr> out(shards.size());
  auto self = id.self_index();
  for (size_t s = 0; s < shards.size() && s < id.shard_owner.size(); ++s) {
    if (id.shard_owner[s] == self) {
      out[s] = caf::actor_cast<caf::strong_actor_ptr>(shards[s]);
    }
  }
  return out;
}

// The identity this node runs with: derived from the initial cluster (and
// checked against the data dir's), or the data dir's, or a new one-node
// identity. Fills in the cluster address from it.
result<cluster::cluster_identity>
resolve_identity(node_config& c, const std::string& node_id,
                 const std::optional<std::string>& stored_bytes) {
  std::optional<cluster::cluster_identity> stored;
  if (stored_bytes) {
    auto decoded = cluster::decode_identity(*stored_bytes);
    if (!decoded) {
      return std::move(decoded).err();
    }
    stored = std::move(*decoded);
  }
  cluster::cluster_identity derived;
  if (!c.initial_cluster.empty()) {
    if (node_id != c.name) {
      return fail(errc::invalid_argument, "the data dir belongs to node '" + node_id
                                            + "', but this node is named '"
                                            + c.name + "'");
    }
    auto members = cluster::parse_initial_cluster(c.initial_cluster);
    if (!members) {
      return std::move(members).err();
    }
    auto d = cluster::derive_identity(c.name, std::move(*members), c.shard_count);
    if (!d) {
      return std::move(d).err();
    }
    derived = std::move(*d);
  } else if (stored && stored->members.size() > 1) {
    // A member restarted without its flags keeps its cluster.
    derived = *stored;
    if (derived.shard_owner.size() != c.shard_count) {
      return fail(errc::invalid_argument,
                  "the data dir belongs to cluster " + stored->cluster_id + " with "
                    + std::to_string(stored->shard_owner.size())
                    + " shards, but this node is configured with "
                    + std::to_string(c.shard_count));
    }
  } else {
    derived = cluster::single_node_identity(node_id, "", c.shard_count);
  }
  if (stored) {
    if (auto ok = cluster::check_identity(*stored, derived); !ok) {
      return std::move(ok).err();
    }
  }
  if (derived.members.size() > 1) {
    const auto& own = derived.members[derived.self_index()].address;
    if (c.cluster_address.empty()) {
      c.cluster_address = own;
    } else if (c.cluster_address != own) {
      return fail(errc::invalid_argument,
                  "the cluster address " + c.cluster_address + " differs from "
                    + derived.self + "'s address in the cluster, " + own);
    }
  }
  return derived;
}

std::string random_node_id() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(dist(rd)));
  return std::string{"n-"} + buf;
}

} // namespace

const char* version() {
  return "0.1.0";
}

result<std::pair<std::string, uint16_t>>
parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return fail(errc::invalid_argument,
                "address must be host:port, got '" + text + "'");
  }
  auto host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  for (auto c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') {
      return fail(errc::invalid_argument, "invalid port in '" + text + "'");
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port > 65535) {
      return fail(errc::invalid_argument, "port out of range in '" + text + "'");
    }
  }
  return std::pair{host, static_cast<uint16_t>(port)};
}

struct node::impl {
  node_config cfg;
  system_clock wall_clock;
  // `cfg.clock`, or the wall clock.
  const clock_source* clock = &wall_clock;
  metrics::registry registry;
  std::unique_ptr<storage::engine> store;
  std::unique_ptr<storage::committer> commits;
  std::unique_ptr<system_config> caf_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<directory> dir;
  membership_actor membership;
  node_actor self_handle;
  std::unique_ptr<kv_service> kv;
  std::unique_ptr<idem_service> idempotency;
  std::unique_ptr<lock_service> locks;
  std::unique_ptr<lease_service> leases;
  std::unique_ptr<agg_service> aggregates;
  std::unique_ptr<stream_service> streams;
  std::vector<caf::actor> bridges;
  caf::actor lease_reconciler;
  mutable std::atomic<size_t> next_bridge{0};
  std::string id;
  uint16_t cluster_port = 0;
  time_point started;
  std::vector<std::unique_ptr<node_service>> services;
  std::atomic<bool> ready{false};
  bool stopped = false;

  shard_table make_shard_table() const {
    const auto& id = dir->identity();
    shard_table t;
    t.cluster_id = id.cluster_id;
    t.member = id.self;
    t.kv = owned(kv->shards(), id);
    t.idempotency = owned(idempotency->shards(), id);
    t.locks = owned(locks->shards(), id);
    t.leases = owned(leases->shards(), id);
    t.aggregates = owned(aggregates->shards(), id);
    t.streams = owned(streams->shards(), id);
    t.aggregate_catalog = caf::actor_cast<caf::strong_actor_ptr>(aggregates->catalog_actor());
    t.aggregate_hub = caf::actor_cast<caf::strong_actor_ptr>(aggregates->hub_actor());
    return t;
  }

  node_info make_info() const {
    node_info out;
    out.version = version();
    out.node_id = id;
    out.data_dir = cfg.data_dir;
    out.storage = cfg.data_dir.empty() ? "memory" : "rocksdb";
    out.sync_mode = std::string{storage::to_string(cfg.sync)};
    out.shard_count = cfg.shard_count;
    out.started_unix_nanos = to_unix_nanos(started);
    out.now_unix_nanos = to_unix_nanos(clock->now());
    return out;
  }
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

node::~node() {
  stop();
}

result<std::unique_ptr<node>> node::start(node_config cfg) {
  if (cfg.shard_count == 0 || cfg.shard_count > 4096) {
    return fail(errc::invalid_argument, "shard count must be 1..4096");
  }
  auto p = std::make_unique<impl>();
  p->cfg = std::move(cfg);
  if (p->cfg.clock != nullptr) {
    p->clock = p->cfg.clock;
  }
  p->started = p->clock->now();
  auto& c = p->cfg;

  // Storage first: a node that cannot open its data dir does nothing else.
  if (c.data_dir.empty()) {
    p->store = storage::make_memory_engine();
  } else {
    auto opened = storage::open_rocksdb_engine({c.data_dir});
    if (!opened) {
      return std::move(opened).err();
    }
    p->store = std::move(opened).value();
  }
  // Checked before a random node id could be kept in the data dir.
  if (!c.initial_cluster.empty() && c.name.empty()) {
    return fail(errc::invalid_argument,
                "a member of an initial cluster needs a name (--name)");
  }
  auto stored_id = p->store->get(storage::column::meta, node_id_key);
  if (!stored_id) {
    return std::move(stored_id).err();
  }
  if (*stored_id) {
    p->id = **stored_id;
  } else {
    p->id = c.name.empty() ? random_node_id() : c.name;
    storage::write_batch b;
    b.put(storage::column::meta, node_id_key, p->id);
    if (auto ok = p->store->write(b, storage::durability::sync); !ok) {
      return std::move(ok).err();
    }
  }
  auto stored_identity = p->store->get(storage::column::meta, identity_key);
  if (!stored_identity) {
    return std::move(stored_identity).err();
  }
  auto identity = resolve_identity(c, p->id, *stored_identity);
  if (!identity) {
    return std::move(identity).err();
  }
  if (!*stored_identity) {
    storage::write_batch b;
    b.put(storage::column::meta, identity_key, cluster::encode_identity(*identity));
    if (auto ok = p->store->write(b, storage::durability::sync); !ok) {
      return std::move(ok).err();
    }
  }
  p->dir = std::make_unique<directory>(std::move(*identity), c.forward_timeout);
  p->commits = std::make_unique<storage::committer>(*p->store, c.sync,
                                                    &p->registry);

  p->caf_cfg = std::make_unique<system_config>(c);
  p->sys = std::make_unique<caf::actor_system>(*p->caf_cfg);
  // Unexpected messages are logged, not printed to stdout.
  auto* raw = p.get();
  if (!p->dir->single()) {
    membership_env menv;
    menv.dir = p->dir.get();
    menv.config = c.membership;
    p->membership = spawn_membership(*p->sys, menv);
  }
  p->self_handle = p->sys->spawn(
    node_actor_impl, std::function<node_info()>{[raw] { return raw->make_info(); }},
    std::function<shard_table()>{[raw] { return raw->make_shard_table(); }},
    p->membership);

  auto result_node = std::unique_ptr<node>{new node{std::move(p)}};
  auto& im = *result_node->impl_;
  // Leases load first: keys and holds bound to one that ended before a
  // crash go while the kv and lock shards restore. The lease actors start
  // last, once the shards they notify exist.
  auto leases = lease_service::restore(*im.store, c.shard_count, c.leases);
  if (!leases) {
    result_node->stop();
    return std::move(leases).err();
  }
  im.leases = std::move(*leases);
  // A lease another member owns is not in this node's storage: keys and
  // holds bound to it stay, and the reconciler ends them if it is gone.
  std::function<bool(uint64_t)> lease_alive =
    [raw = im.leases.get(), dir = im.dir.get(), n = c.shard_count](uint64_t id) {
      return !dir->is_local(static_cast<uint16_t>(id % n)) || raw->restored(id);
    };
  kv_shard_env env{im.store.get(), im.commits.get(), im.clock, &im.registry};
  auto kv = kv_service::start(*im.sys, c.shard_count, c.kv, env, lease_alive);
  if (!kv) {
    result_node->stop();
    return std::move(kv).err();
  }
  im.kv = std::move(*kv);
  auto idem = idem_service::start(
    *im.sys, c.shard_count, c.idempotency,
    idem_shard_env{im.store.get(), im.commits.get(), im.clock, &im.registry,
                   std::chrono::seconds{1}});
  if (!idem) {
    result_node->stop();
    return std::move(idem).err();
  }
  im.idempotency = std::move(*idem);
  auto locks = lock_service::start(
    *im.sys, c.shard_count, c.locks,
    lock_shard_env{shard_env{im.store.get(), im.commits.get(), im.clock, &im.registry}},
    lease_alive);
  if (!locks) {
    result_node->stop();
    return std::move(locks).err();
  }
  im.locks = std::move(*locks);
  auto aggs = agg_service::start(
    *im.sys, c.shard_count, c.aggregates,
    agg_shard_env{shard_env{im.store.get(), im.commits.get(), im.clock, &im.registry,
                            std::chrono::seconds{1}}},
    im.dir.get());
  if (!aggs) {
    result_node->stop();
    return std::move(aggs).err();
  }
  im.aggregates = std::move(*aggs);
  auto streams = stream_service::start(
    *im.sys, c.shard_count, c.streams,
    stream_shard_env{shard_env{im.store.get(), im.commits.get(), im.clock, &im.registry,
                               std::chrono::seconds{1}}});
  if (!streams) {
    result_node->stop();
    return std::move(streams).err();
  }
  im.streams = std::move(*streams);
  lease_shard_env lease_env;
  lease_env.shard = shard_env{im.store.get(), im.commits.get(), im.clock, &im.registry,
                              std::chrono::milliseconds{20}};
  // Runs on a lease shard's thread: messages sent here reach each shard
  // after anything that shard sent on behalf of a caller that saw the
  // lease alive (locally, or delegated by `bind` to another member). Every
  // member's shards hear of the end; one that is unreachable now catches up
  // through its reconciler.
  lease_env.on_end = [kv_shards = im.kv->shards(), lock_shards = im.locks->shards(),
                      dir = im.dir.get()](uint64_t id, bool expired) {
    for (const auto& s : kv_shards) {
      caf::anon_send(s, lease_end_atom_v, id, expired);
    }
    for (const auto& s : lock_shards) {
      caf::anon_send(s, lease_end_atom_v, id, expired);
    }
    if (dir->single()) {
      return;
    }
    for (auto kind : {shard_kind::kv, shard_kind::locks}) {
      for (size_t s = 0; s < kv_shards.size(); ++s) {
        auto shard = static_cast<uint16_t>(s);
        if (dir->is_local(shard)) {
          continue;
        }
        if (auto remote = dir->remote(kind, shard)) {
          caf::anon_send(caf::actor_cast<caf::actor>(*remote), lease_end_atom_v, id,
                         expired);
        }
      }
    }
  };
  std::vector<uint16_t> owned_leases;
  for (uint32_t s = 0; s < c.shard_count; ++s) {
    if (im.dir->is_local(static_cast<uint16_t>(s))) {
      owned_leases.push_back(static_cast<uint16_t>(s));
    }
  }
  im.leases->spawn(*im.sys, std::move(lease_env), std::move(owned_leases));
  if (!im.dir->single()) {
    lease_reconciler_env renv;
    renv.dir = im.dir.get();
    renv.leases = im.leases.get();
    for (const auto& s : im.kv->shards()) {
      renv.bound.push_back(caf::actor_cast<caf::actor>(s));
    }
    for (const auto& s : im.locks->shards()) {
      renv.bound.push_back(caf::actor_cast<caf::actor>(s));
    }
    im.lease_reconciler = spawn_lease_reconciler(*im.sys, std::move(renv));
  }
  for (size_t i = 0; i < 4; ++i) {
    im.bridges.push_back(spawn_bridge(*im.sys));
  }
  if (!c.cluster_address.empty()) {
    auto hp = parse_host_port(c.cluster_address);
    if (!hp) {
      return std::move(hp).err();
    }
    auto published = im.sys->middleman().publish(im.self_handle, hp->second,
                                                  hp->first.c_str(), true);
    if (!published) {
      return fail(errc::unavailable, "cannot publish on " + c.cluster_address
                                       + ": " + im.sys->render(published.error()));
    }
    im.cluster_port = *published;
  }

  im.registry.add_gauge_fn("shoal_uptime_seconds", "Seconds since start.",
                           [raw = &im] {
                             return std::chrono::duration<double>(
                                      raw->clock->now() - raw->started)
                               .count();
                           });
  im.registry.add_gauge_fn("shoal_shards", "Shards per primitive.",
                           [n = c.shard_count] { return double(n); });

  for (auto& factory : c.services) {
    auto svc = factory(*result_node);
    if (!svc) {
      continue;
    }
    if (auto ok = svc->start(); !ok) {
      result_node->stop();
      return std::move(ok).err();
    }
    spdlog::debug("service {} started", svc->name());
    im.services.push_back(std::move(svc));
  }
  im.ready = true;
  return result_node;
}

void node::stop() {
  auto& im = *impl_;
  if (im.stopped) {
    return;
  }
  im.stopped = true;
  im.ready = false;
  // Reverse order of start: services (drain HTTP), actors, storage.
  for (auto i = im.services.rbegin(); i != im.services.rend(); ++i) {
    (*i)->stop();
  }
  if (im.sys) {
    if (im.membership) {
      // Tell the other members before going: they stop routing here at
      // once instead of after failure detection.
      caf::scoped_actor self{*im.sys};
      self->request(im.membership, std::chrono::seconds{1}, leave_atom_v)
        .receive([](bool) {}, [](caf::error&) {});
      caf::anon_send_exit(im.membership, caf::exit_reason::user_shutdown);
      im.membership = nullptr;
    }
    if (im.cluster_port != 0) {
      im.sys->middleman().unpublish(im.self_handle, im.cluster_port);
    }
    if (im.kv) {
      im.kv->stop();
    }
    if (im.idempotency) {
      im.idempotency->stop();
    }
    if (im.locks) {
      im.locks->stop();
    }
    if (im.lease_reconciler) {
      caf::anon_send_exit(im.lease_reconciler, caf::exit_reason::user_shutdown);
      im.lease_reconciler = nullptr;
    }
    if (im.leases) {
      im.leases->stop();
    }
    if (im.aggregates) {
      im.aggregates->stop();
    }
    if (im.streams) {
      im.streams->stop();
    }
    for (auto& b : im.bridges) {
      caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
    }
    im.bridges.clear();
    caf::anon_send_exit(im.self_handle, caf::exit_reason::user_shutdown);
    im.self_handle = nullptr;
    im.sys->await_all_actors_done();
  }
  im.services.clear();
  im.commits->stop();
  if (auto ok = im.store->flush(); !ok) {
    spdlog::warn("flush at shutdown failed: {}", to_string(ok.err()));
  }
  im.store->close();
  im.sys.reset();
}

const node_config& node::config() const {
  return impl_->cfg;
}

caf::actor_system& node::system() {
  return *impl_->sys;
}

node_actor node::handle() const {
  return impl_->self_handle;
}

caf::actor node::bridge() const {
  auto& b = impl_->bridges;
  return b[impl_->next_bridge.fetch_add(1, std::memory_order_relaxed) % b.size()];
}

const kv_service& node::kv() const {
  return *impl_->kv;
}

const idem_service& node::idempotency() const {
  return *impl_->idempotency;
}

const lock_service& node::locks() const {
  return *impl_->locks;
}

const lease_service& node::leases() const {
  return *impl_->leases;
}

agg_service& node::aggregates() const {
  return *impl_->aggregates;
}

const stream_service& node::streams() const {
  return *impl_->streams;
}

const directory& node::placement() const {
  return *impl_->dir;
}

uint64_t node::on_merge(std::string name, merge_hooks::callback fn) {
  return impl_->aggregates->hooks().add(std::move(name), std::move(fn));
}

bool node::remove_merge_hook(uint64_t id) {
  return impl_->aggregates->hooks().remove(id);
}

const std::string& node::id() const {
  return impl_->id;
}

uint16_t node::cluster_port() const {
  return impl_->cluster_port;
}

node_info node::info() const {
  return impl_->make_info();
}

metrics::registry& node::metrics() {
  return impl_->registry;
}

storage::engine& node::store() {
  return *impl_->store;
}

storage::committer& node::committer() {
  return *impl_->commits;
}

const clock_source& node::clock() const {
  return *impl_->clock;
}

bool node::is_ready() const {
  return impl_->ready;
}

node_service* node::service(const std::string& name) {
  for (auto& s : impl_->services) {
    if (s->name() == name) {
      return s.get();
    }
  }
  return nullptr;
}

result<node_actor> node::connect(const std::string& host, uint16_t port) {
  auto r = impl_->sys->middleman().remote_actor<node_actor>(host, port);
  if (!r) {
    return error{errc::unavailable, "cannot connect to " + host + ":"
                                      + std::to_string(port) + ": "
                                      + impl_->sys->render(r.error())};
  }
  return *r;
}

} // namespace shoal
