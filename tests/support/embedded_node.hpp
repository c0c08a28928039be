#pragma once

#include <functional>
#include <memory>
#include <optional>
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

/// A fixture with an in-memory embedded node and a `Client` of it
/// (`idem_client`, `stream_client`, …), stopped after each test.
template <class Client>
class embedded_client_test : public testing::Test {
protected:
  void SetUp() override {
    node_ = start_embedded_node();
    ASSERT_NE(node_, nullptr);
    client_.emplace(*node_);
  }

  void TearDown() override {
    client_.reset();
    if (node_) {
      node_->stop();
    }
  }

  std::unique_ptr<node> node_;
  std::optional<Client> client_;
};

} // namespace shoal::test
