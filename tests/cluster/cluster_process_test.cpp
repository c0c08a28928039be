// Three shoald processes on 127.0.0.1 joined over the CAF middleman.

#include <csignal>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <set>
#include <thread>

#include "actors/sharding.hpp"
#include "net/http/client.hpp"
#include "runtime/base64.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr uint32_t shards = 16;

class cluster3 : public ::testing::Test {
protected:
  void SetUp() override {
    for (int i = 1; i <= 3; ++i) {
      if (!initial_.empty()) {
        initial_ += ",";
      }
      initial_ += "n" + std::to_string(i) + "=127.0.0.1:"
                  + std::to_string(test::free_port());
    }
    nodes_.resize(4);
  }

  std::vector<std::string> args(int i) {
    auto name = "n" + std::to_string(i);
    std::vector<std::string> out{"--name", name, "--initial-cluster", initial_, "--data-dir",
            dir_ / name, "--http", "127.0.0.1:0", "--shards",
            std::to_string(shards), "--ports-file", dir_ / (name + ".json"),
            "--forward-timeout", "2s", "--log-level", "warn"};
    out.insert(out.end(), extra_args_.begin(), extra_args_.end());
    return out;
  }

  void start(int i) {
    auto name = "n" + std::to_string(i);
    auto r = test::start_shoald(SHOAL_SHOALD, args(i), dir_ / (name + ".json"));
    ASSERT_TRUE(r) << name << " did not start";
    nodes_[i] = std::move(*r);
  }

  http::client client(int i) {
    return http::client{"127.0.0.1", nodes_[i]->ports.http, 10s};
  }

  json cluster_status(int i) {
    auto r = client(i).get("/v1/cluster");
    if (!r || r->status != 200) {
      return {};
    }
    return json::parse(r->body);
  }

  // Polls until every listed node sees every member in `state` (and
  // connected, when alive).
  bool wait_until_all(const std::vector<int>& observers,
                      const std::map<std::string, std::string>& states,
                      steady::duration timeout = 20s) {
    auto deadline = steady::now() + timeout;
    while (steady::now() < deadline) {
      bool ok = true;
      for (auto i : observers) {
        auto s = cluster_status(i);
        if (s.is_null()) {
          ok = false;
          break;
        }
        for (const auto& m : s["members"]) {
          auto want = states.find(m["name"].get<std::string>());
          if (want == states.end()) {
            continue;
          }
          if (m["state"] != want->second
              || (want->second == "alive" && !m["connected"].get<bool>())) {
            ok = false;
          }
        }
      }
      if (ok) {
        return true;
      }
      std::this_thread::sleep_for(50ms); // poll until the deadline
    }
    return false;
  }

  // One key per shard, and the member owning each shard.
  std::map<uint16_t, std::string> key_per_shard() {
    std::map<uint16_t, std::string> out;
    for (int k = 0; out.size() < shards; ++k) {
      auto key = "k." + std::to_string(k);
      out.emplace(shard_index(key, shards), key);
    }
    return out;
  }

  std::string owner_of(uint16_t shard) {
    return cluster_status(1)["shard_owner"][shard];
  }

