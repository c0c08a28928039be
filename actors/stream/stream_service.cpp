#include "actors/stream/stream_service.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace shoal {

namespace {

// The newest snapshot of `shard` that decodes, and its number; corrupt
// ones are skipped with a warning.
result<entity_start> load_snapshot(const storage::read_view& store, uint16_t shard) {
  entity_start out;
  auto first = stream::stream_table::snapshot_key(shard, 0);
  auto last = stream::stream_table::snapshot_key(shard, UINT64_MAX);
  auto scanned = store.scan(
    storage::column::stream, first, last,
    [&](std::string_view k, std::string_view v) {
      // Newest first: the first key holds the highest number.
      auto no = stream::stream_table::seq_of(k);
      out.snapshot_no = std::max(out.snapshot_no, no);
      auto m = stream::decode_snapshot(v);
      if (!m) {
        spdlog::warn("streams: shard {} snapshot {} skipped: {}", shard, no,
                     m.err().message);
        return true;
      }
      out.entities = std::move(*m);
      return false;
    },
    storage::direction::backward);
  if (!scanned) {
    return std::move(scanned).err();
  }
  return out;
}

// Folds the events of every entity stream of `table` after what `start`
// already holds.
result<size_t> replay_entities(const storage::read_view& store,
                               const stream::stream_table& table,
                               entity_start& start) {
  size_t folded = 0;
  std::string after;
  for (;;) {
    auto names = table.names(stream::entity_prefix, after, 1024);
    if (names.empty()) {
      return folded;
    }
    for (const auto& name : names) {
      auto id = std::string_view{name}.substr(stream::entity_prefix.size());
      auto info = table.info(name);
      const auto* s = start.entities.find(id);
      uint64_t next = s == nullptr ? 1 : s->seq + 1;
      while (info && next <= info->last_seq) {
        auto events = read_events(store, name, next, info->last_seq, 4096);
        if (!events) {
          return std::move(events).err();
        }
        if (events->empty()) {
          break;
        }
        for (const auto& ev : *events) {
          auto m = stream::apply_entity_event(start.entities, id, ev);
          if (!m) {
            return std::move(m).err();
          }
          start.entities = std::move(*m);
          ++folded;
        }
        next = events->back().seq + 1;
      }
    }
    after = names.back();
  }
}

} // namespace

result<std::unique_ptr<stream_service>>
stream_service::start(caf::actor_system& sys, uint32_t shard_count,
                      stream_service_config cfg, stream_shard_env env) {
  auto out = std::make_unique<stream_service>();
  out->store_ = env.shard.store;
  out->cfg_ = cfg;
  env.feeds = cfg.feeds;
  env.max_read = cfg.max_read;
  env.snapshots = cfg.snapshots;
  size_t streams = 0;
  size_t entities = 0;
  size_t folded = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    auto shard = static_cast<uint16_t>(i);
    stream::stream_table table{shard, cfg.table};
    auto loaded = restore_shard(*env.shard.store, storage::column::stream, table,
                                "stream");
    if (!loaded) {
      return std::move(loaded).err();
    }
    streams += table.size();
    auto start = load_snapshot(*env.shard.store, shard);
    if (!start) {
      return std::move(start).err();
    }
    auto n = replay_entities(*env.shard.store, table, *start);
    if (!n) {
      return std::move(n).err();
    }
    folded += *n;
    entities += start->entities.size();
    // Published before the shard runs: readers see the restored projection
    // as soon as the node is up.
    start->view = std::make_shared<entity_view>();
    start->view->root.store(
      std::make_shared<const stream::entity_map>(start->entities));
    out->views_.push_back(start->view);
    out->shards_.push_back(
      spawn_stream_shard(sys, std::move(table), env, std::move(*start)));
  }
  spdlog::info("streams: {} shards, {} streams, {} entities restored ({} events "
               "folded after the snapshots)",
               shard_count, streams, entities, folded);
  return out;
}

std::vector<std::shared_ptr<const stream::entity_map>>
stream_service::all_entities() const {
  std::vector<std::shared_ptr<const stream::entity_map>> out;
  out.reserve(views_.size());
  for (const auto& v : views_) {
    out.push_back(v->load());
  }
  return out;
}

void stream_service::stop() {
  for (auto& s : shards_) {
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
}

} // namespace shoal
