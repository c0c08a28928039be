// Watch over real WebSockets: live changes, initial values, resume without
// gaps or duplicates, compaction, slow consumers, filters, expiry, restart.

#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/gateway.hpp"
#include "runtime/base64.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class kv_watch_test : public testing::Test {
protected:
  void SetUp() override {
    start("");
  }

  void TearDown() override {
    if (node_) {
      node_->stop();
    }
  }

  void start(const std::string& data_dir, size_t log_max = 10'000,
             size_t ws_buffer = 4 * 1024 * 1024) {
    node_config cfg;
    cfg.data_dir = data_dir;
    cfg.http_address = "127.0.0.1:0";
    cfg.worker_threads = 2;
    cfg.shard_count = 8;
    cfg.kv.log_max_count = log_max;
    http::server_config sc;
    sc.ws_send_buffer_bytes = ws_buffer;
    cfg.services.push_back(http::gateway_service(sc));
    auto n = node::start(cfg);
    ASSERT_TRUE(n) << to_string(n.err());
    node_ = std::move(n).value();
    port_ = dynamic_cast<http::gateway*>(node_->service("http"))->port();
  }

  json call(const std::string& verb, const std::string& target,
            const std::string& body = {}) {
    http::client c{"127.0.0.1", port_};
    auto r = c.request(verb, target, body, "application/octet-stream");
    EXPECT_TRUE(r);
    EXPECT_LT(r->status, 300u) << r->body;
    return json::parse(r->body, nullptr, false);
  }

  // Opens a watch; unless told otherwise, returns once the server says it
  // is registered (`synced`), so that every later change is covered.
  http::ws_client watch(const std::string& query, bool wait_synced = true) {
    auto ws = http::ws_client::connect("127.0.0.1", port_, "/v1/watch?" + query);
    EXPECT_TRUE(ws) << (ws ? "" : to_string(ws.err()));
    if (ws && wait_synced) {
      auto m = next(*ws);
      EXPECT_TRUE(m && (*m)["type"] == "synced") << (m ? m->dump() : "nothing");
    }
    return std::move(ws).value();
  }

  // Reads messages until one of type `type` (skipping progress) or timeout.
  static std::optional<json> next(http::ws_client& ws,
                                  std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      auto m = ws.read(std::max(left, 1ms));
      if (!m) {
        return std::nullopt;
      }
      auto j = json::parse(*m);
      if (j["type"] != "progress") {
        return j;
      }
    }
    return std::nullopt;
  }

  static std::string value_of(const json& j) {
    return *base64_decode(j["value"].get<std::string>());
  }

  std::unique_ptr<node> node_;
  uint16_t port_ = 0;
};

TEST_F(kv_watch_test, live_changes_matching_the_pattern_arrive_in_order) {
  auto ws = watch("pattern=svc.>");
  call("PUT", "/v1/kv/svc.a", "1");
  call("PUT", "/v1/kv/other", "x");
  call("PUT", "/v1/kv/svc.a", "2");
  call("DELETE", "/v1/kv/svc.a");
  call("PUT", "/v1/kv/svc.b.c", "3");
  std::vector<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < 4; ++i) {
    auto m = next(ws);
    ASSERT_TRUE(m);
    ASSERT_EQ((*m)["type"], "event") << m->dump();
    EXPECT_TRUE((*m)["cursor"].is_string());
    seen.emplace_back((*m)["key"], (*m)["operation"]);
    if ((*m)["operation"] == "put") {
      EXPECT_FALSE(value_of(*m).empty());
    }
  }
  // Per-key order holds; keys on other shards may interleave.
  std::vector<std::string> a_ops;
  for (auto& [k, op] : seen) {
    if (k == "svc.a") {
      a_ops.push_back(op);
    }
    EXPECT_NE(k, "other");
  }
  EXPECT_EQ(a_ops, (std::vector<std::string>{"put", "put", "delete"}));
  EXPECT_FALSE(next(ws, 300ms));
}

