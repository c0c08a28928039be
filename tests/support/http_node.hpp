#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/node.hpp"

namespace shoal::test {

/// A node with its HTTP gateway on an ephemeral port, for integration
/// tests: in memory, or on RocksDB in a data dir, restartable.
class http_node {
public:
  /// `tweak` adjusts the configuration (shards, limits) before each start.
  explicit http_node(std::function<void(node_config&)> tweak = {});
  ~http_node();

  /// Starts on `data_dir` ("" = in memory); fails the test on error.
  void start(const std::string& data_dir = {});
  void restart(const std::string& data_dir);
  void stop();

  node& get() {
    return *node_;
  }

  uint16_t port() const {
    return port_;
  }

  /// Sends `body` as JSON (null: no body), expects status `expect`, and
  /// returns the parsed answer (discarded JSON on failure).
  nlohmann::json call(const std::string& verb, const std::string& target,
                      const nlohmann::json& body = nullptr,
                      unsigned expect = 200);

  /// The same with a raw body.
  nlohmann::json raw(const std::string& verb, const std::string& target,
                     const std::string& body, unsigned expect);

  /// The status of a bodiless request (0 if it failed), for polling.
  unsigned status(const std::string& verb, const std::string& target);

private:
  std::function<void(node_config&)> tweak_;
  std::unique_ptr<node> node_;
  uint16_t port_ = 0;
};

} // namespace shoal::test
