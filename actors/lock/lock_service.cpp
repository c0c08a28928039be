#include "actors/lock/lock_service.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/commit.hpp"

namespace shoal {

result<std::unique_ptr<lock_service>>
lock_service::start(caf::actor_system& sys, uint32_t shard_count,
                    lock::lock_config cfg, lock_shard_env env,
                    const std::function<bool(uint64_t)>& lease_alive) {
  auto out = std::make_unique<lock_service>();
  size_t held_total = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    lock::lock_table table{static_cast<uint16_t>(i), cfg};
    auto loaded = restore_shard(*env.shard.store, storage::column::lock, table, "lock");
    if (!loaded) {
      return std::move(loaded).err();
    }
    // Holds bound to leases that ended while the node was down end now,
    // before the shard serves (applied at start: position 0).
    std::set<uint64_t> leases;
    table.leases(leases);
    lock::effects orphans;
    apply_ctx at_start{env.shard.clock->now(), 0, static_cast<uint16_t>(i)};
    for (auto lease : leases) {
      if (!lease_alive(lease)) {
        (void) table.apply(lock::lease_end_cmd{lease}, at_start, orphans);
      }
    }
    if (!orphans.records.empty()) {
      if (auto ok = env.shard.store->write(
            to_batch(storage::column::lock, std::move(orphans.records)),
            storage::durability::sync);
          !ok) {
        return std::move(ok).err();
      }
    }
    held_total += table.keys().size();
    out->shards_.push_back(spawn_lock_shard(sys, std::move(table), env));
  }
  spdlog::info("locks: {} shards, {} holds restored", shard_count, held_total);
  return out;
}

void lock_service::stop() {
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
}

} // namespace shoal