TEST_F(kv_watch_test, initial_values_come_first_then_synced) {
  call("PUT", "/v1/kv/cfg.a", "1");
  call("PUT", "/v1/kv/cfg.b", "2");
  call("PUT", "/v1/kv/zzz", "3");
  auto ws = watch("pattern=cfg.*&initial=true", false);
  std::map<std::string, std::string> values;
  std::optional<json> m;
  while ((m = next(ws)) && (*m)["type"] == "value") {
    values[(*m)["key"]] = value_of(*m);
  }
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "synced");
  EXPECT_EQ(values, (std::map<std::string, std::string>{{"cfg.a", "1"},
                                                         {"cfg.b", "2"}}));
  call("PUT", "/v1/kv/cfg.a", "4");
  auto ev = next(ws);
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["type"], "event");
  EXPECT_EQ(value_of(*ev), "4");
}

TEST_F(kv_watch_test, resume_from_a_cursor_loses_and_repeats_nothing) {
  std::string cursor;
  {
    auto ws = watch("pattern=>");
    for (int i = 0; i < 20; ++i) {
      call("PUT", "/v1/kv/k" + std::to_string(i % 5), std::to_string(i));
    }
    for (int i = 0; i < 10; ++i) { // read only half, then disconnect
      auto m = next(ws);
      ASSERT_TRUE(m);
      cursor = (*m)["cursor"];
    }
  }
  for (int i = 20; i < 30; ++i) {
    call("PUT", "/v1/kv/k" + std::to_string(i % 5), std::to_string(i));
  }
  auto ws = watch("pattern=>&cursor=" + cursor);
  // Everything not yet seen arrives exactly once; per key, the values are in
  // order and the last one is the current value.
  std::map<std::string, std::vector<int>> per_key;
  size_t count = 0;
  while (auto m = next(ws, 1s)) {
    per_key[(*m)["key"]].push_back(std::stoi(value_of(*m)));
    ++count;
  }
  EXPECT_EQ(count, 20u);
  for (auto& [key, values] : per_key) {
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end())) << key;
    auto current = call("GET", "/v1/kv/" + key);
    EXPECT_EQ(std::to_string(values.back()), value_of(current)) << key;
    EXPECT_EQ(std::adjacent_find(values.begin(), values.end()), values.end());
  }
}

TEST_F(kv_watch_test, bad_pattern_or_cursor_is_refused_before_upgrade) {
  auto bad = http::ws_client::connect("127.0.0.1", port_, "/v1/watch?pattern=a*b");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.code(), errc::invalid_key);
  auto cur = http::ws_client::connect("127.0.0.1", port_,
                                      "/v1/watch?cursor=nonsense");
  ASSERT_FALSE(cur);
  EXPECT_EQ(cur.code(), errc::invalid_argument);
}

TEST_F(kv_watch_test, filters_drop_puts_or_deletes_at_the_server) {
  auto ws = watch("pattern=f.>&no_puts=true");
  call("PUT", "/v1/kv/f.a", "1");
  call("DELETE", "/v1/kv/f.a");
  auto m = next(ws);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["operation"], "delete");
  auto ws2 = watch("pattern=f.>&no_deletes=true");
  call("PUT", "/v1/kv/f.b", "1");
  call("DELETE", "/v1/kv/f.b");
  call("PUT", "/v1/kv/f.c", "2");
  auto a = next(ws2);
  auto b = next(ws2);
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)["operation"], "put");
  EXPECT_EQ((*b)["operation"], "put");
  EXPECT_FALSE(next(ws2, 300ms));
}

TEST_F(kv_watch_test, expiry_is_delivered_as_an_event) {
  auto ws = watch("pattern=lease.a");
  call("PUT", "/v1/kv/lease.a?ttl=200ms", "x");
  auto put = next(ws);
  ASSERT_TRUE(put);
  EXPECT_EQ((*put)["operation"], "put");
  auto exp = next(ws, 5s);
  ASSERT_TRUE(exp);
  EXPECT_EQ((*exp)["operation"], "expire");
  EXPECT_EQ((*exp)["prev_revision"], (*put)["revision"]);
}

