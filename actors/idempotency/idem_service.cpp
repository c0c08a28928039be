#include "actors/idempotency/idem_service.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace shoal {

result<std::unique_ptr<idem_service>>
idem_service::start(caf::actor_system& sys, uint32_t shard_count,
                    idem::idem_config cfg, idem_shard_env env) {
  auto out = std::make_unique<idem_service>();
  size_t records = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    auto shard = static_cast<uint16_t>(i);
    idem::idempotency_table table{shard, cfg};
    auto loaded = restore_shard(*env.store, storage::column::idempotency,
                                table, "idempotency");
    if (!loaded) {
      return std::move(loaded).err();
    }
    records += table.size();
    out->shards_.push_back(spawn_idem_shard(sys, std::move(table), env));
  }
  spdlog::info("idempotency: {} shards, {} records restored", shard_count,
               records);
  return out;
}

void idem_service::stop() {
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
}

} // namespace shoal
