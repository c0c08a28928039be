// Fencing enforced by the node: 32 clients contend for one lock and each
// does a read-modify-write of a kv counter carrying its fence; a holder
// paused past its TTL finds its late write refused with `fenced`.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/http/client.hpp"
#include "tests/support/http_node.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string fence_query(const json& lock) {
  return "fence_lock=counter.lock&fence_token="
         + std::to_string(lock["fence"].get<uint64_t>());
}

TEST(fencing_http, contending_clients_increment_a_fenced_counter_exactly) {
  test::http_node node;
  node.start();
  node.raw("PUT", "/v1/kv/counter", "0", 200);
  constexpr int clients = 32;
  constexpr int rounds = 8;
  std::atomic<int> sections{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&] {
      http::client c{"127.0.0.1", node.port(), 60s};
      for (int r = 0; r < rounds; ++r) {
        auto acq = c.request("POST", "/v1/locks/counter.lock",
                             R"({"ttl":"30s","wait":"60s"})");
        if (!acq || acq->status != 200) {
          ++failures;
          continue;
        }
        auto lock = json::parse(acq->body);
        auto got = c.request("GET", "/v1/kv/counter?raw");
        if (!got || got->status != 200) {
          ++failures;
          continue;
        }
        auto next = std::to_string(std::stoll(got->body) + 1);
        auto put = c.request("PUT", "/v1/kv/counter?" + fence_query(lock), next,
                             "application/octet-stream");
        if (put && put->status == 200) {
          ++sections;
        } else {
          ++failures;
        }
        auto rel = c.request("DELETE", "/v1/locks/counter.lock",
                             json{{"token", lock["token"]}}.dump());
        if (!rel || rel->status != 200) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(sections.load(), clients * rounds);
  http::client c{"127.0.0.1", node.port()};
  auto final_value = c.request("GET", "/v1/kv/counter?raw");
  ASSERT_TRUE(final_value);
  EXPECT_EQ(final_value->body, std::to_string(sections.load()));
  node.stop();
}

TEST(fencing_http, a_holder_paused_past_its_ttl_is_fenced) {
  test::http_node node;
  node.start();
  auto a = node.call("POST", "/v1/locks/counter.lock", {{"ttl", "200ms"}});
  node.raw("PUT", "/v1/kv/counter?" + fence_query(a), "a1", 200);
  // `a` stops (a GC pause, a stalled VM); `b` waits for the lock and gets
  // it once a's TTL has passed.
  auto b = node.call("POST", "/v1/locks/counter.lock",
                     {{"ttl", "30s"}, {"wait", "10s"}});
  ASSERT_GT(b["fence"].get<uint64_t>(), a["fence"].get<uint64_t>());
  node.raw("PUT", "/v1/kv/counter?" + fence_query(b), "b1", 200);
  // `a` wakes up and writes as if it still held the lock.
  auto late = node.raw("PUT", "/v1/kv/counter?" + fence_query(a), "a2", 409);
  EXPECT_EQ(late["error"]["code"], "fenced");
  EXPECT_EQ(late["error"]["current"], b["fence"]);
  auto late_delete =
    node.call("DELETE", "/v1/kv/counter?" + fence_query(a), nullptr, 409);
  EXPECT_EQ(late_delete["error"]["code"], "fenced");
  EXPECT_EQ(node.call("GET", "/v1/kv/counter")["value"], "YjE="); // "b1"
  EXPECT_EQ(node.call("POST", "/v1/locks/counter.lock/refresh",
                      {{"token", a["token"]}}, 409)["error"]["code"],
            "lock_not_held");
  // Half a fence, or a token that is not a number, is bad input.
  EXPECT_EQ(node.raw("PUT", "/v1/kv/counter?fence_lock=counter.lock", "x", 400)
              ["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(node.raw("PUT", "/v1/kv/counter?fence_lock=counter.lock&fence_token=x",
                     "x", 400)["error"]["code"],
            "invalid_argument");
  node.stop();
}

} // namespace
} // namespace shoal
