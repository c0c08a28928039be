// Leader election over real HTTP: candidates lead in turn as leases end,
// observers see every change, resigning hands over, and a deposed leader's
// late write is fenced.

#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/lock_client.hpp"
#include "net/http/client.hpp"
#include "net/http/election.hpp"
#include "tests/support/http_node.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class election_http_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  uint64_t lease() {
    return node_.call("POST", "/v1/leases", {{"ttl", "1h"}}, 201)["id"].get<uint64_t>();
  }

  json next(http::ws_client& ws) {
    auto m = ws.read(10s);
    EXPECT_TRUE(m);
    return m ? json::parse(*m, nullptr, false) : json{};
  }

  test::http_node node_;
};

TEST_F(election_http_test, candidates_lead_in_turn_and_observers_see_it) {
  auto a = lease();
  auto b = lease();
  node_.call("GET", "/v1/elections/db", nullptr, 404);
  auto lead_a = node_.call("POST", "/v1/elections/db/campaign",
                           {{"value", "node-a:5432"}, {"lease", a}});
  EXPECT_EQ(lead_a["leader"], true);
  EXPECT_EQ(lead_a["value"], "node-a:5432");
  auto observer = http::ws_client::connect("127.0.0.1", node_.port(),
                                           "/v1/elections/db/observe");
  ASSERT_TRUE(observer);
  auto first = next(*observer);
  EXPECT_EQ(first["type"], "leader");
  EXPECT_EQ(first["value"], "node-a:5432");
  EXPECT_EQ(next(*observer)["type"], "synced");
  // b waits in line.
  auto lead_b = std::async(std::launch::async, [&] {
    return node_.call("POST", "/v1/elections/db/campaign",
                      {{"value", "node-b:5432"}, {"lease", b}, {"wait", "30s"}});
  });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (node_.call("GET", "/v1/locks/_election.db")["waiters"] != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms); // polling the queue, with a deadline
  }
  EXPECT_EQ(node_.call("GET", "/v1/elections/db")["value"], "node-a:5432");
  // a's lease ends (its process died): b leads.
  node_.call("DELETE", "/v1/leases/" + std::to_string(a));
  auto b_won = lead_b.get();
  EXPECT_GT(b_won["fence"].get<uint64_t>(), lead_a["fence"].get<uint64_t>());
  // The observer sees a go and b come (a's record may go before or after
  // b is granted, but always before b's record is written).
  EXPECT_EQ(next(*observer)["type"], "no_leader");
  auto now_b = next(*observer);
  EXPECT_EQ(now_b["type"], "leader");
  EXPECT_EQ(now_b["value"], "node-b:5432");
  EXPECT_EQ(node_.call("GET", "/v1/elections/db")["fence"], b_won["fence"]);
  // a, deposed without knowing, writes as leader: fenced.
  auto late = node_.raw("PUT",
                        "/v1/kv/_election.db?fence_lock=_election.db&fence_token="
                          + std::to_string(lead_a["fence"].get<uint64_t>()),
                        "{}", 409);
  EXPECT_EQ(late["error"]["code"], "fenced");
  // b resigns: no leader.
  EXPECT_EQ(node_.call("POST", "/v1/elections/db/resign", {{"token", b_won["token"]}})
              ["resigned"],
            true);
  EXPECT_EQ(next(*observer)["type"], "no_leader");
  node_.call("GET", "/v1/elections/db", nullptr, 404);
  node_.call("POST", "/v1/elections/db/resign", {{"token", b_won["token"]}}, 409);
}

TEST_F(election_http_test, bad_campaigns_are_refused) {
  EXPECT_EQ(node_.call("POST", "/v1/elections/db/campaign", {{"value", "x"}}, 400)
              ["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(node_.call("POST", "/v1/elections/db/campaign",
                       {{"value", "x"}, {"lease", 12345}}, 404)["error"]["code"],
            "not_found");
  EXPECT_EQ(node_.call("POST", "/v1/elections/a..b/campaign",
                       {{"value", "x"}, {"lease", lease()}}, 400)["error"]["code"],
            "invalid_key");
  EXPECT_EQ(node_.call("POST", "/v1/elections/db/campaign",
                       {{"value", "x"}, {"lease", lease()}, {"bogus", 1}}, 400)
              ["error"]["code"],
            "invalid_argument");
  // Held by another, without a wait long enough: timeout.
  node_.call("POST", "/v1/elections/db/campaign", {{"value", "a"}, {"lease", lease()}});
  EXPECT_EQ(node_.call("POST", "/v1/elections/db/campaign",
                       {{"value", "b"}, {"lease", lease()}, {"wait", "100ms"}}, 504)
              ["error"]["code"],
            "timeout");
}

TEST_F(election_http_test, the_cpp_api_elects_in_turn_and_agrees_with_http) {
  auto& n = node_.get();
  lock_client leases{n};
  auto a = leases.grant(1h);
  auto b = leases.grant(1h);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(leader(n, "jobs").code(), errc::not_found);
  auto won = campaign(n, "jobs", "worker-a", a->id);
  ASSERT_TRUE(won) << to_string(won.err());
  EXPECT_EQ(won->token.size(), 32u);
  // B queues behind A.
  auto second = std::async(std::launch::async,
                           [&] { return campaign(n, "jobs", "worker-b", b->id, 10s); });
  auto now = leader(n, "jobs");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->value, "worker-a");
  EXPECT_EQ(now->fence, won->fence);
  EXPECT_EQ(now->since, won->since);
  EXPECT_TRUE(now->token.empty());
  // HTTP reads the same record.
  auto http_view = node_.call("GET", "/v1/elections/jobs");
  EXPECT_EQ(http_view["value"], "worker-a");
  EXPECT_EQ(http_view["fence"], won->fence);
  EXPECT_EQ(resign(n, "jobs", "not-the-token").code(), errc::lock_not_held);
  ASSERT_TRUE(resign(n, "jobs", won->token));
  auto next_leader = second.get();
  ASSERT_TRUE(next_leader);
  EXPECT_GT(next_leader->fence, won->fence);
  EXPECT_EQ(leader(n, "jobs")->value, "worker-b");
  EXPECT_EQ(campaign(n, "a..b", "x", b->id).code(), errc::invalid_key);
  EXPECT_EQ(campaign(n, "jobs", "x", 0).code(), errc::invalid_argument);
  EXPECT_EQ(campaign(n, "other", "x", 12345).code(), errc::not_found);
}

TEST(leader_record, round_trips_and_refuses_junk) {
  leadership l;
  l.name = "db";
  l.value = "node \"a\"";
  l.lease = 7;
  l.fence = 9;
  l.since = from_unix_nanos(1'795'463'160'123'456'789);
  auto back = parse_leader_record("db", leader_record(l));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->value, l.value);
  EXPECT_EQ(back->lease, 7u);
  EXPECT_EQ(back->fence, 9u);
  EXPECT_EQ(back->since, l.since);
  for (auto junk : {"", "[]", "{}", R"({"value":1,"lease":1,"fence":1,"since":"x"})",
                    R"({"value":"v","lease":-1,"fence":1,"since":"2026-11-23T19:46:00Z"})"}) {
    EXPECT_EQ(parse_leader_record("db", junk).code(), errc::internal) << junk;
  }
}

} // namespace
} // namespace shoal
