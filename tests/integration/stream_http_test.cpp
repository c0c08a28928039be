// streams over real HTTP against a real node: appends (single, batched,
// expectations, event ids, JSON and binary payloads), reads both ways,
// metadata and retention, listing, checkpoints, replay, the tail
// WebSocket, bad input, and SIGKILL of shoald under appends.

#include <map>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "tests/support/http_node.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class stream_http_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  json call(const std::string& verb, const std::string& target,
            const json& body = nullptr, unsigned expect = 200) {
    return node_.call(verb, target, body, expect);
  }

  json append(const std::string& stream, json body, unsigned expect = 201) {
    return call("POST", "/v1/streams/" + stream + "/events", body, expect);
  }

  // Reads the next JSON frame of `ws`, failing the test on timeout.
  static json next(http::ws_client& ws) {
    auto m = ws.read(5s);
    EXPECT_TRUE(m) << to_string(m.err());
    return m ? json::parse(*m) : json{};
  }

  test::http_node node_;
};

TEST_F(stream_http_test, append_and_read_events) {
  auto one = append("acct.1", {{"type", "opened"}, {"data", {{"owner", "ann"}}}});
  EXPECT_EQ(one["seqs"], json::array({1}));
  EXPECT_EQ(one["last_seq"], 1);
  EXPECT_EQ(one["appended"], 1);
  auto many = append("acct.1", {{"events",
                                 {{{"type", "deposited"}, {"data", 10}},
                                  {{"type", "blob"}, {"data_base64", "AAEC"}},
                                  {{"type", "tagged"},
                                   {"data", "x"},
                                   {"metadata", {{"by", "ops"}}},
                                   {"id", "t-1"}}}},
                                {"expected", 1}});
  EXPECT_EQ(many["seqs"], json::array({2, 3, 4}));
  auto page = call("GET", "/v1/streams/acct.1/events?from=1&limit=10");
  ASSERT_EQ(page["events"].size(), 4u);
  EXPECT_EQ(page["events"][0]["data"]["owner"], "ann");
  EXPECT_EQ(page["events"][1]["data"], 10);
  EXPECT_EQ(page["events"][2]["data_base64"], "AAEC");
  EXPECT_EQ(page["events"][3]["metadata"]["by"], "ops");
  EXPECT_EQ(page["events"][3]["id"], "t-1");
  EXPECT_EQ(page["last_seq"], 4);
  EXPECT_FALSE(page.contains("next"));
  auto back = call("GET", "/v1/streams/acct.1/events?direction=backward&limit=2");
  ASSERT_EQ(back["events"].size(), 2u);
  EXPECT_EQ(back["events"][0]["seq"], 4);
  EXPECT_EQ(back["next"], 2);
  auto middle = call("GET", "/v1/streams/acct.1/events?from=2&limit=1");
  EXPECT_EQ(middle["next"], 3);
  auto info = call("GET", "/v1/streams/acct.1");
  EXPECT_EQ(info["last_seq"], 4);
  EXPECT_EQ(info["count"], 4);
}

TEST_F(stream_http_test, expectations_and_retried_ids) {
  append("s", {{"type", "a"}, {"id", "e-1"}}, 201);
  // Expected nothing: 409 with the current seq.
  auto stale = call("POST", "/v1/streams/s/events?expected=no_stream",
                    {{"type", "b"}}, 409);
  EXPECT_EQ(stale["error"]["code"], "seq_mismatch");
  EXPECT_EQ(stale["error"]["current"], 1);
  auto wrong = append("s", {{"type", "b"}, {"expected", "7"}}, 409);
  EXPECT_EQ(wrong["error"]["current"], 1);
  // A retry of an appended id: 200, its first seq, nothing new.
  auto retry = append("s", {{"type", "a"}, {"id", "e-1"}}, 200);
  EXPECT_EQ(retry["seqs"], json::array({1}));
  EXPECT_EQ(retry["duplicate"], json::array({true}));
  EXPECT_EQ(retry["appended"], 0);
  append("s", {{"type", "b"}, {"expected", "any"}}, 201);
  EXPECT_EQ(call("GET", "/v1/streams/s")["last_seq"], 2);
}

