// aggregates over real HTTP against a real node: the catalog routes, merges
// (single and batched) and reads of every kind, windows, get_many, dedup,
// the WebSocket stream of merges, bad input, and SIGKILL of shoald under
// a stream of merges with event ids, re-sent in full after the restart.

#include <atomic>
#include <map>
#include <mutex>
#include <set>

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

class agg_http_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  json call(const std::string& verb, const std::string& target,
            const json& body = nullptr, unsigned expect = 200) {
    return node_.call(verb, target, body, expect);
  }

  void define(const std::string& name, json body) {
    call("PUT", "/v1/aggregates/" + name, body, 201);
  }

  json merge(const std::string& name, json body, unsigned expect = 200) {
    return call("POST", "/v1/aggregates/" + name + "/merge", body, expect);
  }

  json read(const std::string& name, const std::string& entity_and_query,
            unsigned expect = 200) {
    return call("GET", "/v1/aggregates/" + name + "/" + entity_and_query, nullptr, expect);
  }

  test::http_node node_;
};

TEST_F(agg_http_test, the_catalog_declares_describes_and_drops) {
  auto made = call("PUT", "/v1/aggregates/page.views",
                   {{"kind", "sum"}, {"window", "1h"}, {"retention", "48h"}}, 201);
  EXPECT_EQ(made["kind"], "sum");
  EXPECT_EQ(made["window"], "1h");
  EXPECT_EQ(made["retention"], "2d");
  EXPECT_EQ(made["dedup_retention"], "1d");
  // The same again: 200, nothing changes.
  call("PUT", "/v1/aggregates/page.views",
       {{"kind", "sum"}, {"window", "1h"}, {"retention", "48h"}}, 200);
  // Retention may change, the kind may not.
  EXPECT_EQ(call("PUT", "/v1/aggregates/page.views",
                 {{"kind", "sum"}, {"window", "1h"}, {"retention", "72h"}}, 200)["retention"],
            "3d");
  auto conflict = call("PUT", "/v1/aggregates/page.views", {{"kind", "max"}}, 409);
  EXPECT_EQ(conflict["error"]["code"], "conflict");
  define("top.pages", {{"kind", "topk"}, {"k", 5}});
  EXPECT_EQ(call("GET", "/v1/aggregates/top.pages")["k"], 5);
  EXPECT_EQ(call("GET", "/v1/aggregates")["aggregates"].size(), 2u);
  // Bad definitions.
  call("PUT", "/v1/aggregates/x", {{"kind", "median"}}, 400);
  call("PUT", "/v1/aggregates/x", {{"kind", "sum"}, {"colour", "red"}}, 400);
  call("PUT", "/v1/aggregates/x", {{"kind", "sum"}, {"window", "soon"}}, 400);
  call("PUT", "/v1/aggregates/x", {{"kind", "topk"}, {"k", 0}}, 400);
  call("PUT", "/v1/aggregates/x", {{"kind", "bloom"}, {"fp_rate", 2.0}}, 400);
  call("PUT", "/v1/aggregates/x", {}, 400);
  call("PUT", "/v1/aggregates/a..b", {{"kind", "sum"}}, 400);
  call("GET", "/v1/aggregates/x", nullptr, 404);
  // Drop takes the values with it.
  merge("page.views", {{"entity", "/home"}, {"delta", 4}});
  EXPECT_EQ(call("DELETE", "/v1/aggregates/page.views")["dropped"], true);
  call("DELETE", "/v1/aggregates/page.views", nullptr, 404);
  read("page.views", "/home", 404);
  merge("page.views", {{"entity", "/home"}, {"delta", 1}}, 404);
}

