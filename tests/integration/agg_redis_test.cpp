// The Redis mirror of aggregates against a real redis-server started by
// the test: write-through of merged cells with their expiry, check, a
// server restart (empty) followed by the automatic repopulate, merges
// while the server is down, FLUSHALL then repopulate on demand, and drop.


#include <csignal>
#include <thread>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

#include "net/redis/redis_mirror.hpp"
#include "tests/support/http_node.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// Polls `pred` until it holds or 10 s passed.
bool eventually(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(20ms); // poll until the deadline
  }
  return pred();
}

TEST(agg_redis, the_mirror_follows_merges_and_rebuilds_after_a_restart) {
  test::temp_dir dir{"shoal-redis"};
  auto port = test::free_port();
  auto server = std::make_unique<test::redis_server>(SHOAL_REDIS_SERVER, port, dir.path());
  ASSERT_TRUE(server->ready());
  test::http_node n{[port](node_config& cfg) {
    cache::redis_mirror_config m;
    m.address = "127.0.0.1:" + std::to_string(port);
    m.retry = 100ms;
    cfg.services.push_back(cache::redis_mirror_service(m));
  }};
  n.start();
  n.call("PUT", "/v1/aggregates/views", {{"kind", "sum"}, {"window", "1h"}, {"retention", "2h"}},
         201);
  n.call("PUT", "/v1/aggregates/uniq", {{"kind", "hll"}}, 201);
  for (int i = 0; i < 5; ++i) {
    n.call("POST", "/v1/aggregates/views/merge", {{"entity", "home"}, {"delta", 3}});
    n.call("POST", "/v1/aggregates/uniq/merge",
           {{"entity", "site"}, {"delta", "u" + std::to_string(i)}});
  }
  auto bucket = n.call("GET", "/v1/aggregates/views/home")["from"].get<int64_t>();
  auto views_key = "shoal:agg:views:home:" + std::to_string(bucket);
  test::redis_peek peek{port};
  ASSERT_TRUE(eventually([&] { return peek.get(views_key) == "15"; }));
  long long ttl = 0;
  peek.get(views_key, &ttl);
  // The bucket ends within the hour and lives 2 h more.
  EXPECT_GT(ttl, 2 * 3600 * 1000LL - 60'000);
  EXPECT_LE(ttl, 3 * 3600 * 1000LL);
  EXPECT_TRUE(eventually([&] { return peek.get("shoal:agg:uniq:site:0") == R"({"estimate":5})"; }));
  auto check = n.call("POST", "/v1/cache/check");
  EXPECT_EQ(check["cells"], 2);
  EXPECT_EQ(check["in_sync"], true);

  // The server restarts empty; merges made meanwhile are not lost to it.
  server->kill();
  n.call("POST", "/v1/aggregates/views/merge", {{"entity", "home"}, {"delta", 1}});
  n.call("POST", "/v1/aggregates/views/merge", {{"entity", "blog"}, {"delta", 2}});
  n.call("POST", "/v1/cache/check", nullptr, 503);
  server = std::make_unique<test::redis_server>(SHOAL_REDIS_SERVER, port, dir.path());
  ASSERT_TRUE(server->ready());
  test::redis_peek again{port};
  ASSERT_TRUE(eventually([&] { return again.get(views_key) == "16"; }));
  EXPECT_TRUE(eventually([&] {
    auto c = n.call("POST", "/v1/cache/check");
    return c["in_sync"] == true && c["cells"] == 3;
  }));

  // Lost behind its back: the check says so, repopulate fixes it.
  again.command("FLUSHALL");
  auto lost = n.call("POST", "/v1/cache/check");
  EXPECT_EQ(lost["missing"], 3);
  EXPECT_EQ(lost["in_sync"], false);
  EXPECT_EQ(n.call("POST", "/v1/cache/repopulate")["cells"], 3);
  EXPECT_EQ(n.call("POST", "/v1/cache/check")["in_sync"], true);
  EXPECT_EQ(again.get("shoal:agg:views:blog:" + std::to_string(bucket)), "2");

  // A drop removes the aggregate's keys, and only its: the keys of
  // `views:hot` start with `views:` too.
  n.call("PUT", "/v1/aggregates/views:hot", {{"kind", "sum"}}, 201);
  n.call("POST", "/v1/aggregates/views:hot/merge", {{"entity", "home"}, {"delta", 7}});
  ASSERT_TRUE(eventually([&] { return again.get("shoal:agg:views:hot:home:0") == "7"; }));
  n.call("DELETE", "/v1/aggregates/views");
  EXPECT_TRUE(eventually([&] { return !again.get(views_key).has_value(); }));
  EXPECT_EQ(again.get("shoal:agg:views:hot:home:0"), "7");
  auto after_drop = n.call("POST", "/v1/cache/check");
  EXPECT_EQ(after_drop["cells"], 2) << after_drop.dump();
  EXPECT_EQ(after_drop["in_sync"], true) << after_drop.dump();
  n.stop();
}

TEST(agg_redis, without_a_mirror_the_cache_routes_are_not_found) {
  test::http_node n;
  n.start();
  n.call("POST", "/v1/cache/check", nullptr, 404);
  n.call("POST", "/v1/cache/repopulate", nullptr, 404);
}

} // namespace
} // namespace shoal
