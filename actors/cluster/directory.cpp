#include "actors/cluster/directory.hpp"

namespace shoal {

struct directory::peer {
  std::atomic<std::shared_ptr<const shard_table>> shards;
  std::atomic<cluster::member_state> state{cluster::member_state::alive};
  std::atomic<uint64_t> incarnation{0};
};

directory::directory(cluster::cluster_identity id,
                     std::chrono::milliseconds forward_timeout)
  : id_(std::move(id)),
    self_(static_cast<uint16_t>(id_.self_index())),
    forward_timeout_(forward_timeout) {
  for (size_t i = 0; i < id_.members.size(); ++i) {
    peers_.push_back(std::make_unique<peer>());
  }
}

directory::~directory() = default;

result<std::shared_ptr<const shard_table>>
directory::reachable(size_t member, const std::string& what) const {
  const auto& p = *peers_[member];
  const auto& name = id_.members[member].name;
  auto state = p.state.load(std::memory_order_acquire);
  if (state == cluster::member_state::dead || state == cluster::member_state::left) {
    return fail(errc::unavailable, what + " is owned by " + name + ", which is "
                                     + std::string{cluster::to_string(state)});
  }
  auto shards = p.shards.load(std::memory_order_acquire);
  if (!shards) {
    return fail(errc::unavailable,
                what + " is owned by " + name + ", which is not connected");
  }
  return shards;
}

result<caf::strong_actor_ptr>
directory::node_actor_of(size_t member, caf::strong_actor_ptr shard_table::*field,
                         const std::string& what) const {
  auto table = reachable(member, what);
  if (!table) {
    return std::move(table).err();
  }
  if (!((**table).*field)) {
    return fail(errc::unavailable,
                what + " of " + id_.members[member].name + " is not published");
  }
  return (**table).*field;
}

result<caf::strong_actor_ptr> directory::catalog_of(size_t member) const {
  return node_actor_of(member, &shard_table::aggregate_catalog, "the aggregate catalog");
}

result<caf::strong_actor_ptr> directory::hub_of(size_t member) const {
  return node_actor_of(member, &shard_table::aggregate_hub, "the aggregate hub");
}

result<caf::strong_actor_ptr> directory::remote(shard_kind kind,
                                                uint16_t shard) const {
  auto owner = id_.shard_owner[shard];
  const auto& name = id_.members[owner].name;
  auto table = reachable(owner, "shard " + std::to_string(shard));
  if (!table) {
    return std::move(table).err();
  }
  const auto& shards = *table;
  const std::vector<caf::strong_actor_ptr>* v = nullptr;
  switch (kind) {
    case shard_kind::kv:
      v = &shards->kv;
      break;
    case shard_kind::idempotency:
      v = &shards->idempotency;
      break;
    case shard_kind::locks:
      v = &shards->locks;
      break;
    case shard_kind::leases:
      v = &shards->leases;
      break;
    case shard_kind::aggregates:
      v = &shards->aggregates;
      break;
    case shard_kind::streams:
      v = &shards->streams;
      break;
  }
  if (shard >= v->size() || !(*v)[shard]) {
    return fail(errc::unavailable, "shard " + std::to_string(shard) + " is not served by "
                                     + name);
  }
  return (*v)[shard];
}

void directory::set_shards(size_t index, std::shared_ptr<const shard_table> shards) {
  peers_[index]->shards.store(std::move(shards), std::memory_order_release);
}

void directory::set_state(size_t index, cluster::member_state state,
                          uint64_t incarnation) {
  peers_[index]->incarnation.store(incarnation, std::memory_order_relaxed);
  peers_[index]->state.store(state, std::memory_order_release);
}

std::vector<directory::member_status> directory::members() const {
  std::vector<member_status> out;
  for (size_t i = 0; i < id_.members.size(); ++i) {
    member_status m;
    m.name = id_.members[i].name;
    m.address = id_.members[i].address;
    m.state = peers_[i]->state.load(std::memory_order_acquire);
    m.incarnation = peers_[i]->incarnation.load(std::memory_order_relaxed);
    m.self = i == self_;
    m.connected = m.self || peers_[i]->shards.load() != nullptr;
    out.push_back(std::move(m));
  }
  return out;
}

} // namespace shoal
