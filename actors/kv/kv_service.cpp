#include "actors/kv/kv_service.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace shoal {

result<std::unique_ptr<kv_service>>
kv_service::start(caf::actor_system& sys, uint32_t shard_count,
                  kv::kv_config cfg, kv_shard_env env,
                  const std::function<bool(uint64_t)>& lease_alive) {
  auto out = std::make_unique<kv_service>();
  out->env_ = env;
  size_t keys = 0;
  size_t expired = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    auto shard = static_cast<uint16_t>(i);
    kv::kv_table table{shard, cfg};
    auto loaded = restore_shard(*env.store, storage::column::kv, table, "kv");
    if (!loaded) {
      return std::move(loaded).err();
    }
    // Keys that expired while the node was down go before serving, with
    // their events in the change log.
    // Applied at start, before the shard orders commands: position 0.
    apply_ctx at_start{env.clock->now(), 0, shard};
    for (;;) {
      kv::effects fx;
      auto n = *table.apply(kv::expire_cmd{}, at_start, fx);
      if (n == 0) {
        break;
      }
      expired += n;
      if (auto ok = env.store->write(to_batch(storage::column::kv, std::move(fx.records)),
                                     storage::durability::sync);
          !ok) {
        return std::move(ok).err();
      }
    }
    kv::effects orphans;
    for (auto lease : table.leases()) {
      if (!lease_alive(lease)) {
        expired += *table.apply(kv::end_lease_cmd{lease, kv::operation::expire},
                                at_start, orphans);
      }
    }
    if (!orphans.empty()) {
      if (auto ok = env.store->write(to_batch(storage::column::kv, std::move(orphans.records)),
                                     storage::durability::sync);
          !ok) {
        return std::move(ok).err();
      }
    }
    keys += table.size();
    out->shards_.push_back(spawn_kv_shard(sys, std::move(table), env));
  }
  spdlog::info("kv: {} shards, {} keys restored, {} expired at start",
               shard_count, keys, expired);
  return out;
}

uint16_t kv_service::shard_of(std::string_view key) const {
  return shard_index(key, static_cast<uint32_t>(shards_.size()));
}

void kv_service::stop() {
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
}

} // namespace shoal
