#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "actors/node.hpp"

namespace shoal::test {

/// A node without HTTP (4 shards, 2 workers), for tests of the embedding
/// APIs: in memory, or on RocksDB in `data_dir` (restart tests start it
/// again on the same one); `tweak` adjusts the configuration. Fails the
/// test and returns nullptr if it cannot start.
inline std::unique_ptr<node>
start_embedded_node(const std::string& data_dir = {},
                    const std::function<void(node_config&)>& tweak = {}) {
  node_config cfg;
  cfg.data_dir = data_dir;
  cfg.http_address.clear();
  cfg.worker_threads = 2;
  cfg.shard_count = 4;
  if (tweak) {
    tweak(cfg);
  }
  auto n = node::start(cfg);
  if (!n) {
    ADD_FAILURE() << "node start: " << to_string(n.err());
    return nullptr;
  }
  return std::move(n).value();
}

} // namespace shoal::test
