// Locks over real HTTP against a real node: acquire, refresh, release,
// FIFO hand-off to a waiting request, wait timeout, expiry takeover, and
// restart with RocksDB (holders and increasing fences survive).

#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "tests/support/http_node.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class lock_http_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  void restart(const std::string& data_dir) {
    node_.restart(data_dir);
  }

  json call(const std::string& verb, const std::string& target,
            const json& body = nullptr, unsigned expect = 200) {
    return node_.call(verb, target, body, expect);
  }

  // Live lock actors, from the node's metrics.
  double lock_keys() {
    return node_.get()
      .metrics()
      .add_gauge("shoal_lock_keys", "Lock keys held or contended (waited for).")
      .value();
  }

  // Polls until `lock_keys()` is `n`.
  void await_lock_keys(double n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (lock_keys() != n) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << lock_keys() << " lock keys, want " << n;
      std::this_thread::sleep_for(5ms); // polling the gauge, with a deadline
    }
  }

  test::http_node node_;
};

TEST_F(lock_http_test, acquire_refresh_release) {
  auto a = call("POST", "/v1/locks/jobs.nightly", {{"ttl", "10s"}});
  auto token = a["token"].get<std::string>();
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(a["held"], true);
  EXPECT_GE(a["fence"].get<uint64_t>(), 1u);
  auto busy = call("POST", "/v1/locks/jobs.nightly", {{"ttl", "10s"}}, 409);
  EXPECT_EQ(busy["error"]["code"], "lock_held");
  auto got = call("GET", "/v1/locks/jobs.nightly");
  EXPECT_EQ(got["held"], true);
  EXPECT_FALSE(got.contains("token"));
  auto r = call("POST", "/v1/locks/jobs.nightly/refresh", {{"token", token}, {"ttl", "1m"}});
  EXPECT_GT(r["expires_at"].get<std::string>(), a["expires_at"].get<std::string>());
  EXPECT_EQ(call("POST", "/v1/locks/jobs.nightly/refresh", {{"token", "nope"}}, 409)
              ["error"]["code"],
            "lock_not_held");
  EXPECT_EQ(call("DELETE", "/v1/locks/jobs.nightly", {{"token", token}})["released"], true);
  EXPECT_EQ(call("DELETE", "/v1/locks/jobs.nightly", {{"token", token}}, 409)["error"]["code"],
            "lock_not_held");
  EXPECT_EQ(call("GET", "/v1/locks/jobs.nightly")["held"], false);
  // The token may also come in a header.
  auto b = call("POST", "/v1/locks/jobs.nightly", {});
  EXPECT_GT(b["fence"].get<uint64_t>(), a["fence"].get<uint64_t>());
  http::client c{"127.0.0.1", node_.port()};
  auto del = c.request("DELETE", "/v1/locks/jobs.nightly", "", "application/json",
                       {{"X-Shoal-Lock-Token", b["token"].get<std::string>()}});
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200u) << del->body;
}

TEST_F(lock_http_test, a_waiting_acquire_is_granted_when_the_holder_releases) {
  auto a = call("POST", "/v1/locks/k", {{"ttl", "30s"}});
  auto waiting = std::async(std::launch::async, [&] {
    return call("POST", "/v1/locks/k", {{"ttl", "30s"}, {"wait", "20s"}});
  });
  // The waiter queues; poll until it is in line.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (call("GET", "/v1/locks/k")["waiters"] != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms); // polling the queue, with a deadline
  }
  call("DELETE", "/v1/locks/k", {{"token", a["token"]}});
  auto b = waiting.get();
  EXPECT_EQ(b["held"], true);
  EXPECT_GT(b["fence"].get<uint64_t>(), a["fence"].get<uint64_t>());
  EXPECT_NE(b["token"], a["token"]);
}

TEST_F(lock_http_test, a_wait_times_out_and_an_expired_lock_is_taken_over) {
  auto a = call("POST", "/v1/locks/k", {{"ttl", "30s"}});
  auto t = call("POST", "/v1/locks/k", {{"ttl", "1s"}, {"wait", "200ms"}}, 504);
  EXPECT_EQ(t["error"]["code"], "timeout");
  call("DELETE", "/v1/locks/k", {{"token", a["token"]}});
  auto short_hold = call("POST", "/v1/locks/k", {{"ttl", "200ms"}});
  // A waiter gets the lock when the short hold expires.
  auto b = call("POST", "/v1/locks/k", {{"ttl", "10s"}, {"wait", "10s"}});
  EXPECT_GT(b["fence"].get<uint64_t>(), short_hold["fence"].get<uint64_t>());
  EXPECT_EQ(call("POST", "/v1/locks/k/refresh", {{"token", short_hold["token"]}}, 409)
              ["error"]["code"],
            "lock_not_held");
}

