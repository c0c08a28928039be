// Sessions over a real WebSocket: the lease granted with the socket, locks
// and lease-bound puts over the same socket, keep-alive messages and pings
// renewing the lease, bad messages answered without closing, and a killed
// socket releasing nothing before the lease's TTL.

#include <chrono>
#include <functional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/http/client.hpp"
#include "tests/support/http_node.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

class session_ws_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  http::ws_client open(const std::string& query) {
    auto ws = http::ws_client::connect("127.0.0.1", node_.port(),
                                       "/v1/session" + query);
    EXPECT_TRUE(ws);
    return std::move(*ws);
  }

  // The next message from the server that is not a pong.
  json next(http::ws_client& ws) {
    auto m = ws.read(10s);
    EXPECT_TRUE(m) << (m ? "" : to_string(m.err()));
    return m ? json::parse(*m, nullptr, false) : json{};
  }

  json request(http::ws_client& ws, json msg) {
    EXPECT_TRUE(ws.send_text(msg.dump()));
    auto reply = next(ws);
    EXPECT_EQ(reply["id"], msg["id"]) << reply.dump();
    return reply;
  }

  bool lock_held(const std::string& key) {
    return node_.call("GET", "/v1/locks/" + key)["held"].get<bool>();
  }

  test::http_node node_;
};

TEST_F(session_ws_test, a_session_holds_locks_and_keys_on_its_lease) {
  auto ws = open("?ttl=10s");
  auto hello = next(ws);
  ASSERT_EQ(hello["type"], "session");
  auto lease = hello["lease"].get<uint64_t>();
  EXPECT_EQ(hello["ttl"], "10s");
  auto lock = request(ws, {{"id", 1}, {"op", "lock"}, {"key", "jobs.leader"}});
  ASSERT_EQ(lock["ok"], true) << lock.dump();
  EXPECT_EQ(lock["lease"], lease);
  EXPECT_EQ(lock["token"].get<std::string>().size(), 32u);
  auto put = request(ws, {{"id", "p"}, {"op", "put"}, {"key", "svc.me"}, {"value", "aGk="}});
  ASSERT_EQ(put["ok"], true) << put.dump();
  EXPECT_EQ(node_.call("GET", "/v1/kv/svc.me")["lease"], lease);
  // Another client cannot take the lock.
  EXPECT_EQ(node_.call("POST", "/v1/locks/jobs.leader", {}, 409)["error"]["code"],
            "lock_held");
  auto ka = request(ws, {{"id", 2}, {"op", "keepalive"}});
  EXPECT_EQ(ka["ok"], true);
  EXPECT_EQ(ka["id"], 2);
  auto unlock = request(ws, {{"id", 3}, {"op", "unlock"}, {"key", "jobs.leader"},
                             {"token", lock["token"]}});
  EXPECT_EQ(unlock["released"], true);
  EXPECT_FALSE(lock_held("jobs.leader"));
  // Revoking the session's lease takes its keys.
  EXPECT_EQ(request(ws, {{"id", 4}, {"op", "revoke"}})["revoked"], true);
  auto deadline = steady::now() + 10s;
  while (node_.status("GET", "/v1/kv/svc.me") != 404) {
    ASSERT_LT(steady::now(), deadline);
    std::this_thread::sleep_for(10ms); // polling, with a deadline
  }
  auto late = request(ws, {{"id", 5}, {"op", "lock"}, {"key", "jobs.leader"}});
  EXPECT_EQ(late["error"]["code"], "not_found");
}

