#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "actors/node.hpp"

namespace shoal::test {

/// An in-memory node without HTTP (4 shards, 2 workers), for tests of the
/// embedding APIs; fails the test and returns nullptr if it cannot start.
inline std::unique_ptr<node> start_embedded_node() {
  node_config cfg;
  cfg.http_address.clear();
  cfg.worker_threads = 2;
  cfg.shard_count = 4;
  auto n = node::start(cfg);
  if (!n) {
    ADD_FAILURE() << "node start: " << to_string(n.err());
    return nullptr;
  }
  return std::move(n).value();
}

} // namespace shoal::test