TEST_F(lock_http_test, bad_input_gets_clear_errors) {
  EXPECT_EQ(call("POST", "/v1/locks/a..b", {}, 400)["error"]["code"], "invalid_key");
  EXPECT_EQ(call("POST", "/v1/locks/k", {{"ttl", "0s"}}, 400)["error"]["code"], "invalid_ttl");
  EXPECT_EQ(call("POST", "/v1/locks/k", {{"ttl", "x"}}, 400)["error"]["code"], "invalid_ttl");
  EXPECT_EQ(call("POST", "/v1/locks/k", {{"wait", "-1s"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("POST", "/v1/locks/k", {{"tll", "1s"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("DELETE", "/v1/locks/k", {}, 400)["error"]["code"], "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/locks/k")["held"], false);
}

TEST_F(lock_http_test, each_held_or_contended_key_is_kept_until_it_is_free) {
  std::vector<json> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(call("POST", "/v1/locks/a" + std::to_string(i), {{"ttl", "30s"}}));
  }
  EXPECT_EQ(lock_keys(), 5);
  // A refused or invalid acquire on a free key leaves nothing behind.
  call("POST", "/v1/locks/a..b", {}, 400);
  call("POST", "/v1/locks/a0", {}, 409);
  EXPECT_EQ(call("GET", "/v1/locks/free")["held"], false);
  EXPECT_EQ(lock_keys(), 5);
  auto waiting = std::async(std::launch::async, [&] {
    return call("POST", "/v1/locks/a0", {{"ttl", "30s"}, {"wait", "20s"}});
  });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (call("GET", "/v1/locks/a0")["waiters"] != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms); // polling the queue, with a deadline
  }
  for (int i = 1; i < 5; ++i) {
    call("DELETE", "/v1/locks/a" + std::to_string(i), {{"token", held[i]["token"]}});
  }
  await_lock_keys(1);
  // The hand-off keeps a0; the last release forgets it.
  call("DELETE", "/v1/locks/a0", {{"token", held[0]["token"]}});
  auto next = waiting.get();
  EXPECT_GT(next["fence"].get<uint64_t>(), held[0]["fence"].get<uint64_t>());
  EXPECT_EQ(lock_keys(), 1);
  call("DELETE", "/v1/locks/a0", {{"token", next["token"]}});
  await_lock_keys(0);
  // An expiry forgets the key by the shard's timer, with nobody asking.
  auto brief = call("POST", "/v1/locks/brief", {{"ttl", "200ms"}});
  EXPECT_EQ(lock_keys(), 1);
  await_lock_keys(0);
  EXPECT_EQ(call("GET", "/v1/locks/brief")["held"], false);
  // A new acquire tracks it again, with a higher fence.
  auto again = call("POST", "/v1/locks/brief", {{"ttl", "1s"}});
  EXPECT_GT(again["fence"].get<uint64_t>(), brief["fence"].get<uint64_t>());
  EXPECT_EQ(lock_keys(), 1);
}

TEST_F(lock_http_test, restart_keeps_holders_and_fences_keep_increasing) {
  test::temp_dir dir{"shoal-lock-restart"};
  restart(dir / "data");
  auto a = call("POST", "/v1/locks/k", {{"ttl", "1h"}});
  auto b = call("POST", "/v1/locks/other", {{"ttl", "1h"}});
  call("DELETE", "/v1/locks/other", {{"token", b["token"]}});
  restart(dir / "data");
  auto got = call("GET", "/v1/locks/k");
  EXPECT_EQ(got["held"], true);
  EXPECT_EQ(got["expires_at"], a["expires_at"]);
  call("POST", "/v1/locks/k", {}, 409);
  call("POST", "/v1/locks/k/refresh", {{"token", a["token"]}});
  auto c = call("POST", "/v1/locks/other", {});
  EXPECT_GT(c["fence"].get<uint64_t>(), b["fence"].get<uint64_t>());
  node_.stop(); // before the data dir goes
}

} // namespace
} // namespace shoal