TEST_F(agg_http_test, windowed_sums_read_by_bucket_range_last_and_time) {
  define("views", {{"kind", "sum"}, {"window", "1h"}, {"retention", "240h"}});
  auto now = node_.get().clock().now();
  for (int h = 0; h < 4; ++h) {
    auto r = merge("views", {{"entity", "home"},
                             {"delta", (h + 1) * 10},
                             {"at", format_rfc3339(now - h * 1h)}});
    EXPECT_EQ(r["duplicate"], false);
  }
  auto current = read("views", "home");
  EXPECT_EQ(current["value"], 10);
  EXPECT_EQ(current["found"], true);
  EXPECT_EQ(current["kind"], "sum");
  auto b = current["from"].get<int64_t>();
  EXPECT_EQ(current["to"], b + 1);
  EXPECT_TRUE(current.contains("from_time"));
  EXPECT_TRUE(current.contains("expires_at"));
  EXPECT_EQ(read("views", "home?bucket=" + std::to_string(b - 2))["value"], 30);
  EXPECT_EQ(read("views", "home?last=2")["value"], 10 + 20);
  EXPECT_EQ(read("views", "home?from=" + std::to_string(b - 3) + "&to=" + std::to_string(b))
              ["value"],
            20 + 30 + 40);
  EXPECT_EQ(read("views", "home?at=" + format_rfc3339(now - 3h))["value"], 40);
  auto none = read("views", "nobody");
  EXPECT_EQ(none["found"], false);
  EXPECT_EQ(none["value"], 0);
  // Bad reads.
  read("views", "home?last=0", 400);
  read("views", "home?bucket=x", 400);
  read("views", "home?from=5", 400);
  read("views", "home?from=5&to=1", 400);
  read("views", "home?last=2&bucket=1", 400);
  read("views", "home?at=yesterday", 400);
  read("views", "home?contains=x", 400);
  // Entities may hold slashes.
  merge("views", {{"entity", "/blog/post-1"}, {"delta", 7}});
  EXPECT_EQ(read("views", "/blog/post-1")["value"], 7);
  EXPECT_EQ(read("views", "/blog/post-1")["entity"], "/blog/post-1");
  // get_many: one result per entity, in order.
  auto many = call("POST", "/v1/aggregates/views/get_many",
                   {{"entities", {"nobody", "home", "/blog/post-1"}}, {"last", 4}});
  ASSERT_EQ(many["results"].size(), 3u);
  EXPECT_EQ(many["results"][0]["found"], false);
  EXPECT_EQ(many["results"][1]["value"], 100);
  EXPECT_EQ(many["results"][2]["value"], 7);
  call("POST", "/v1/aggregates/views/get_many", {{"entities", json::array()}}, 400);
  call("POST", "/v1/aggregates/views/get_many", {{"entities", {1, 2}}}, 400);
  call("POST", "/v1/aggregates/views/get_many", {{"keys", {"a"}}}, 400);
}

TEST_F(agg_http_test, batches_apply_each_merge_or_refuse_malformed_ones_whole) {
  define("clicks", {{"kind", "sum"}});
  json merges = json::array();
  for (int i = 0; i < 50; ++i) {
    merges.push_back({{"entity", "e" + std::to_string(i % 5)}, {"delta", 1},
                      {"event_id", "c" + std::to_string(i)}});
  }
  auto r = merge("clicks", {{"merges", merges}});
  ASSERT_EQ(r["results"].size(), 50u);
  EXPECT_EQ(r["failed"], 0);
  // Re-sent: every one a duplicate.
  r = merge("clicks", {{"merges", merges}});
  for (const auto& o : r["results"]) {
    EXPECT_EQ(o["duplicate"], true);
  }
  EXPECT_EQ(read("clicks", "e3")["value"], 10);
  // A malformed merge refuses the whole batch, with its index.
  auto bad = merges;
  bad.push_back({{"entity", "e0"}, {"delta", "one"}});
  bad[0]["event_id"] = "fresh";
  auto refused = merge("clicks", {{"merges", bad}}, 400);
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("merges[50]"),
            std::string::npos);
  EXPECT_EQ(read("clicks", "e0")["value"], 10);
  // A merge the shard refuses (overflow) fails alone.
  json mixed = json::array({{{"entity", "big"}, {"delta", INT64_MAX}},
                            {{"entity", "big"}, {"delta", 1}},
                            {{"entity", "small"}, {"delta", 1}}});
  r = merge("clicks", {{"merges", mixed}});
  EXPECT_EQ(r["failed"], 1);
  EXPECT_EQ(r["results"][1]["error"]["code"], "invalid_argument");
  EXPECT_EQ(read("clicks", "big")["value"], INT64_MAX);
  EXPECT_EQ(read("clicks", "small")["value"], 1);
  merge("clicks", {{"merges", json::array()}}, 400);
  merge("clicks", {{"merges", merges}, {"entity", "x"}}, 400);
  merge("clicks", {{"entity", "x"}}, 400);
  merge("clicks", {{"entity", "x"}, {"delta", 1.5}}, 400);
  merge("clicks", {{"entity", ""}, {"delta", 1}}, 400);
  merge("clicks", {{"entity", std::string(2000, 'x')}, {"delta", 1}}, 400);
  merge("clicks", {{"entity", "x"}, {"delta", 1}, {"ttl", "-1s"}}, 400);
  merge("clicks", {{"entity", "x"}, {"delta", 1}, {"at", "now"}}, 400);
  merge("clicks", {{"entity", "x"}, {"delta", 1}, {"bucket", 3}}, 400);
  EXPECT_EQ(node_.raw("POST", "/v1/aggregates/clicks/merge", "{\"entity\":", 400)["error"]["code"],
            "invalid_argument");
}