TEST_F(session_ws_test, keepalives_and_pings_renew_and_a_killed_socket_releases_at_ttl) {
  constexpr auto ttl = 600ms;
  auto ws = open("?ttl=600ms");
  ASSERT_EQ(next(ws)["type"], "session");
  ASSERT_EQ(request(ws, {{"id", 1}, {"op", "lock"}, {"key", "k"}})["ok"], true);
  // Pings alone keep the session alive for three TTLs, then keep-alive
  // messages alone for three more.
  auto until = steady::now() + 3 * ttl;
  while (steady::now() < until) {
    ASSERT_TRUE(ws.ping());
    std::this_thread::sleep_for(100ms); // renewal period, until the deadline
  }
  ASSERT_TRUE(lock_held("k"));
  until = steady::now() + 3 * ttl;
  for (int i = 0; steady::now() < until; ++i) {
    ASSERT_EQ(request(ws, {{"id", 10 + i}, {"op", "keepalive"}})["ok"], true);
    std::this_thread::sleep_for(100ms); // renewal period, until the deadline
  }
  ASSERT_TRUE(lock_held("k"));
  // Renew once more, then kill the socket without a close handshake.
  ASSERT_EQ(request(ws, {{"id", 99}, {"op", "keepalive"}})["ok"], true);
  auto renewed = steady::now();
  { auto dead = std::move(ws); }
  // Nothing is released early ...
  EXPECT_TRUE(lock_held("k"));
  // ... but at the TTL the lock goes.
  auto deadline = steady::now() + 10s;
  while (lock_held("k")) {
    ASSERT_LT(steady::now(), deadline);
    std::this_thread::sleep_for(10ms); // polling, with a deadline
  }
  EXPECT_GE(steady::now() - renewed, ttl - 100ms);
}

TEST_F(session_ws_test, bad_messages_get_errors_and_the_session_goes_on) {
  auto ws = open("");
  auto hello = next(ws);
  EXPECT_EQ(hello["ttl"], "10s");
  ASSERT_TRUE(ws.send_text("{not json"));
  auto bad = next(ws);
  EXPECT_EQ(bad["ok"], false);
  EXPECT_EQ(bad["error"]["code"], "invalid_argument");
  EXPECT_EQ(request(ws, {{"id", 1}, {"op", "fly"}})["error"]["code"], "invalid_argument");
  EXPECT_EQ(request(ws, {{"id", 2}})["error"]["code"], "invalid_argument");
  EXPECT_EQ(request(ws, {{"id", 3}, {"op", "lock"}})["error"]["code"], "invalid_argument");
  EXPECT_EQ(request(ws, {{"id", 4}, {"op", "lock"}, {"key", "a..b"}})["error"]["code"],
            "invalid_key");
  EXPECT_EQ(request(ws, {{"id", 5}, {"op", "put"}, {"key", "k"}, {"value", "!!"}})
              ["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(request(ws, {{"id", 6}, {"op", "keepalive"}, {"lease", 7}})["error"]["code"],
            "not_found");
  EXPECT_EQ(request(ws, {{"id", 7}, {"op", "keepalive"}, {"extra", 1}})["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(request(ws, {{"id", 8}, {"op", "keepalive"}})["ok"], true);
  // A binary frame ends the session with 1003.
  ASSERT_TRUE(ws.send_binary("x"));
  auto end = ws.read(10s);
  EXPECT_FALSE(end);
  EXPECT_EQ(ws.close_code(), 1003);
  // A bad TTL is refused before the upgrade.
  auto refused = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/session?ttl=1ms");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.code(), errc::invalid_ttl);
}

TEST_F(session_ws_test, a_session_keeps_many_leases_alive) {
  auto ws = open("?ttl=10s");
  ASSERT_EQ(next(ws)["type"], "session");
  std::vector<uint64_t> leases;
  for (int i = 0; i < 20; ++i) {
    auto g = request(ws, {{"id", i}, {"op", "grant"}, {"ttl", "5s"}});
    ASSERT_EQ(g["ok"], true) << g.dump();
    leases.push_back(g["lease"].get<uint64_t>());
  }
  for (auto lease : leases) {
    auto k = request(ws, {{"id", "k"}, {"op", "keepalive"}, {"lease", lease}});
    ASSERT_EQ(k["ok"], true) << k.dump();
    EXPECT_EQ(k["lease"], lease);
    EXPECT_EQ(k["ttl"], "5s");
  }
  EXPECT_EQ(node_.call("GET", "/v1/leases/" + std::to_string(leases[7]))["ttl"], "5s");
  EXPECT_EQ(request(ws, {{"id", "r"}, {"op", "revoke"}, {"lease", leases[3]}})["revoked"],
            true);
  node_.call("GET", "/v1/leases/" + std::to_string(leases[3]), nullptr, 404);
}

} // namespace
} // namespace shoal