TEST_F(stream_http_test, bad_input_is_refused_with_nothing_appended) {
  EXPECT_EQ(append("s", {{"data", 1}}, 400)["error"]["code"], "invalid_argument");
  EXPECT_EQ(append("s", {{"type", "a"}, {"colour", "red"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(append("s", {{"events", json::array()}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(append("s", {{"events", {{{"type", "a"}}, {{"type", 5}}}}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(append("s", {{"type", "a"}, {"data_base64", "***"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(append("s", {{"type", "a"}, {"expected", -1}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(append("$entity.x", {{"type", "a"}}, 400)["error"]["code"], "invalid_key");
  EXPECT_EQ(append("bad*name", {{"type", "a"}}, 400)["error"]["code"], "invalid_key");
  auto raw = node_.raw("POST", "/v1/streams/s/events", "{not json", 400);
  EXPECT_EQ(raw["error"]["code"], "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/streams/s", nullptr, 404)["error"]["code"], "not_found");
  EXPECT_EQ(call("GET", "/v1/streams/s/events?limit=0", nullptr, 400)["error"]["code"],
            "invalid_argument");
  call("GET", "/v1/streams/s/events?direction=up", nullptr, 400);
  call("GET", "/v1/streams/s/events?from=x", nullptr, 400);
}

TEST_F(stream_http_test, retention_truncation_and_listing) {
  for (int i = 0; i < 6; ++i) {
    append("log.a", {{"type", "e"}, {"data", i}});
  }
  append("log.b", {{"type", "e"}});
  append("other", {{"type", "e"}});
  auto info = call("PUT", "/v1/streams/log.a", {{"max_count", 4}, {"max_age", "1h"}});
  EXPECT_EQ(info["first_seq"], 3);
  EXPECT_EQ(info["retention"]["max_count"], 4);
  EXPECT_EQ(info["retention"]["max_age"], "1h");
  info = call("PUT", "/v1/streams/log.a", {{"truncate_before", 5}});
  EXPECT_EQ(info["first_seq"], 5);
  EXPECT_EQ(call("GET", "/v1/streams/log.a/events")["events"][0]["seq"], 5);
  call("PUT", "/v1/streams/log.a", {{"truncate_before", 99}}, 400);
  call("PUT", "/v1/streams/log.a", {{"max_cnt", 1}}, 400);
  auto list = call("GET", "/v1/streams?prefix=log.&limit=1");
  EXPECT_EQ(list["streams"], json::array({"log.a"}));
  EXPECT_EQ(list["after"], "log.a");
  auto rest = call("GET", "/v1/streams?prefix=log.&after=log.a");
  EXPECT_EQ(rest["streams"], json::array({"log.b"}));
  EXPECT_FALSE(rest.contains("after"));
  EXPECT_EQ(call("GET", "/v1/streams")["streams"].size(), 3u);
}

TEST_F(stream_http_test, checkpoints_and_replay) {
  for (int i = 1; i <= 10; ++i) {
    append("acct", {{"type", "deposited"}, {"data", i}});
  }
  call("GET", "/v1/streams/acct/checkpoints", nullptr, 404);
  auto saved = node_.raw("PUT", "/v1/streams/acct/checkpoints/4", R"({"balance":10})", 201);
  EXPECT_EQ(saved["seq"], 4);
  node_.raw("PUT", "/v1/streams/acct/checkpoints/11", "{}", 400);
  auto cp = call("GET", "/v1/streams/acct/checkpoints/4");
  EXPECT_EQ(cp["state"]["balance"], 10);
  call("GET", "/v1/streams/acct/checkpoints/5", nullptr, 404);
  EXPECT_EQ(call("GET", "/v1/streams/acct/checkpoints?at_or_before=9")["seq"], 4);
  // Replay to 7: the checkpoint at 4, then events 5..7.
  auto r = call("GET", "/v1/streams/acct/replay?target=7");
  EXPECT_EQ(r["target"], 7);
  EXPECT_EQ(r["checkpoint"]["seq"], 4);
  ASSERT_EQ(r["events"].size(), 3u);
  EXPECT_EQ(r["events"][0]["seq"], 5);
  EXPECT_EQ(r["events"][2]["seq"], 7);
  int balance = r["checkpoint"]["state"]["balance"];
  for (const auto& e : r["events"]) {
    balance += e["data"].get<int>();
  }
  EXPECT_EQ(balance, 28);
  // Before the checkpoint: from the start.
  auto early = call("GET", "/v1/streams/acct/replay?target=3");
  EXPECT_TRUE(early["checkpoint"].is_null());
  EXPECT_EQ(early["events"].size(), 3u);
  // Paged.
  auto paged = call("GET", "/v1/streams/acct/replay?target=10&limit=2");
  EXPECT_EQ(paged["events"].size(), 2u);
  EXPECT_EQ(paged["next"], 7);
  EXPECT_EQ(call("GET", "/v1/streams/acct/replay?target=11", nullptr, 400)["error"]["current"],
            10);
  // Binary states come back as base64.
  http::client c{"127.0.0.1", node_.port()};
  auto bin = c.request("PUT", "/v1/streams/acct/checkpoints/8", std::string("\x01\x02", 2),
                       "application/octet-stream");
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->status, 201u);
  EXPECT_EQ(call("GET", "/v1/streams/acct/checkpoints/8")["state_base64"], "AQI=");
}

TEST_F(stream_http_test, tail_catches_up_then_follows) {
  for (int i = 1; i <= 3; ++i) {
    append("t", {{"type", "e"}, {"data", i}});
  }
  auto ws = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/streams/t/tail?from=2");
  ASSERT_TRUE(ws) << to_string(ws.err());
  EXPECT_EQ(next(*ws)["seq"], 2);
  EXPECT_EQ(next(*ws)["seq"], 3);
  auto live = next(*ws);
  EXPECT_EQ(live["kind"], "live");
  EXPECT_EQ(live["seq"], 3);
  append("t", {{"type", "e"}, {"data", 4}});
  auto ev = next(*ws);
  EXPECT_EQ(ev["kind"], "event");
  EXPECT_EQ(ev["seq"], 4);
  EXPECT_EQ(ev["data"], 4);
  // from=0: only new events.
  auto fresh = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/streams/t/tail");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(next(*fresh)["kind"], "live");
  append("t", {{"type", "e"}, {"data", 5}});
  EXPECT_EQ(next(*fresh)["seq"], 5);
  EXPECT_EQ(next(*ws)["seq"], 5);
  ASSERT_TRUE(ws->close());
  ASSERT_TRUE(fresh->close());
  // A tail from removed events ends with compacted.
  call("PUT", "/v1/streams/t", {{"truncate_before", 3}});
  auto old = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/streams/t/tail?from=1");
  ASSERT_TRUE(old);
  auto err = next(*old);
  EXPECT_EQ(err["kind"], "error");
  EXPECT_EQ(err["error"]["code"], "compacted");
  EXPECT_EQ(err["error"]["current"], 3);
  EXPECT_EQ(http::ws_client::connect("127.0.0.1", node_.port(), "/v1/streams/a*b/tail").code(),
            errc::invalid_key);
}

TEST_F(stream_http_test, entities_project_their_events) {
  auto made = call("POST", "/v1/entities/user.1/events",
                   {{"attributes", {{"name", "ann"}, {"tags", {"a", "b"}}}}, {"by", "signup"}},
                   201);
  EXPECT_EQ(made["entity_id"], "user.1");
  EXPECT_EQ(made["seqs"], json::array({1}));
  EXPECT_EQ(made["entity"]["attributes"]["name"], "ann");
  auto changed = call("POST", "/v1/entities/user.1/events",
                      {{"events",
                        {{{"op", "merge"}, {"attributes", {{"tags", nullptr}, {"age", 31}}}},
                         {{"op", "merge"}, {"attributes", {{"city", "oslo"}}}, {"id", "c-1"}}}},
                       {"expected", 1}},
                      201);
  EXPECT_EQ(changed["seqs"], json::array({2, 3}));
  auto u = call("GET", "/v1/entities/user.1");
  EXPECT_EQ(u["attributes"], json({{"name", "ann"}, {"age", 31}, {"city", "oslo"}}));
  EXPECT_EQ(u["seq"], 3);
  EXPECT_EQ(u["updated_by"], "");
  // Time travel.
  auto then = call("GET", "/v1/entities/user.1?at=1");
  EXPECT_EQ(then["attributes"]["tags"], json::array({"a", "b"}));
  EXPECT_FALSE(then["attributes"].contains("age"));
  call("GET", "/v1/entities/user.1?at=9", nullptr, 400);
  call("GET", "/v1/entities/nobody", nullptr, 404);
  call("GET", "/v1/entities/nobody?at=1", nullptr, 404);
  // The entity's stream is readable, its changes as data.
  auto events = call("GET", "/v1/streams/$entity.user.1/events");
  ASSERT_EQ(events["events"].size(), 3u);
  EXPECT_EQ(events["events"][0]["type"], "merge");
  EXPECT_EQ(events["events"][0]["data"]["by"], "signup");
  EXPECT_EQ(events["events"][2]["id"], "c-1");
  // Bad changes: nothing appended.
  call("POST", "/v1/entities/user.1/events", {{"op", "replace"}, {"attributes", json::object()}}, 400);
  call("POST", "/v1/entities/user.1/events", {{"op", "set"}, {"attributes", {{"a", nullptr}}}}, 400);
  call("POST", "/v1/entities/user.1/events", {{"op", "delete"}, {"attributes", {{"a", 1}}}}, 400);
  call("POST", "/v1/entities/user.1/events", {{"attributes", 5}}, 400);
  call("POST", "/v1/entities/user.1/events", {{"events", json::array()}}, 400);
  call("POST", "/v1/entities/bad*id/events", {{"attributes", {{"a", 1}}}}, 400);
  EXPECT_EQ(call("POST", "/v1/entities/user.1/events", {{"attributes", {{"a", 1}}}, {"expected", 1}},
                 409)["error"]["current"],
            3);
  EXPECT_EQ(call("GET", "/v1/entities/user.1")["seq"], 3);
  // Listing by pattern.
  call("POST", "/v1/entities/user.2/events", {{"attributes", {{"name", "bob"}}}}, 201);
  call("POST", "/v1/entities/order.1/events", {{"attributes", {{"total", 5}}}}, 201);
  auto users = call("GET", "/v1/entities?pattern=user.>&limit=1");
  ASSERT_EQ(users["entities"].size(), 1u);
  EXPECT_EQ(users["entities"][0]["id"], "user.1");
  EXPECT_EQ(users["after"], "user.1");
  auto rest = call("GET", "/v1/entities?pattern=user.>&after=user.1");
  EXPECT_EQ(rest["entities"][0]["id"], "user.2");
  EXPECT_EQ(call("GET", "/v1/entities")["entities"].size(), 3u);
  call("GET", "/v1/entities?pattern=a b", nullptr, 400);
  // Delete.
  auto gone = call("POST", "/v1/entities/user.2/events", {{"op", "delete"}}, 201);
  EXPECT_TRUE(gone["entity"].is_null());
  call("GET", "/v1/entities/user.2", nullptr, 404);
}

TEST(stream_process, acknowledged_appends_survive_sigkill_contiguous_and_whole) {
  test::temp_dir dir{"shoal-stream-kill"};
  std::vector<std::string> args{"--data-dir", dir / "data", "--http", "127.0.0.1:0",
                                "--shards", "8", "--ports-file", dir / "ports.json"};
  constexpr int threads = 6;
  constexpr int batch = 5;
  std::mutex mtx;
  // Per stream: the last seq acknowledged.
  std::map<int, uint64_t> acked_last;
  size_t acked = 0;
  auto body_of = [](int t, int round) {
    json events = json::array();
    for (int j = 0; j < batch; ++j) {
      events.push_back({{"type", "e"},
                        {"data", {{"round", round}, {"j", j}}},
                        {"id", std::to_string(t) + "-" + std::to_string(round) + "-"
                                 + std::to_string(j)}});
    }
    return json{{"events", events}}.dump();
  };
  auto started = test::kill_under_load(
    SHOAL_SHOALD, args, dir / "ports.json", threads,
    [&](uint16_t port, int t, const std::atomic<bool>& stop) {
      http::client c{"127.0.0.1", port, 5s};
      for (int round = 0; !stop; ++round) {
        auto r = c.request("POST", "/v1/streams/s." + std::to_string(t) + "/events",
                           body_of(t, round));
        if (!r || r->status != 201) {
          return;
        }
        auto answer = json::parse(r->body);
        std::lock_guard guard{mtx};
        acked_last[t] = answer["last_seq"];
        acked += batch;
      }
    },
    [&] {
      std::lock_guard guard{mtx};
      return acked;
    },
    1000);
  ASSERT_TRUE(started);
  auto again = test::start_shoald(SHOAL_SHOALD, args, dir / "ports.json");
  ASSERT_TRUE(again);
  http::client c{"127.0.0.1", again->ports.http};
  for (const auto& [t, last] : acked_last) {
    auto target = "/v1/streams/s." + std::to_string(t);
    auto info = c.get(target);
    ASSERT_TRUE(info);
    auto have = json::parse(info->body)["last_seq"].get<uint64_t>();
    EXPECT_GE(have, last) << "stream " << t;
    // Whole batches only, contiguous from 1, in round order.
    EXPECT_EQ(have % batch, 0u);
    uint64_t seq = 1;
    while (seq <= have) {
      auto r = c.get(target + "/events?from=" + std::to_string(seq) + "&limit=1000");
      ASSERT_TRUE(r);
      auto page = json::parse(r->body);
      ASSERT_FALSE(page["events"].empty());
      for (const auto& e : page["events"]) {
        ASSERT_EQ(e["seq"], seq);
        auto i = seq - 1;
        EXPECT_EQ(e["data"]["round"], i / batch);
        EXPECT_EQ(e["data"]["j"], i % batch);
        ++seq;
      }
    }
  }
}

} // namespace
} // namespace shoal