TEST_F(agg_http_test, every_kind_takes_its_deltas_and_reads_back) {
  define("n", {{"kind", "count"}});
  define("lo", {{"kind", "min"}});
  define("hi", {{"kind", "max"}});
  define("first", {{"kind", "first"}});
  define("last", {{"kind", "last"}});
  define("uniq", {{"kind", "hll"}});
  define("top", {{"kind", "topk"}, {"k", 3}});
  define("seen", {{"kind", "bloom"}, {"capacity", 1000}, {"fp_rate", 0.001}});
  define("tags", {{"kind", "set"}, {"max_elements", 3}});
  merge("n", {{"entity", "x"}, {"delta", 2}});
  merge("n", {{"entity", "x"}, {"delta", -1}}, 400);
  EXPECT_EQ(read("n", "x")["value"], 2);
  EXPECT_EQ(read("lo", "x")["value"], nullptr);
  for (double v : {3.5, -2.0, 8.0}) {
    merge("lo", {{"entity", "x"}, {"delta", v}});
    merge("hi", {{"entity", "x"}, {"delta", v}});
  }
  EXPECT_EQ(read("lo", "x")["value"], -2.0);
  EXPECT_EQ(read("hi", "x")["value"], 8.0);
  auto t0 = node_.get().clock().now();
  merge("first", {{"entity", "x"}, {"delta", "b"}, {"at", format_rfc3339(t0)}});
  merge("first", {{"entity", "x"}, {"delta", "a"}, {"at", format_rfc3339(t0 - 1s)}});
  merge("last", {{"entity", "x"}, {"delta", "b"}, {"at", format_rfc3339(t0)}});
  merge("last", {{"entity", "x"}, {"delta", "a"}, {"at", format_rfc3339(t0 - 1s)}});
  EXPECT_EQ(read("first", "x")["value"]["value"], "a");
  EXPECT_EQ(read("last", "x")["value"]["value"], "b");
  merge("first", {{"entity", "x"}, {"delta", 1}}, 400);
  merge("uniq", {{"entity", "x"}, {"delta", {"ann", "bob", "ann"}}});
  merge("uniq", {{"entity", "x"}, {"delta", "cid"}});
  EXPECT_EQ(read("uniq", "x")["value"]["estimate"], 3);
  merge("top", {{"entity", "x"}, {"delta", {{"/a", 10}, {"/b", 5}}}});
  merge("top", {{"entity", "x"}, {"delta", {"/c", "/a"}}});
  auto top = read("top", "x")["value"];
  EXPECT_EQ(top["items"][0]["element"], "/a");
  EXPECT_EQ(top["items"][0]["count"], 11);
  EXPECT_EQ(top["total"], 17);
  merge("top", {{"entity", "x"}, {"delta", {{"/a", -1}}}}, 400);
  merge("seen", {{"entity", "x"}, {"delta", {"k1", "k2"}}});
  EXPECT_EQ(read("seen", "x?contains=k1")["contains"], true);
  EXPECT_EQ(read("seen", "x?contains=k9")["contains"], false);
  merge("tags", {{"entity", "x"}, {"delta", {"d", "c", "b", "a"}}});
  auto tags = read("tags", "x?contains=a");
  EXPECT_EQ(tags["value"]["elements"], json({"a", "b", "c"}));
  EXPECT_EQ(tags["value"]["truncated"], true);
  EXPECT_EQ(tags["contains"], true);
  merge("tags", {{"entity", "x"}, {"delta", 5}}, 400);
  merge("uniq", {{"entity", "x"}, {"delta", {{"a", 1}}}}, 400);
}

TEST_F(agg_http_test, dedup_marks_are_first_seen_once) {
  EXPECT_EQ(call("POST", "/v1/dedup/payments/tx-1", {{"retention", "1h"}})["first_seen"], true);
  EXPECT_EQ(call("POST", "/v1/dedup/payments/tx-1", {{"retention", "1h"}})["first_seen"], false);
  EXPECT_EQ(call("POST", "/v1/dedup/refunds/tx-1")["first_seen"], true);
  EXPECT_EQ(call("POST", "/v1/dedup/payments/a/b/c")["first_seen"], true);
  call("POST", "/v1/dedup/payments/tx-2", {{"retention", "0s"}}, 400);
  call("POST", "/v1/dedup/payments/tx-2", {{"retention", "forever"}}, 400);
  call("POST", "/v1/dedup/payments/tx-2", {{"ttl", "1h"}}, 400);
  call("POST", "/v1/dedup/a..b/tx-2", nullptr, 400);
}

