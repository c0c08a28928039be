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
    auto loaded = restore_shard(*env.store, storage::column::lock, table, "lock");
    if (!loaded) {
      return std::move(loaded).err();
    }
    auto held = table.take_restored();
    lock::effects orphans;
    for (auto it = held.begin(); it != held.end();) {
      std::set<uint64_t> leases;
      it->second.leases(leases);
      for (auto lease : leases) {
        if (!lease_alive(lease)) {
          it->second.release_lease(lease, env.clock->now(), orphans);
        }
      }
      it = it->second.idle(env.clock->now()) ? held.erase(it) : std::next(it);
    }
    if (!orphans.writes.empty()) {
      if (auto ok = env.store->write(to_batch(storage::column::lock,
                                              orphans.writes),
                                     storage::durability::sync);
          !ok) {
        return std::move(ok).err();
      }
    }
    held_total += held.size();
    out->shards_.push_back(
      spawn_lock_shard(sys, std::move(table), std::move(held), env));
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