  // The value (base64) of `key` read through member `i` once its owner
  // answers: "" if absent, nullopt if not served before `deadline`.
  std::optional<std::string> read_when_served(int i, const std::string& key,
                                              steady::time_point deadline) {
    while (steady::now() < deadline) {
      auto r = client(i).get("/v1/kv/" + key);
      if (r && r->status == 200) {
        return json::parse(r->body)["value"].get<std::string>();
      }
      if (r && r->status == 404) {
        return std::string{};
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  test::temp_dir dir_{"shoal-cluster"};
  std::string initial_;
  // Given to every node.
  std::vector<std::string> extra_args_;
  std::vector<std::optional<test::running_shoald>> nodes_;
};

TEST_F(cluster3, writes_through_any_node_are_readable_through_every_node) {
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  auto status = cluster_status(2);
  EXPECT_EQ(status["self"], "n2");
  EXPECT_EQ(status["shard_owner"].size(), shards);
  EXPECT_EQ(status["cluster_id"], cluster_status(1)["cluster_id"]);
  std::set<std::string> owners;
  for (const auto& o : status["shard_owner"]) {
    owners.insert(o);
  }
  EXPECT_EQ(owners.size(), 3u) << "every member owns some shards";
  {
    test::child_process ctl{SHOAL_SHOALCTL,
                            {"--endpoint",
                             "127.0.0.1:" + std::to_string(nodes_[3]->ports.http),
                             "cluster", "status"}};
    auto exit = ctl.wait(20s);
    ASSERT_TRUE(exit && WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0);
    std::string out;
    for (auto& l : ctl.drain_lines()) {
      out += l + "\n";
    }
    EXPECT_NE(out.find("this node: n3"), std::string::npos) << out;
    for (auto m : {"n1 ", "n2 ", "n3 *"}) {
      EXPECT_NE(out.find(m), std::string::npos) << m << " in " << out;
    }
    EXPECT_NE(out.find("alive"), std::string::npos) << out;
    EXPECT_NE(out.find("shards: 0"), std::string::npos) << out;
  }

  auto keys = key_per_shard();
  int n = 0;
  for (const auto& [shard, key] : keys) {
    auto via = 1 + n++ % 3;
    auto r = client(via).request("PUT", "/v1/kv/" + key, "v-" + key);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << key << " via n" << via << ": " << r->body;
  }
  for (int i = 1; i <= 3; ++i) {
    auto c = client(i);
    for (const auto& [shard, key] : keys) {
      auto r = c.get("/v1/kv/" + key + "?raw");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << key << " via n" << i;
      EXPECT_EQ(r->body, "v-" + key);
    }
    auto list = c.get("/v1/kv?pattern=k.*&keys_only");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->status, 200) << list->body;
    EXPECT_EQ(json::parse(list->body)["items"].size(), keys.size());
  }
  // A compare-and-swap through a gateway that does not own the key.
  auto key = keys.begin()->second;
  auto owner = owner_of(keys.begin()->first);
  auto via = owner == "n1" ? 2 : 1;
  auto cur = client(via).get("/v1/kv/" + key);
  auto rev = json::parse(cur->body)["revision"].get<uint64_t>();
  auto stale = client(via).request("PUT", "/v1/kv/" + key + "?if_revision="
                                            + std::to_string(rev + 7), "x");
  EXPECT_EQ(stale->status, 409) << stale->body;
  auto swapped = client(via).request("PUT", "/v1/kv/" + key + "?if_revision="
                                              + std::to_string(rev), "y");
  EXPECT_EQ(swapped->status, 200) << swapped->body;

  // Idempotency keys: begin through one gateway, complete through another.
  for (const auto& [shard, key] : keys) {
    auto k = "idem-" + key;
    auto begun = client(1).request("POST", "/v1/idempotency/" + k + "/begin", "{}");
    ASSERT_TRUE(begun);
    ASSERT_EQ(begun->status, 201) << begun->body;
    auto token = json::parse(begun->body)["token"].get<std::string>();
    auto done = client(2).request("POST", "/v1/idempotency/" + k + "/complete",
                                  json{{"token", token}, {"result", "b2s="}}.dump());
    ASSERT_EQ(done->status, 200) << done->body;
    auto again = client(3).request("POST", "/v1/idempotency/" + k + "/begin", "{}");
    EXPECT_EQ(again->status, 200) << again->body;
    EXPECT_EQ(json::parse(again->body)["record"]["state"], "completed") << again->body;
  }
  // Streams: appended through one gateway, read, checked and replayed
  // through the others, one sequence per stream.
  for (const auto& [shard, key] : keys) {
    auto s = "s-" + key;
    for (int i = 1; i <= 3; ++i) {
      auto appended = client(i).request(
        "POST", "/v1/streams/" + s + "/events",
        json{{"type", "t"}, {"data", json{{"i", i}}}, {"expected", i - 1}}.dump());
      ASSERT_TRUE(appended);
      ASSERT_EQ(appended->status, 201) << s << " via n" << i << ": " << appended->body;
    }
    auto stale = client(2).request("POST", "/v1/streams/" + s + "/events",
                                   json{{"type", "t"}, {"expected", 1}}.dump());
    EXPECT_EQ(stale->status, 409) << stale->body;
    auto cp = client(3).request("PUT", "/v1/streams/" + s + "/checkpoints/2", R"({"sum":3})");
    EXPECT_EQ(cp->status, 201) << cp->body;
    auto read = client(2).get("/v1/streams/" + s + "/events?from=1");
    ASSERT_EQ(read->status, 200) << read->body;
    EXPECT_EQ(json::parse(read->body)["events"].size(), 3u) << read->body;
    auto replay = client(1).get("/v1/streams/" + s + "/replay?target=3");
    ASSERT_EQ(replay->status, 200) << replay->body;
    EXPECT_EQ(json::parse(replay->body)["checkpoint"]["seq"], 2) << replay->body;
  }
  {
    auto listed = client(3).get("/v1/streams?prefix=s-&limit=1000");
    ASSERT_EQ(listed->status, 200) << listed->body;
    EXPECT_EQ(json::parse(listed->body)["streams"].size(), keys.size()) << listed->body;
  }
  // Entities: changed through any gateway, read (now and as of a seq) and
  // listed through the others.
  for (const auto& [shard, key] : keys) {
    auto e = "e-" + key;
    for (int i = 1; i <= 2; ++i) {
      auto changed = client(i).request(
        "POST", "/v1/entities/" + e + "/events",
        json{{"op", "merge"}, {"attributes", json{{"n", i}}}, {"by", "n" + std::to_string(i)}}.dump());
      ASSERT_TRUE(changed);
      ASSERT_EQ(changed->status, 201) << e << ": " << changed->body;
      EXPECT_EQ(json::parse(changed->body)["entity"]["attributes"]["n"], i) << changed->body;
    }
    auto now = client(3).get("/v1/entities/" + e);
    ASSERT_EQ(now->status, 200) << now->body;
    EXPECT_EQ(json::parse(now->body)["attributes"]["n"], 2) << now->body;
    auto then = client(3).get("/v1/entities/" + e + "?at=1");
    ASSERT_EQ(then->status, 200) << then->body;
    EXPECT_EQ(json::parse(then->body)["attributes"]["n"], 1) << then->body;
  }
  {
    auto listed = client(2).get("/v1/entities?pattern=e-k.*&limit=1000");
    ASSERT_EQ(listed->status, 200) << listed->body;
    EXPECT_EQ(json::parse(listed->body)["entities"].size(), keys.size()) << listed->body;
  }
  // Aggregates: defined through one gateway, merged through every one
  // into entities on every shard (deduplicated by event id), read, claimed
  // and dropped through others.
  {
    auto defined = client(2).request("PUT", "/v1/aggregates/visits",
                                     R"({"kind":"sum","retention":"1h"})");
    ASSERT_EQ(defined->status, 201) << defined->body;
    for (int i = 1; i <= 3; ++i) {
      EXPECT_EQ(client(i).get("/v1/aggregates/visits")->status, 200) << "via n" << i;
    }
    for (const auto& [shard, key] : keys) {
      for (int i = 1; i <= 3; ++i) {
        auto merged = client(i).request(
          "POST", "/v1/aggregates/visits/merge",
          json{{"entity", key}, {"delta", i}, {"event_id", key + "-" + std::to_string(i)}}
            .dump());
        ASSERT_EQ(merged->status, 200) << key << " via n" << i << ": " << merged->body;
        EXPECT_FALSE(json::parse(merged->body)["duplicate"].get<bool>()) << merged->body;
      }
      auto again = client(3).request(
        "POST", "/v1/aggregates/visits/merge",
        json{{"entity", key}, {"delta", 1}, {"event_id", key + "-1"}}.dump());
      ASSERT_EQ(again->status, 200) << again->body;
      EXPECT_TRUE(json::parse(again->body)["duplicate"].get<bool>()) << again->body;
      auto read = client(shard % 3 + 1).get("/v1/aggregates/visits/" + key);
      ASSERT_EQ(read->status, 200) << read->body;
      EXPECT_EQ(json::parse(read->body)["value"], 6) << key << ": " << read->body;
      auto first = client(1).request("POST", "/v1/dedup/orders/" + key, "{}");
      EXPECT_TRUE(json::parse(first->body)["first_seen"].get<bool>()) << first->body;
      auto second = client(2).request("POST", "/v1/dedup/orders/" + key, "{}");
      EXPECT_FALSE(json::parse(second->body)["first_seen"].get<bool>()) << second->body;
    }
    auto many = client(1).request("POST", "/v1/aggregates/visits/get_many",
                                  json{{"entities", json::array({keys.begin()->second,
                                                                 keys.rbegin()->second})}}
                                    .dump());
    EXPECT_EQ(many->status, 200) << many->body;
    auto dropped = client(3).request("DELETE", "/v1/aggregates/visits", "");
    ASSERT_EQ(dropped->status, 200) << dropped->body;
    for (int i = 1; i <= 3; ++i) {
      EXPECT_EQ(client(i).get("/v1/aggregates/visits")->status, 404) << "via n" << i;
    }
    auto gone = client(2).get("/v1/aggregates/visits/" + keys.begin()->second);
    EXPECT_EQ(gone->status, 404) << gone->body;
  }
  // Locks: taken through one gateway, contended through another, released
  // through a third; one holder and one fence counter per key.
  for (const auto& [shard, key] : keys) {
    auto held = client(1).request("POST", "/v1/locks/" + key, "{\"ttl\":\"10s\"}");
    ASSERT_EQ(held->status, 200) << held->body;
    auto hold = json::parse(held->body);
    auto busy = client(2).request("POST", "/v1/locks/" + key, "{\"ttl\":\"10s\"}");
    EXPECT_EQ(busy->status, 409) << busy->body;
    auto seen = client(3).get("/v1/locks/" + key);
    EXPECT_EQ(json::parse(seen->body)["fence"], hold["fence"]) << seen->body;
    auto released = client(3).request(
      "DELETE", "/v1/locks/" + key, json{{"token", hold["token"]}}.dump());
    EXPECT_EQ(released->status, 200) << released->body;
    auto next = client(2).request("POST", "/v1/locks/" + key, "{\"ttl\":\"10s\"}");
    ASSERT_EQ(next->status, 200) << next->body;
    EXPECT_GT(json::parse(next->body)["fence"].get<uint64_t>(),
              hold["fence"].get<uint64_t>());
  }
  // A queued acquire through a non-owner waits past the forward timeout
  // (2 s here) for its own wait.
  {
    auto key = keys.begin()->second;
    auto o = owner_of(keys.begin()->first);
    auto via = o == "n1" ? 2 : 1;
    auto held = client(via).request("POST", "/v1/locks/" + key + ".q", "{\"ttl\":\"3s\"}");
    ASSERT_EQ(held->status, 200) << held->body;
    auto t = steady::now();
    auto waited = client(via == 1 ? 3 : 1)
                    .request("POST", "/v1/locks/" + key + ".q",
                             "{\"ttl\":\"10s\",\"wait\":\"8s\"}");
    EXPECT_EQ(waited->status, 200) << waited->body;
    EXPECT_GT(steady::now() - t, 2s);
  }
  // Leases bind keys and locks of every member's shards, whichever
  // gateway granted them and whichever the binding goes through.
  // Every member hears of a lease's end at once (the reconciler, which
  // would also get there, takes up to 5 s).
  auto gone_everywhere = [&](const std::string& path) {
    auto deadline = steady::now() + 2s;
    for (int i = 1; i <= 3; ++i) {
      while (true) {
        auto r = client(i).get(path);
        ASSERT_TRUE(r);
        if (r->status == 404) {
          break;
        }
        ASSERT_LT(steady::now(), deadline) << path << " still there via n" << i;
        std::this_thread::sleep_for(20ms); // poll until the deadline
      }
    }
  };
  for (const auto& [shard, key] : keys) {
    auto o = owner_of(shard);
    auto grantor = o == "n1" ? 2 : 1;
    auto via = grantor == 1 ? 3 : 1;
    auto granted = client(grantor).request("POST", "/v1/leases", "{\"ttl\":\"10s\"}");
    ASSERT_EQ(granted->status, 201) << granted->body;
    auto id = std::to_string(json::parse(granted->body)["id"].get<uint64_t>());
    auto bound = client(via).request("PUT", "/v1/kv/" + key + ".l?lease=" + id, "x");
    ASSERT_EQ(bound->status, 200) << key << ": " << bound->body;
    auto held = client(via).request("POST", "/v1/locks/" + key + ".l",
                                    "{\"ttl\":\"10s\",\"lease\":" + id + "}");
    ASSERT_EQ(held->status, 200) << key << ": " << held->body;
    EXPECT_EQ(client(via).request("POST", "/v1/leases/" + id + "/keepalive", "")->status, 200);
    EXPECT_EQ(client(3).get("/v1/leases/" + id)->status, 200);
    auto revoked = client(via).request("DELETE", "/v1/leases/" + id, "");
    ASSERT_EQ(revoked->status, 200) << revoked->body;
    gone_everywhere("/v1/kv/" + key + ".l");
    auto lock = client(o == "n3" ? 1 : 3).get("/v1/locks/" + key + ".l");
    EXPECT_FALSE(json::parse(lock->body)["held"].get<bool>()) << lock->body;
    // A lease that is gone binds nothing, through any gateway.
    auto late = client(via).request("PUT", "/v1/kv/" + key + ".l?lease=" + id, "x");
    EXPECT_EQ(late->status, 404) << late->body;
  }
  // An expiring lease takes its keys on other members' shards with it.
  {
    auto granted = client(1).request("POST", "/v1/leases", "{\"ttl\":\"1s\"}");
    ASSERT_EQ(granted->status, 201) << granted->body;
    auto id = std::to_string(json::parse(granted->body)["id"].get<uint64_t>());
    for (const auto& [shard, key] : keys) {
      auto bound = client(2).request("PUT", "/v1/kv/" + key + ".x?lease=" + id, "x");
      ASSERT_EQ(bound->status, 200) << key << ": " << bound->body;
    }
    for (const auto& [shard, key] : keys) {
      gone_everywhere("/v1/kv/" + key + ".x");
    }
  }
  // An election: a lease of n1, campaigned through n2, seen through n3,
  // over when the lease is revoked.
  for (int e = 0; e < 4; ++e) {
    auto name = "db" + std::to_string(e);
    auto granted = client(1).request("POST", "/v1/leases", "{\"ttl\":\"10s\"}");
    ASSERT_EQ(granted->status, 201) << granted->body;
    auto id = std::to_string(json::parse(granted->body)["id"].get<uint64_t>());
    auto led = client(2).request("POST", "/v1/elections/" + name + "/campaign",
                                 "{\"value\":\"a\",\"lease\":" + id + "}");
    ASSERT_EQ(led->status, 200) << led->body;
    auto leader = client(3).get("/v1/elections/" + name);
    ASSERT_EQ(leader->status, 200) << leader->body;
    EXPECT_EQ(json::parse(leader->body)["value"], "a") << leader->body;
    ASSERT_EQ(client(3).request("DELETE", "/v1/leases/" + id, "")->status, 200);
    gone_everywhere("/v1/elections/" + name);
  }
}

TEST_F(cluster3, a_member_that_missed_a_lease_s_end_catches_up) {
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  // A lease of n1 binds a key on n2's shard; n2 is down when it is revoked.
  std::string key;
  for (const auto& [shard, k] : key_per_shard()) {
    if (owner_of(shard) == "n2") {
      key = k;
      break;
    }
  }
  auto granted = client(1).request("POST", "/v1/leases", "{\"ttl\":\"30s\"}");
  ASSERT_EQ(granted->status, 201) << granted->body;
  auto id = std::to_string(json::parse(granted->body)["id"].get<uint64_t>());
  auto bound = client(3).request("PUT", "/v1/kv/" + key + "?lease=" + id, "x");
  ASSERT_EQ(bound->status, 200) << bound->body;
  auto kept = client(3).request("PUT", "/v1/kv/" + key + ".kept", "y");
  ASSERT_EQ(kept->status, 200) << kept->body;
  // A lease of the same lease shard that stays alive binds a key of the
  // same kv shard: it is asked about in the same request, and kept.
  auto lease_id = json::parse(granted->body)["id"].get<uint64_t>();
  std::string alive_key;
  for (int k = 0; alive_key.empty(); ++k) {
    auto candidate = "alive." + std::to_string(k);
    if (shard_index(candidate, shards) == shard_index(key, shards)) {
      alive_key = candidate;
    }
  }
  std::string alive_id;
  for (int tries = 0; alive_id.empty(); ++tries) {
    ASSERT_LT(tries, 500) << "no lease of the same shard";
    auto other = client(1).request("POST", "/v1/leases", "{\"ttl\":\"60s\"}");
    ASSERT_EQ(other->status, 201) << other->body;
    auto other_id = json::parse(other->body)["id"].get<uint64_t>();
    if (other_id % shards == lease_id % shards) {
      alive_id = std::to_string(other_id);
    }
  }
  auto alive = client(3).request("PUT", "/v1/kv/" + alive_key + "?lease=" + alive_id, "z");
  ASSERT_EQ(alive->status, 200) << alive->body;
  nodes_[2]->proc->signal(SIGKILL);
  nodes_[2]->proc->wait(5s);
  auto revoked = client(1).request("DELETE", "/v1/leases/" + id, "");
  ASSERT_EQ(revoked->status, 200) << revoked->body;
  start(2);
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  // n2 restores the key (its lease lives elsewhere), then learns the
  // lease is gone and deletes it.
  auto deadline = steady::now() + 20s;
  while (true) {
    auto r = client(1).get("/v1/kv/" + key);
    ASSERT_TRUE(r);
    if (r->status == 404) {
      break;
    }
    ASSERT_LT(steady::now(), deadline) << key << " outlived its lease: " << r->status;
    std::this_thread::sleep_for(100ms); // poll until the deadline
  }
  EXPECT_EQ(client(1).get("/v1/kv/" + key + ".kept")->status, 200);
  EXPECT_EQ(client(1).get("/v1/kv/" + alive_key)->status, 200);

  // A member down while an aggregate was defined learns of it when back.
  auto catalog = owner_of(0);
  auto down = catalog == "n3" ? 2 : 3;
  nodes_[down]->proc->signal(SIGKILL);
  nodes_[down]->proc->wait(5s);
  auto defined = client(1).request("PUT", "/v1/aggregates/late",
                                   R"({"kind":"max","retention":"1h"})");
  ASSERT_EQ(defined->status, 201) << defined->body;
  start(down);
  deadline = steady::now() + 20s;
  while (client(down).get("/v1/aggregates/late")->status != 200) {
    ASSERT_LT(steady::now(), deadline) << "n" << down << " never learned of 'late'";
    std::this_thread::sleep_for(100ms); // poll until the deadline
  }
  for (const auto& [shard, k] : key_per_shard()) {
    auto merged = client(down).request("POST", "/v1/aggregates/late/merge",
                                       json{{"entity", k}, {"delta", 5}}.dump());
    EXPECT_EQ(merged->status, 200) << k << ": " << merged->body;
  }
}

TEST_F(cluster3, a_killed_owner_answers_503_fast_and_returns_with_its_data) {
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  auto keys = key_per_shard();
  for (const auto& [shard, key] : keys) {
    auto r = client(1).request("PUT", "/v1/kv/" + key, "v-" + key);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  std::map<uint16_t, std::string> owner;
  for (const auto& [shard, key] : keys) {
    owner[shard] = owner_of(shard);
  }
  nodes_[2]->proc->signal(SIGKILL);
  nodes_[2]->proc->wait(5s);
  auto killed = steady::now();
  // Every shard of n2 answers 503 with Retry-After within the
  // failure-detection bound; the others keep serving.
  auto c1 = client(1);
  for (const auto& [shard, key] : keys) {
    if (owner[shard] != "n2") {
      continue;
    }
    while (true) {
      auto r = c1.get("/v1/kv/" + key);
      ASSERT_TRUE(r);
      if (r->status == 503) {
        EXPECT_NE(r->header("retry-after"), nullptr);
        EXPECT_EQ(json::parse(r->body)["error"]["code"], "unavailable") << r->body;
        break;
      }
      ASSERT_LT(steady::now() - killed, 10s) << "still " << r->status;
      std::this_thread::sleep_for(20ms); // poll until the deadline
    }
    auto t = steady::now();
    auto again = c1.get("/v1/kv/" + key);
    EXPECT_EQ(again->status, 503);
    EXPECT_LT(steady::now() - t, 500ms) << "a dead owner fails fast";
  }
  for (const auto& [shard, key] : keys) {
    if (owner[shard] == "n2") {
      continue;
    }
    auto r = client(3).get("/v1/kv/" + key + "?raw");
    EXPECT_EQ(r->status, 200) << key;
  }
  EXPECT_TRUE(wait_until_all({1, 3}, {{"n2", "dead"}}, 15s));
  // n2 comes back with every acknowledged write.
  start(2);
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  for (int i = 1; i <= 3; ++i) {
    for (const auto& [shard, key] : keys) {
      auto r = client(i).get("/v1/kv/" + key + "?raw");
      ASSERT_EQ(r->status, 200) << key << " via n" << i;
      EXPECT_EQ(r->body, "v-" + key);
    }
  }
}

// Reads JSON messages from `ws` into `take` (false: the stream ended)
// until `enough()` or the deadline; true if enough arrived.
template <class Enough, class Take>
bool read_json_until(http::ws_client& ws, steady::duration timeout,
                     std::vector<std::string>& problems, Enough enough, Take take) {
  auto deadline = steady::now() + timeout;
  while (!enough() && steady::now() < deadline) {
    auto m = ws.read(500ms);
    if (!m) {
      if (m.err().code == errc::timeout) {
        continue;
      }
      problems.push_back("socket closed: " + m.err().message);
      return false;
    }
    if (!take(json::parse(*m))) {
      return false;
    }
  }
  return enough();
}

// Reads one watch's events into per-key value sequences and per-shard
// revisions; every event's revision must follow the last one of its shard
// with nothing skipped (only `k.*` keys are written, so each shard's
// revisions are all ours).
struct watch_log {
  std::map<std::string, std::vector<std::string>> values;
  std::map<uint16_t, uint64_t> last_revision;
  std::string cursor;
  size_t events = 0;
  std::vector<std::string> problems;
  // Notices per shard: its owner lost, then back.
  std::map<uint16_t, int> detached;
  std::map<uint16_t, int> attached;

  void add(const json& m) {
    if (m["type"] == "detached") {
      ++detached[m["shard"].get<uint16_t>()];
      return;
    }
    if (m["type"] == "attached") {
      ++attached[m["shard"].get<uint16_t>()];
      return;
    }
    if (m["type"] != "event") {
      return;
    }
    auto shard = m["shard"].get<uint16_t>();
    auto rev = m["revision"].get<uint64_t>();
    auto it = last_revision.find(shard);
    if (it != last_revision.end() && rev != it->second + 1) {
      problems.push_back("shard " + std::to_string(shard) + ": revision "
                         + std::to_string(rev) + " after "
                         + std::to_string(it->second));
    }
    last_revision[shard] = rev;
    values[m["key"].get<std::string>()].push_back(m["value"].get<std::string>());
    cursor = m["cursor"].get<std::string>();
    ++events;
  }

  // Reads until `want` events arrived in all, or the deadline.
  bool read_until(http::ws_client& ws, size_t want, steady::duration timeout = 20s) {
    return read_json_until(
      ws, timeout, problems, [&] { return events >= want; },
      [&](const json& j) {
        if (j["type"] == "error" || j["type"] == "lagged") {
          problems.push_back("watch ended: " + j.dump());
          return false;
        }
        add(j);
        return true;
      });
  }
};

TEST_F(cluster3, a_watch_sees_every_shard_and_resumes_when_an_owner_returns) {
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  auto keys = key_per_shard();
  std::map<uint16_t, std::string> owner;
  for (const auto& [shard, key] : keys) {
    owner[shard] = owner_of(shard);
  }
  auto ws = http::ws_client::connect("127.0.0.1", nodes_[1]->ports.http,
                                     "/v1/watch?pattern=k.*");
  ASSERT_TRUE(ws) << ws.err().message;
  auto synced = json::parse(*ws->read(10s));
  ASSERT_EQ(synced["type"], "synced") << synced.dump();
  // What each key was set to, in order, through n3.
  std::map<std::string, std::vector<std::string>> written;
  auto put = [&](const std::string& key, const std::string& value) {
    auto r = client(3).request("PUT", "/v1/kv/" + key, value);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << key << ": " << r->body;
    written[key].push_back(base64_encode(value));
  };
  for (const auto& [shard, key] : keys) {
    put(key, "a-" + key);
  }
  watch_log log;
  ASSERT_TRUE(log.read_until(*ws, keys.size())) << ::testing::PrintToString(log.problems);

  // n2 dies: the watch goes on with the other shards.
  nodes_[2]->proc->signal(SIGKILL);
  nodes_[2]->proc->wait(5s);
  size_t expected = keys.size();
  for (const auto& [shard, key] : keys) {
    if (owner[shard] != "n2") {
      put(key, "b-" + key);
      ++expected;
    }
  }
  ASSERT_TRUE(log.read_until(*ws, expected)) << ::testing::PrintToString(log.problems);
  // Meanwhile the watch tries every 250 ms to register with n2's shards
  // again; by the time n1 suspects n2 (a probe went unanswered) it has
  // tried a few times.
  ASSERT_TRUE(wait_until_all({1}, {{"n2", "suspect"}}));

  // n2 returns while n1 (the watch's gateway) is hung, and takes writes
  // through n3 that n1's watch can only get by catching up from n2.
  nodes_[1]->proc->signal(SIGSTOP);
  start(2);
  auto write_round = [&](const std::string& prefix, bool n2_only) {
    for (const auto& [shard, key] : keys) {
      if (n2_only && owner[shard] != "n2") {
        continue;
      }
      auto value = prefix + key;
      auto deadline = steady::now() + 20s;
      while (true) {
        auto r = client(3).request("PUT", "/v1/kv/" + key, value);
        ASSERT_TRUE(r);
        auto applied = r->status == 200;
        if (r->status == 504) {
          // maybe_committed: read before writing again (docs/api.md), or
          // a retry would be a second change that the watch rightly shows.
          ASSERT_NE(r->body.find("maybe_committed"), std::string::npos) << r->body;
          auto now = read_when_served(3, key, deadline);
          ASSERT_TRUE(now) << key << " stays unavailable";
          applied = *now == base64_encode(value);
        } else if (!applied) {
          ASSERT_EQ(r->status, 503) << r->body;
        }
        if (applied) {
          written[key].push_back(base64_encode(value));
          ++expected;
          break;
        }
        ASSERT_LT(steady::now(), deadline) << key << " stays unavailable";
        std::this_thread::sleep_for(20ms); // poll until the deadline
      }
    }
  };
  write_round("c0-", true);
  write_round("c1-", true);
  nodes_[1]->proc->signal(SIGCONT);
  write_round("d-", false);
  ASSERT_TRUE(log.read_until(*ws, expected)) << ::testing::PrintToString(log.problems);
  EXPECT_TRUE(log.problems.empty()) << ::testing::PrintToString(log.problems);
  EXPECT_EQ(log.values, written) << "every change once, in order, per key";
  // The watch told its client when n2's shards paused and when they came
  // back: once each (not once per try to register again), and for no
  // other shard.
  std::map<uint16_t, int> once;
  for (const auto& [shard, key] : keys) {
    if (owner[shard] == "n2") {
      once[shard] = 1;
    }
  }
  ASSERT_FALSE(once.empty());
  EXPECT_EQ(log.detached, once);
  EXPECT_EQ(log.attached, once);

  // A new watch on n1 from the first cursor reads every change again,
  // the remote shards' from their owners' change logs.
  auto again = http::ws_client::connect(
    "127.0.0.1", nodes_[1]->ports.http,
    "/v1/watch?pattern=k.*&cursor=" + synced["cursor"].get<std::string>());
  ASSERT_TRUE(again) << again.err().message;
  ASSERT_EQ(json::parse(*again->read(10s))["type"], "synced");
  watch_log replay;
  ASSERT_TRUE(replay.read_until(*again, expected))
    << ::testing::PrintToString(replay.problems);
  EXPECT_EQ(replay.values, written);
  EXPECT_EQ(replay.cursor, log.cursor);
}

// Reads a stream tail's events; each must be the next seq.
struct tail_log {
  uint64_t next = 1;
  bool live = false;
  std::vector<std::string> problems;

  bool read_until(http::ws_client& ws, uint64_t last, steady::duration timeout = 20s) {
    return read_json_until(
      ws, timeout, problems, [&] { return next > last; },
      [&](const json& j) {
        if (j["kind"] == "live") {
          live = true;
        } else if (j["kind"] == "event") {
          auto seq = j["seq"].get<uint64_t>();
          if (seq != next) {
            problems.push_back("seq " + std::to_string(seq) + " where "
                               + std::to_string(next) + " was due");
          }
          next = seq + 1;
        } else if (j["kind"] != "progress") {
          problems.push_back("tail ended: " + j.dump());
          return false;
        }
        return true;
      });
  }
};

TEST_F(cluster3, a_stream_tail_through_another_gateway_bridges_its_owner_s_restart) {
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  // A stream that n2 owns, tailed through n1, appended to through n3.
  std::string s;
  for (int k = 0; s.empty(); ++k) {
    auto name = "orders-" + std::to_string(k);
    if (owner_of(shard_index(name, shards)) == "n2") {
      s = name;
    }
  }
  uint64_t appended = 0;
  auto append = [&](size_t n) {
    json events = json::array();
    for (size_t i = 0; i < n; ++i) {
      events.push_back({{"type", "t"}, {"data", json{{"i", appended + i + 1}}}});
    }
    auto deadline = steady::now() + 20s;
    while (true) {
      auto r = client(3).request("POST", "/v1/streams/" + s + "/events",
                                 json{{"events", events}}.dump());
      ASSERT_TRUE(r);
      if (r->status == 201) {
        appended += n;
        return;
      }
      if (r->status == 504) {
        // maybe_committed: the stream's last seq tells.
        ASSERT_NE(r->body.find("maybe_committed"), std::string::npos) << r->body;
        std::optional<uint64_t> last;
        while (!last && steady::now() < deadline) {
          auto info = client(3).get("/v1/streams/" + s);
          if (info && info->status == 200) {
            last = json::parse(info->body)["last_seq"].get<uint64_t>();
          } else {
            std::this_thread::sleep_for(20ms);
          }
        }
        ASSERT_TRUE(last) << s << " stays unavailable";
        if (*last == appended + n) {
          appended += n;
          return;
        }
        ASSERT_EQ(*last, appended) << "a partial append";
        continue;
      }
      ASSERT_EQ(r->status, 503) << r->body;
      ASSERT_LT(steady::now(), deadline) << s << " stays unavailable";
      std::this_thread::sleep_for(20ms); // poll until the deadline
    }
  };
  append(10);
  auto ws = http::ws_client::connect("127.0.0.1", nodes_[1]->ports.http,
                                     "/v1/streams/" + s + "/tail?from=1");
  ASSERT_TRUE(ws) << ws.err().message;
  tail_log log;
  ASSERT_TRUE(log.read_until(*ws, appended)) << ::testing::PrintToString(log.problems);
  // More than one credit window of live events, in batches.
  for (int round = 0; round < 6; ++round) {
    append(100);
  }
  ASSERT_TRUE(log.read_until(*ws, appended)) << ::testing::PrintToString(log.problems);
  EXPECT_TRUE(log.live);

  // The owner dies and returns; events appended after its restart reach
  // the tail, with nothing lost or repeated.
  nodes_[2]->proc->signal(SIGKILL);
  nodes_[2]->proc->wait(5s);
  start(2);
  for (int round = 0; round < 3; ++round) {
    append(50);
  }
  ASSERT_TRUE(log.read_until(*ws, appended, 30s)) << ::testing::PrintToString(log.problems);
  EXPECT_TRUE(log.problems.empty()) << ::testing::PrintToString(log.problems);

  // A second tail through n3 from the start reads everything from the
  // owner's storage.
  auto again = http::ws_client::connect("127.0.0.1", nodes_[3]->ports.http,
                                        "/v1/streams/" + s + "/tail?from=1");
  ASSERT_TRUE(again) << again.err().message;
  tail_log replay;
  ASSERT_TRUE(replay.read_until(*again, appended)) << ::testing::PrintToString(replay.problems);
  EXPECT_TRUE(replay.problems.empty());
}

// Reads an aggregate merge watch: the merges' entities in arrival order.
struct merge_log {
  bool ready = false;
  std::vector<std::string> entities;
  json ended;
  std::vector<std::string> problems;

  bool read_until(http::ws_client& ws, const std::function<bool()>& enough,
                  steady::duration timeout = 20s) {
    return read_json_until(ws, timeout, problems, enough, [&](const json& j) {
      if (j["type"] == "ready") {
        ready = true;
      } else if (j["type"] == "merge") {
        entities.push_back(j["entity"].get<std::string>());
      } else {
        ended = j;
        return false;
      }
      return true;
    });
  }
};

TEST_F(cluster3, merge_watches_and_the_read_cache_span_every_member) {
  test::temp_dir redis_dir{"shoal-cluster-redis"};
  auto redis_port = test::free_port();
  test::redis_server redis{SHOAL_REDIS_SERVER, redis_port, redis_dir.path()};
  ASSERT_TRUE(redis.ready());
  extra_args_ = {"--cache-redis", "127.0.0.1:" + std::to_string(redis_port)};
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  auto defined = client(2).request("PUT", "/v1/aggregates/views",
                                   json{{"kind", "sum"}}.dump());
  ASSERT_TRUE(defined);
  ASSERT_EQ(defined->status, 201) << defined->body;
  // One entity per shard (the shard of aggregate and entity together).
  std::map<uint16_t, std::string> entities;
  for (int k = 0; entities.size() < shards; ++k) {
    auto e = "page-" + std::to_string(k);
    entities.emplace(shard_index(std::string{"views"} + '\0' + e, shards), e);
  }
  std::set<std::string> owners;
  for (const auto& [shard, e] : entities) {
    owners.insert(owner_of(shard));
  }
  ASSERT_EQ(owners.size(), 3u);

  // A watch through n1 sees merges made through n3 on every member.
  auto ws = http::ws_client::connect("127.0.0.1", nodes_[1]->ports.http,
                                     "/v1/aggregates/views/watch");
  ASSERT_TRUE(ws) << ws.err().message;
  merge_log log;
  ASSERT_TRUE(log.read_until(*ws, [&] { return log.ready; }))
    << ::testing::PrintToString(log.problems) << log.ended.dump();
  for (int round = 0; round < 2; ++round) {
    for (const auto& [shard, e] : entities) {
      auto r = client(3).request("POST", "/v1/aggregates/views/merge",
                                 json{{"entity", e}, {"delta", 1}}.dump());
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
    }
  }
  ASSERT_TRUE(log.read_until(*ws, [&] { return log.entities.size() >= 2 * shards; }))
    << ::testing::PrintToString(log.problems) << log.ended.dump();
  std::map<std::string, int> seen;
  for (const auto& e : log.entities) {
    ++seen[e];
  }
  EXPECT_EQ(seen.size(), shards);
  for (const auto& [e, n] : seen) {
    EXPECT_EQ(n, 2) << e;
  }

  // Every member mirrors its own shards into the one Redis; the cache
  // routes of any gateway cover all of them.
  auto cache = [&](int via, const char* route) {
    auto r = client(via).request("POST", route, "");
    if (!r) {
      ADD_FAILURE() << route << " through n" << via << ": " << r.err().message;
      return json{};
    }
    EXPECT_EQ(r->status, 200) << r->body;
    return r->status == 200 ? json::parse(r->body) : json{};
  };
  auto deadline = steady::now() + 10s;
  json check;
  while (steady::now() < deadline) {
    check = cache(2, "/v1/cache/check");
    if (check["in_sync"] == true) {
      break;
    }
    std::this_thread::sleep_for(50ms); // poll until the deadline
  }
  EXPECT_EQ(check["cells"], shards) << check.dump();
  EXPECT_EQ(check["in_sync"], true) << check.dump();
  test::redis_peek peek{redis_port};
  peek.command("FLUSHALL");
  EXPECT_EQ(cache(1, "/v1/cache/check")["missing"], shards);
  EXPECT_EQ(cache(3, "/v1/cache/repopulate")["cells"], shards);
  check = cache(1, "/v1/cache/check");
  EXPECT_EQ(check["matching"], shards) << check.dump();
  EXPECT_EQ(check["in_sync"], true) << check.dump();

  // A member lost ends the watch with `unavailable` (its merges would be
  // missed); a new watch is refused until it is back.
  nodes_[2]->proc->signal(SIGKILL);
  nodes_[2]->proc->wait(5s);
  EXPECT_FALSE(log.read_until(*ws, [] { return false; }, 10s));
  EXPECT_EQ(log.ended["type"], "error") << log.ended.dump();
  EXPECT_EQ(log.ended["error"]["code"], "unavailable") << log.ended.dump();
  ASSERT_TRUE(wait_until_all({1}, {{"n2", "dead"}}));
  auto refused = http::ws_client::connect("127.0.0.1", nodes_[1]->ports.http,
                                          "/v1/aggregates/views/watch");
  EXPECT_EQ(refused.code(), errc::unavailable);
  auto no_cache = client(1).request("POST", "/v1/cache/check", "");
  ASSERT_TRUE(no_cache);
  EXPECT_EQ(no_cache->status, 503);
}

TEST_F(cluster3, a_hung_owner_makes_writes_maybe_committed_and_reads_503_within_the_forward_timeout) {
  for (int i = 1; i <= 3; ++i) {
    start(i);
  }
  ASSERT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}));
  auto keys = key_per_shard();
  std::string hung_key;
  for (const auto& [shard, key] : keys) {
    if (owner_of(shard) == "n3") {
      hung_key = key;
    }
  }
  ASSERT_FALSE(hung_key.empty());
  nodes_[3]->proc->signal(SIGSTOP);
  auto c1 = client(1);
  {
    // A write the owner may still apply when it resumes is not "certainly
    // not applied" (503): it is 504 maybe_committed. (One round: once the
    // connection to n3 is given up, about 5 s in, nothing is sent to it
    // and a write is 503 again.)
    auto t = steady::now();
    auto r = c1.request("PUT", "/v1/kv/" + hung_key, "x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504) << r->body;
    EXPECT_NE(r->body.find("maybe_committed"), std::string::npos) << r->body;
    EXPECT_LT(steady::now() - t, 3s) << "no hang past the forward timeout";
    // A read of it changes nothing: 503.
    t = steady::now();
    r = c1.get("/v1/kv/" + hung_key);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_LT(steady::now() - t, 3s) << "no hang past the forward timeout";
  }
  // Once suspected, then dead, n3's shards fail at once.
  EXPECT_TRUE(wait_until_all({1}, {{"n3", "dead"}}, 15s));
  auto t = steady::now();
  auto r = c1.get("/v1/kv/" + hung_key);
  EXPECT_EQ(r->status, 503);
  EXPECT_LT(steady::now() - t, 500ms);
  nodes_[3]->proc->signal(SIGCONT);
  EXPECT_TRUE(wait_until_all({1, 2, 3}, {{"n1", "alive"}, {"n2", "alive"}, {"n3", "alive"}}, 30s));
}

TEST_F(cluster3, a_data_dir_of_another_cluster_or_member_refuses_to_start) {
  start(1);
  nodes_[1]->proc->signal(SIGTERM);
  ASSERT_TRUE(nodes_[1]->proc->wait(10s));
  auto refused = [&](std::vector<std::string> a) -> std::string {
    test::child_process p{SHOAL_SHOALD, a};
    auto status = p.wait(20s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
    std::string out;
    for (auto& l : p.drain_lines()) {
      out += l + "\n";
    }
    return out;
  };
  // Another member list.
  auto a = args(1);
  auto other = "n1=127.0.0.1:" + std::to_string(test::free_port()) + ",n2=127.0.0.1:1";
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    if (a[i] == "--initial-cluster") {
      a[i + 1] = other;
    }
  }
  auto out = refused(a);
  EXPECT_NE(out.find("belongs to cluster"), std::string::npos) << out;
  // Another member's name on this data dir.
  auto b = args(2);
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] == "--data-dir") {
      b[i + 1] = dir_ / "n1";
    }
  }
  out = refused(b);
  EXPECT_NE(out.find("belongs to node 'n1'"), std::string::npos) << out;
  // Another shard count.
  auto c = args(1);
  for (size_t i = 0; i + 1 < c.size(); ++i) {
    if (c[i] == "--shards") {
      c[i + 1] = "8";
    }
  }
  out = refused(c);
  EXPECT_NE(out.find("shards"), std::string::npos) << out;
  // The right flags start again; so does the member without its flags.
  start(1);
  auto s = cluster_status(1);
  EXPECT_EQ(s["self"], "n1");
  EXPECT_EQ(s["members"].size(), 3u);
}

} // namespace
} // namespace shoal