TEST_F(agg_http_test, the_merge_stream_shows_durable_merges_but_not_duplicates) {
  define("views", {{"kind", "sum"}});
  auto ws = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/aggregates/views/watch");
  ASSERT_TRUE(ws) << to_string(ws.err());
  auto ready = ws->read(5s);
  ASSERT_TRUE(ready) << to_string(ready.err());
  EXPECT_EQ(json::parse(*ready)["type"], "ready");
  merge("views", {{"entity", "home"}, {"delta", 3}, {"event_id", "e1"}});
  merge("views", {{"entity", "home"}, {"delta", 3}, {"event_id", "e1"}});
  merge("views", {{"entity", "blog"}, {"delta", 4}});
  auto first = ws->read(5s);
  ASSERT_TRUE(first) << to_string(first.err());
  auto a = json::parse(*first);
  EXPECT_EQ(a["type"], "merge");
  EXPECT_EQ(a["entity"], "home");
  EXPECT_EQ(a["delta"], 3);
  EXPECT_EQ(a["event_id"], "e1");
  auto second = ws->read(5s);
  ASSERT_TRUE(second);
  EXPECT_EQ(json::parse(*second)["entity"], "blog");
  EXPECT_EQ(ws->read(200ms).code(), errc::timeout);
  auto missing = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/aggregates/nope/watch");
  EXPECT_EQ(missing.code(), errc::not_found);
  ASSERT_TRUE(ws->close());
}

TEST(agg_process, every_event_counts_once_across_sigkill_and_full_resend) {
  test::temp_dir dir{"shoal-agg-kill"};
  std::vector<std::string> args{"--data-dir", dir / "data", "--http", "127.0.0.1:0",
                                "--shards", "8", "--ports-file", dir / "ports.json"};
  constexpr int threads = 6;
  constexpr int batch = 10;
  std::mutex mtx;
  // Every event id a thread sent (acknowledged or not), and the acknowledged.
  std::map<int, int> sent;
  size_t acked = 0;
  auto body_of = [](int t, int from, int n) {
    json merges = json::array();
    for (int i = from; i < from + n; ++i) {
      merges.push_back({{"entity", "e" + std::to_string(t)}, {"delta", 1},
                        {"event_id", std::to_string(t) + "-" + std::to_string(i)}});
    }
    return json{{"merges", merges}}.dump();
  };
  auto started = test::kill_under_load(
    SHOAL_SHOALD, args, dir / "ports.json", threads,
    [&](uint16_t port, int t, const std::atomic<bool>& stop) {
      http::client c{"127.0.0.1", port, 5s};
      auto d = c.request("PUT", "/v1/aggregates/events", R"({"kind":"sum"})");
      if (!d || (d->status != 201 && d->status != 200)) {
        return;
      }
      for (int i = 0; !stop; i += batch) {
        {
          std::lock_guard guard{mtx};
          sent[t] = i + batch;
        }
        auto r = c.request("POST", "/v1/aggregates/events/merge", body_of(t, i, batch));
        if (!r || r->status != 200) {
          return;
        }
        std::lock_guard guard{mtx};
        acked += batch;
      }
    },
    [&] {
      std::lock_guard guard{mtx};
      return acked;
    },
    1000);
  ASSERT_TRUE(started);
  ASSERT_GE(acked, 1000u);
  auto again = test::start_shoald(SHOAL_SHOALD, args, dir / "ports.json");
  ASSERT_TRUE(again);
  http::client c{"127.0.0.1", again->ports.http};
  // Everything again, acknowledged or not.
  size_t duplicates = 0;
  for (const auto& [t, n] : sent) {
    for (int i = 0; i < n; i += batch) {
      auto r = c.request("POST", "/v1/aggregates/events/merge", body_of(t, i, batch));
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200u) << r->body;
      auto answer = json::parse(r->body);
      for (const auto& o : answer["results"]) {
        duplicates += o["duplicate"] == true ? 1 : 0;
      }
    }
  }
  EXPECT_GE(duplicates, acked);
  for (const auto& [t, n] : sent) {
    auto r = c.get("/v1/aggregates/events/e" + std::to_string(t));
    ASSERT_TRUE(r);
    EXPECT_EQ(json::parse(r->body)["value"], n) << "thread " << t;
  }
}

} // namespace
} // namespace shoal
