#include "actors/lease/lease_service.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/lease/live_lease.hpp"
#include "actors/sharding.hpp"

namespace shoal {

result<std::unique_ptr<lease_service>>
lease_service::restore(const storage::read_view& store, uint32_t shard_count,
                       lease::lease_config cfg) {
  auto out = std::make_unique<lease_service>();
  size_t leases = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    lease::lease_table table{static_cast<uint16_t>(i), cfg};
    auto loaded = restore_shard(store, storage::column::lease, table, "lease");
    if (!loaded) {
      return std::move(loaded).err();
    }
    leases += table.size();
    out->tables_.push_back(std::move(table));
  }
  spdlog::info("leases: {} shards, {} leases restored", shard_count, leases);
  return out;
}

bool lease_service::restored(uint64_t id) const {
  if (tables_.empty()) {
    return false;
  }
  return tables_[id % tables_.size()].contains(id);
}

void lease_service::spawn(caf::actor_system& sys, lease_shard_env env,
                          std::vector<uint16_t> owned) {
  env.shard_count = static_cast<uint32_t>(tables_.size());
  for (auto& table : tables_) {
    shards_.push_back(spawn_lease_shard(sys, std::move(table), env));
  }
  tables_.clear();
  if (owned.empty()) {
    for (size_t i = 0; i < shards_.size(); ++i) {
      owned.push_back(static_cast<uint16_t>(i));
    }
  }
  owned_ = std::move(owned);
}

void lease_service::stop() {
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
}

void with_live_lease(const lease_service& leases, uint64_t lease,
                     std::function<void(const error&)> refuse,
                     std::function<void()> then) {
  if (lease == 0) {
    then();
    return;
  }
  call<lease::lease_info>(
    leases.shard_for(lease),
    [refuse = std::move(refuse), then = std::move(then)](result<lease::lease_info> r) {
      if (!r) {
        refuse(r.err());
        return;
      }
      then();
    },
    get_atom_v, lease);
}

} // namespace shoal