TEST_F(kv_watch_test, progress_heartbeats_carry_the_cursor) {
  auto ws = watch("pattern=p.>&progress=100ms");
  auto m = ws.read(3s);
  ASSERT_TRUE(m);
  auto j = json::parse(*m);
  EXPECT_EQ(j["type"], "progress");
  EXPECT_TRUE(j["cursor"].get<std::string>().starts_with("c1."));
}

TEST_F(kv_watch_test, cursor_older_than_the_retained_log_is_compacted) {
  node_->stop();
  start("", 5);
  std::string cursor;
  {
    auto ws = watch("pattern=hot");
    call("PUT", "/v1/kv/hot", "0");
    auto m = next(ws);
    ASSERT_TRUE(m);
    cursor = (*m)["cursor"];
  }
  for (int i = 1; i <= 10; ++i) {
    call("PUT", "/v1/kv/hot", std::to_string(i));
  }
  auto ws = watch("pattern=hot&cursor=" + cursor, false);
  auto m = ws.read(5s);
  ASSERT_TRUE(m);
  auto j = json::parse(*m);
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["error"]["code"], "compacted");
  EXPECT_FALSE(ws.read(3s));
  EXPECT_EQ(ws.close_code(), 1008);
  // The cursor in the error is resumable: it yields the retained changes.
  auto again = watch("pattern=hot&cursor=" + j["cursor"].get<std::string>());
  auto first = next(again);
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["type"], "event");
  EXPECT_EQ(value_of(*first), "6");
}

TEST_F(kv_watch_test, slow_consumer_is_told_lagged_and_resumes_without_loss) {
  node_->stop();
  start("", 10'000, 64 * 1024);
  auto ws = watch("pattern=big.>");
  // Fill the kernel buffers and the 64 KiB send bound while not reading.
  std::string value(64 * 1024, 'v');
  constexpr int puts = 300;
  for (int i = 0; i < puts; ++i) {
    call("PUT", "/v1/kv/big.k", value + std::to_string(i));
  }

  std::vector<int> seen;
  std::string cursor;
  std::optional<json> lagged;
  while (auto m = next(ws, 3s)) {
    if ((*m)["type"] == "lagged") {
      lagged = m;
      break;
    }
    ASSERT_EQ((*m)["type"], "event") << m->dump().substr(0, 300);
    ASSERT_TRUE((*m)["value"].is_string()) << m->dump().substr(0, 300);
    seen.push_back(std::stoi(value_of(*m).substr(value.size())));
  }
  ASSERT_TRUE(lagged) << "no lagged message after " << seen.size() << " events";
  EXPECT_FALSE(ws.read(3s));
  EXPECT_EQ(ws.close_code(), 1013);
  ASSERT_LT(seen.size(), static_cast<size_t>(puts));
  auto resumed = watch("pattern=big.>&cursor="
                       + (*lagged)["cursor"].get<std::string>());
  while (auto m = next(resumed, 2s)) {
    ASSERT_EQ((*m)["type"], "event") << m->dump().substr(0, 300);
    seen.push_back(std::stoi(value_of(*m).substr(value.size())));
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(puts));
  for (int i = 0; i < puts; ++i) {
    EXPECT_EQ(seen[i], i);
  }
}

TEST_F(kv_watch_test, resume_works_across_a_node_restart) {
  test::temp_dir dir{"shoal-watch"};
  node_->stop();
  start(dir / "data");
  std::string cursor;
  {
    auto ws = watch("pattern=r.>");
    call("PUT", "/v1/kv/r.a", "1");
    auto m = next(ws);
    ASSERT_TRUE(m);
    cursor = (*m)["cursor"];
  }
  call("PUT", "/v1/kv/r.a", "2");
  call("PUT", "/v1/kv/r.b", "3");
  node_->stop();
  node_.reset();
  start(dir / "data");
  std::vector<std::string> values;
  {
    auto ws = watch("pattern=r.>&cursor=" + cursor);
    while (auto m = next(ws, 1s)) {
      values.push_back(value_of(*m));
    }
    EXPECT_TRUE(ws.close());
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::string>{"2", "3"}));
  node_->stop();
}

} // namespace
} // namespace shoal
