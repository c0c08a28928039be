#include "actors/stream/stream_service.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace shoal {

result<std::unique_ptr<stream_service>>
stream_service::start(caf::actor_system& sys, uint32_t shard_count,
                      stream_service_config cfg, stream_shard_env env) {
  auto out = std::make_unique<stream_service>();
  out->store_ = env.store;
  out->cfg_ = cfg;
  env.feeds = cfg.feeds;
  env.max_read = cfg.max_read;
  size_t streams = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    auto shard = static_cast<uint16_t>(i);
    stream::stream_table table{shard, cfg.table};
    auto loaded = restore_shard(*env.store, storage::column::stream, table,
                                "stream");
    if (!loaded) {
      return std::move(loaded).err();
    }
    streams += table.size();
    out->shards_.push_back(spawn_stream_shard(sys, std::move(table), env));
  }
  spdlog::info("streams: {} shards, {} streams restored", shard_count, streams);
  return out;
}

void stream_service::stop() {
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
}

} // namespace shoal
