#include "tests/support/http_node.hpp"

#include <gtest/gtest.h>

#include "net/http/client.hpp"
#include "net/http/gateway.hpp"

namespace shoal::test {

http_node::http_node(std::function<void(node_config&)> tweak)
  : tweak_(std::move(tweak)) {
}

http_node::~http_node() {
  stop();
}

void http_node::start(const std::string& data_dir) {
  node_config cfg;
  cfg.data_dir = data_dir;
  cfg.http_address = "127.0.0.1:0";
  cfg.worker_threads = 2;
  cfg.shard_count = 8;
  cfg.services.push_back(http::gateway_service());
  if (tweak_) {
    tweak_(cfg);
  }
  auto n = node::start(cfg);
  ASSERT_TRUE(n) << to_string(n.err());
  node_ = std::move(n).value();
  port_ = dynamic_cast<http::gateway*>(node_->service("http"))->port();
}

void http_node::restart(const std::string& data_dir) {
  stop();
  start(data_dir);
}

void http_node::stop() {
  if (node_) {
    node_->stop();
    node_.reset();
  }
}

nlohmann::json http_node::call(const std::string& verb,
                               const std::string& target,
                               const nlohmann::json& body, unsigned expect) {
  return raw(verb, target, body.is_null() ? "" : body.dump(), expect);
}

nlohmann::json http_node::raw(const std::string& verb, const std::string& target,
                              const std::string& body, unsigned expect) {
  http::client c{"127.0.0.1", port_, std::chrono::seconds{30}};
  auto r = c.request(verb, target, body);
  EXPECT_TRUE(r) << verb << " " << target;
  if (!r) {
    return nlohmann::json::value_t::discarded;
  }
  EXPECT_EQ(r->status, expect) << verb << " " << target << ": " << r->body;
  return nlohmann::json::parse(r->body, nullptr, false);
}

unsigned http_node::status(const std::string& verb, const std::string& target) {
  http::client c{"127.0.0.1", port_, std::chrono::seconds{30}};
  auto r = c.request(verb, target);
  return r ? r->status : 0;
}

} // namespace shoal::test
