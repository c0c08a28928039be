// Leases over real HTTP against a real node: grant, keep-alive, revoke,
// expiry; kv keys and lock holds bound to a lease end with it (with
// events); a lease that is gone cannot be bound to; restart keeps leases
// with their deadlines and drops what was bound to a lease that ended just
// before a crash.

#include <chrono>
#include <functional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/storage/engine.hpp"
#include "tests/support/http_node.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class lease_http_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  json call(const std::string& verb, const std::string& target,
            const json& body = nullptr, unsigned expect = 200) {
    return node_.call(verb, target, body, expect);
  }

  std::string grant(const std::string& ttl) {
    auto l = call("POST", "/v1/leases", {{"ttl", ttl}}, 201);
    return std::to_string(l["id"].get<uint64_t>());
  }

  // Polls until `done` holds, failing after a deadline.
  void eventually(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "deadline passed";
      std::this_thread::sleep_for(10ms); // polling, with a deadline
    }
  }

  test::http_node node_;
};

TEST_F(lease_http_test, grant_keepalive_revoke) {
  auto l = call("POST", "/v1/leases", {{"ttl", "10s"}}, 201);
  auto id = std::to_string(l["id"].get<uint64_t>());
  EXPECT_LT(l["id"].get<uint64_t>(), uint64_t{1} << 53); // exact in JSON
  EXPECT_EQ(l["ttl"], "10s");
  auto got = call("GET", "/v1/leases/" + id);
  EXPECT_EQ(got["expires_at"], l["expires_at"]);
  EXPECT_LE(got["remaining_ms"].get<int64_t>(), 10'000);
  auto k = call("POST", "/v1/leases/" + id + "/keepalive");
  EXPECT_GE(k["expires_at"].get<std::string>(), l["expires_at"].get<std::string>());
  EXPECT_EQ(call("DELETE", "/v1/leases/" + id)["revoked"], true);
  EXPECT_EQ(call("GET", "/v1/leases/" + id, nullptr, 404)["error"]["code"], "not_found");
  call("POST", "/v1/leases/" + id + "/keepalive", nullptr, 404);
  call("DELETE", "/v1/leases/" + id, nullptr, 404);
  // Bad input.
  EXPECT_EQ(call("POST", "/v1/leases", {{"ttl", "1ms"}}, 400)["error"]["code"], "invalid_ttl");
  EXPECT_EQ(call("POST", "/v1/leases", {{"tll", "1s"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/leases/abc", nullptr, 400)["error"]["code"], "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/leases/0", nullptr, 400)["error"]["code"], "invalid_argument");
}

TEST_F(lease_http_test, revoking_deletes_bound_keys_and_releases_bound_locks) {
  auto id = grant("1h");
  node_.raw("PUT", "/v1/kv/svc.a?lease=" + id, "10.0.0.1", 200);
  node_.raw("PUT", "/v1/kv/svc.b?lease=" + id, "10.0.0.2", 200);
  node_.raw("PUT", "/v1/kv/svc.other", "stays", 200);
  auto held = call("POST", "/v1/locks/svc.leader", {{"lease", std::stoull(id)}});
  EXPECT_EQ(held["lease"].get<uint64_t>(), std::stoull(id));
  EXPECT_TRUE(held["expires_at"].is_null());
  EXPECT_EQ(call("GET", "/v1/kv/svc.a")["lease"].get<uint64_t>(), std::stoull(id));
  call("DELETE", "/v1/leases/" + id);
  eventually([&] {
    return node_.status("GET", "/v1/kv/svc.a") == 404
           && node_.status("GET", "/v1/kv/svc.b") == 404
           && !node_.call("GET", "/v1/locks/svc.leader")["held"].get<bool>();
  });
  EXPECT_EQ(call("GET", "/v1/kv/svc.other")["value"], "c3RheXM=");
  auto history = call("GET", "/v1/kv/svc.a/history");
  EXPECT_EQ(history["versions"][0]["operation"], "delete");
  // A gone lease cannot be bound to.
  EXPECT_EQ(node_.raw("PUT", "/v1/kv/svc.c?lease=" + id, "x", 404)["error"]["code"],
            "not_found");
  EXPECT_EQ(call("POST", "/v1/locks/svc.leader", {{"lease", std::stoull(id)}}, 404)
              ["error"]["code"],
            "not_found");
  node_.raw("PUT", "/v1/kv/svc.c?lease=12345", "x", 404);
}

TEST_F(lease_http_test, an_expired_lease_ends_its_keys_and_hands_its_lock_on) {
  auto id = grant("300ms");
  node_.raw("PUT", "/v1/kv/svc.a?lease=" + id, "10.0.0.1", 200);
  auto holder = call("POST", "/v1/locks/job", {{"lease", std::stoull(id)}});
  // A waiter gets the lock once the holder's lease runs out.
  auto next = call("POST", "/v1/locks/job", {{"ttl", "10s"}, {"wait", "10s"}});
  EXPECT_GT(next["fence"].get<uint64_t>(), holder["fence"].get<uint64_t>());
  eventually([&] {
    return node_.status("GET", "/v1/kv/svc.a") == 404;
  });
  EXPECT_EQ(call("GET", "/v1/kv/svc.a/history")["versions"][0]["operation"], "expire");
  call("POST", "/v1/leases/" + id + "/keepalive", nullptr, 404);
}

TEST_F(lease_http_test, keepalives_keep_bound_keys) {
  auto id = grant("300ms");
  node_.raw("PUT", "/v1/kv/svc.a?lease=" + id, "v", 200);
  auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until) {
    call("POST", "/v1/leases/" + id + "/keepalive");
    std::this_thread::sleep_for(50ms); // keep-alive period, until the deadline
  }
  call("GET", "/v1/kv/svc.a");
  call("GET", "/v1/leases/" + id);
}

TEST_F(lease_http_test, restart_keeps_leases_and_drops_what_an_ended_lease_held) {
  test::temp_dir dir{"shoal-lease-restart"};
  node_.restart(dir / "data");
  auto kept = grant("1h");
  auto lost = grant("1h");
  auto before = call("GET", "/v1/leases/" + kept);
  node_.raw("PUT", "/v1/kv/a?lease=" + kept, "1", 200);
  node_.raw("PUT", "/v1/kv/b?lease=" + lost, "2", 200);
  call("POST", "/v1/locks/l1", {{"lease", std::stoull(kept)}});
  call("POST", "/v1/locks/l2", {{"lease", std::stoull(lost)}});
  node_.stop();
  {
    // A crash after `lost`'s end was durable but before its keys and
    // holds were removed: only the lease record is gone.
    auto store = storage::open_rocksdb_engine({dir / "data"});
    ASSERT_TRUE(store);
    std::string key;
    ASSERT_TRUE((*store)->scan(storage::column::lease, "", "",
                               [&](std::string_view k, std::string_view) {
                                 if (k.size() == 10) {
                                   uint64_t id = 0;
                                   for (size_t i = 2; i < 10; ++i) {
                                     id = (id << 8) | static_cast<uint8_t>(k[i]);
                                   }
                                   if (std::to_string(id) == lost) {
                                     key = std::string{k};
                                   }
                                 }
                                 return true;
                               }));
    ASSERT_FALSE(key.empty());
    storage::write_batch b;
    b.erase(storage::column::lease, key);
    ASSERT_TRUE((*store)->write(b, storage::durability::sync));
    (*store)->close();
  }
  node_.start(dir / "data");
  EXPECT_EQ(call("GET", "/v1/leases/" + kept)["expires_at"], before["expires_at"]);
  call("GET", "/v1/kv/a");
  call("GET", "/v1/kv/b", nullptr, 404);
  EXPECT_EQ(call("GET", "/v1/locks/l1")["held"], true);
  EXPECT_EQ(call("GET", "/v1/locks/l2")["held"], false);
  call("DELETE", "/v1/leases/" + kept);
  eventually([&] {
    return node_.status("GET", "/v1/kv/a") == 404;
  });
  node_.stop(); // before the data dir goes
}

} // namespace
} // namespace shoal
