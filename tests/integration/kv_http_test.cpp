// kv over real HTTP against a real node: semantics and errors, concurrent
// compare-and-swap, restart with RocksDB, and SIGKILL of a shoald process.

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/gateway.hpp"
#include "runtime/base64.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class kv_http_test : public testing::Test {
protected:
  void SetUp() override {
    start("");
  }

  void start(const std::string& data_dir) {
    node_config cfg;
    cfg.data_dir = data_dir;
    cfg.http_address = "127.0.0.1:0";
    cfg.worker_threads = 2;
    cfg.shard_count = 8;
    cfg.kv.history_depth = 4;
    cfg.services.push_back(http::gateway_service());
    auto n = node::start(cfg);
    ASSERT_TRUE(n) << to_string(n.err());
    node_ = std::move(n).value();
    port_ = dynamic_cast<http::gateway*>(node_->service("http"))->port();
  }

  void restart(const std::string& data_dir) {
    node_->stop();
    node_.reset();
    start(data_dir);
  }

  http::client client() {
    return http::client{"127.0.0.1", port_, 10s};
  }

  json call(const std::string& verb, const std::string& target,
            const std::string& body = {}, unsigned expect = 200) {
    auto c = client();
    auto r = c.request(verb, target, body, "application/octet-stream");
    EXPECT_TRUE(r);
    if (!r) {
      return {};
    }
    EXPECT_EQ(r->status, expect) << verb << " " << target << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  static std::string value_of(const json& j) {
    return *base64_decode(j["value"].get<std::string>());
  }

  std::unique_ptr<node> node_;
  uint16_t port_ = 0;
};

TEST_F(kv_http_test, put_get_delete_round_trip) {
  auto put = call("PUT", "/v1/kv/config.db.host", "db-1");
  EXPECT_EQ(put["key"], "config.db.host");
  EXPECT_EQ(put["version"], 1);
  EXPECT_EQ(put["prev_revision"], 0);
  auto rev = put["revision"].get<uint64_t>();
  auto got = call("GET", "/v1/kv/config.db.host");
  EXPECT_EQ(value_of(got), "db-1");
  EXPECT_EQ(got["revision"], rev);
  EXPECT_TRUE(got["expires_at"].is_null());
  auto del = call("DELETE", "/v1/kv/config.db.host");
  EXPECT_EQ(del["deleted"], true);
  EXPECT_EQ(del["prev_revision"], rev);
  auto gone = call("GET", "/v1/kv/config.db.host", "", 404);
  EXPECT_EQ(gone["error"]["code"], "not_found");
  auto again = call("DELETE", "/v1/kv/config.db.host");
  EXPECT_EQ(again["deleted"], false);
}

TEST_F(kv_http_test, raw_get_returns_bytes_and_revision_headers) {
  std::string binary{"\x00\x01\xff payload", 11};
  call("PUT", "/v1/kv/blob", binary);
  auto c = client();
  auto r = c.get("/v1/kv/blob?raw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, binary);
  ASSERT_NE(r->header("x-shoal-revision"), nullptr);
  EXPECT_EQ(*r->header("x-shoal-version"), "1");
  EXPECT_EQ(*r->header("content-type"), "application/octet-stream");
}

TEST_F(kv_http_test, ttl_sets_an_absolute_deadline) {
  auto put = call("PUT", "/v1/kv/session.a?ttl=1h", "x");
  ASSERT_TRUE(put["expires_at"].is_string());
  auto got = call("GET", "/v1/kv/session.a");
  EXPECT_EQ(got["expires_at"], put["expires_at"]);
}

TEST_F(kv_http_test, bad_input_gets_clear_errors_and_changes_nothing) {
  EXPECT_EQ(call("PUT", "/v1/kv/a..b", "x", 400)["error"]["code"], "invalid_key");
  EXPECT_EQ(call("PUT", "/v1/kv/k?ttl=-1s", "x", 400)["error"]["code"],
            "invalid_ttl");
  EXPECT_EQ(call("PUT", "/v1/kv/k?ttl=forever", "x", 400)["error"]["code"],
            "invalid_ttl");
  EXPECT_EQ(call("PUT", "/v1/kv/k?ttl=4000d", "x", 400)["error"]["code"],
            "invalid_ttl");
  EXPECT_EQ(call("PUT", "/v1/kv/k?if_revision=abc", "x", 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/kv?pattern=a*b", "", 400)["error"]["code"],
            "invalid_key");
  EXPECT_EQ(call("GET", "/v1/kv?limit=0", "", 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/kv?continue=%%%", "", 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("GET", "/v1/kv/k", "", 404)["error"]["code"], "not_found");
  EXPECT_EQ(call("GET", "/v1/kv", "")["items"].size(), 0u);
}

TEST_F(kv_http_test, oversized_value_is_rejected) {
  // The HTTP body limit (1 MiB) answers before the value limit could.
  auto c = client();
  auto r = c.request("PUT", "/v1/kv/big", std::string(2 * 1024 * 1024, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
}

TEST_F(kv_http_test, compare_and_swap_reports_the_current_revision) {
  auto created = call("PUT", "/v1/kv/counter?if_revision=0", "0");
  auto rev = created["revision"].get<uint64_t>();
  auto dup = call("PUT", "/v1/kv/counter?if_revision=0", "0", 409);
  EXPECT_EQ(dup["error"]["code"], "conflict");
  EXPECT_EQ(dup["error"]["current"], rev);
  auto stale = call("PUT", "/v1/kv/counter?if_revision=" + std::to_string(rev + 5),
                    "1", 409);
  EXPECT_EQ(stale["error"]["current"], rev);
  call("PUT", "/v1/kv/counter?if_revision=" + std::to_string(rev), "1");
  auto del = call("DELETE", "/v1/kv/counter?if_revision=" + std::to_string(rev),
                  "", 409);
  EXPECT_EQ(del["error"]["code"], "conflict");
}

TEST_F(kv_http_test, list_merges_shards_sorted_with_pagination) {
  std::vector<std::string> keys;
  for (int i = 0; i < 25; ++i) {
    char k[32];
    std::snprintf(k, sizeof(k), "svc.web.%02d", i);
    keys.emplace_back(k);
    call("PUT", std::string{"/v1/kv/"} + k, "v");
  }
  call("PUT", "/v1/kv/svc.db", "v");
  call("PUT", "/v1/kv/svcx", "v");
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  for (;;) {
    auto target = std::string{"/v1/kv?pattern=svc.web.>&limit=10"};
    if (!token.empty()) {
      target += "&continue=" + token;
    }
    auto page = call("GET", target);
    for (auto& item : page["items"]) {
      seen.push_back(item["key"]);
    }
    ++pages;
    if (!page["more"].get<bool>()) {
      EXPECT_FALSE(page.contains("continue"));
      break;
    }
    token = page["continue"];
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, keys);
  auto exact = call("GET", "/v1/kv?pattern=svc.db");
  ASSERT_EQ(exact["items"].size(), 1u);
  EXPECT_EQ(value_of(exact["items"][0]), "v");
  auto ko = call("GET", "/v1/kv?pattern=svc*&keys_only");
  EXPECT_EQ(ko["items"].size(), 27u);
  EXPECT_FALSE(ko["items"][0].contains("value"));
}

TEST_F(kv_http_test, history_lists_recent_versions_newest_first) {
  call("PUT", "/v1/kv/h", "1");
  call("PUT", "/v1/kv/h", "2");
  call("DELETE", "/v1/kv/h");
  call("PUT", "/v1/kv/h", "3");
  call("PUT", "/v1/kv/h", "4"); // depth 4: the first version drops out
  auto h = call("GET", "/v1/kv/h/history");
  ASSERT_EQ(h["versions"].size(), 4u);
  EXPECT_EQ(value_of(h["versions"][0]), "4");
  EXPECT_EQ(h["versions"][2]["operation"], "delete");
  EXPECT_EQ(value_of(h["versions"][3]), "2");
  auto two = call("GET", "/v1/kv/h/history?limit=2");
  EXPECT_EQ(two["versions"].size(), 2u);
  // A key whose name ends in "/history" is reached with an encoded slash.
  call("PUT", "/v1/kv/x%2Fhistory", "literal");
  EXPECT_EQ(value_of(call("GET", "/v1/kv/x%2Fhistory")), "literal");
}

TEST_F(kv_http_test, concurrent_compare_and_swap_increments_are_exact) {
  call("PUT", "/v1/kv/ctr", "0");
  constexpr int clients = 64;
  constexpr int attempts = 20;
  std::atomic<int> swaps{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      auto c = client();
      for (int i = 0; i < attempts; ++i) {
        auto r = c.get("/v1/kv/ctr");
        ASSERT_TRUE(r);
        auto j = json::parse(r->body);
        auto n = std::stoi(*base64_decode(j["value"].get<std::string>()));
        auto w = c.request("PUT",
                           "/v1/kv/ctr?if_revision="
                             + std::to_string(j["revision"].get<uint64_t>()),
                           std::to_string(n + 1));
        ASSERT_TRUE(w);
        if (w->status == 200) {
          ++swaps;
        } else {
          ASSERT_EQ(w->status, 409u) << w->body;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  auto final_value = std::stoi(value_of(call("GET", "/v1/kv/ctr")));
  EXPECT_EQ(final_value, swaps.load());
  EXPECT_GT(swaps.load(), 0);
}

TEST_F(kv_http_test, restart_keeps_keys_revisions_deadlines_and_history) {
  test::temp_dir dir{"shoal-kv"};
  restart(dir / "data");
  call("PUT", "/v1/kv/a", "1");
  auto b = call("PUT", "/v1/kv/b?ttl=1h", "2");
  call("PUT", "/v1/kv/a", "3");
  auto short_lived = call("PUT", "/v1/kv/short?ttl=300ms", "gone soon");
  auto deadline = std::chrono::system_clock::now() + 300ms;
  restart(dir / "data");
  auto a = call("GET", "/v1/kv/a");
  EXPECT_EQ(value_of(a), "3");
  EXPECT_EQ(a["version"], 2);
  auto b2 = call("GET", "/v1/kv/b");
  EXPECT_EQ(b2["expires_at"], b["expires_at"]);
  EXPECT_EQ(call("GET", "/v1/kv/a/history")["versions"].size(), 2u);
  // Revisions continue where they were.
  auto next = call("PUT", "/v1/kv/a", "4");
  EXPECT_EQ(next["prev_revision"], a["revision"]);
  EXPECT_GT(next["revision"].get<uint64_t>(), a["revision"].get<uint64_t>());

  // A key whose deadline passes while the node is down is expired at start
  // (recorded in its history) before anything is served.
  node_->stop();
  while (std::chrono::system_clock::now() <= deadline + 50ms) {
    std::this_thread::sleep_for(10ms); // poll the wall clock until the deadline
  }
  node_.reset();
  start(dir / "data");
  call("GET", "/v1/kv/short", "", 404);
  auto h = call("GET", "/v1/kv/short/history");
  ASSERT_EQ(h["versions"].size(), 2u);
  EXPECT_EQ(h["versions"][0]["operation"], "expire");
  (void) short_lived;
  node_->stop(); // before the data dir goes away
}

TEST(kv_process, acknowledged_writes_survive_sigkill) {
  test::temp_dir dir{"shoal-kv-kill"};
  std::vector<std::string> args{"--data-dir", dir / "data", "--http",
                                "127.0.0.1:0", "--shards", "8",
                                "--ports-file", dir / "ports.json"};
  std::map<std::string, std::string> acked;
  std::mutex mtx;
  auto started = test::kill_under_load(
    SHOAL_SHOALD, args, dir / "ports.json", 8,
    [&](uint16_t port, int t, const std::atomic<bool>& stop) {
      http::client c{"127.0.0.1", port, 5s};
      for (int i = 0; !stop; ++i) {
        auto key = "w" + std::to_string(t) + "." + std::to_string(i);
        auto r = c.request("PUT", "/v1/kv/" + key + "?ttl=1h", "v" + key);
        if (!r || r->status != 200) {
          return; // the process is gone
        }
        std::lock_guard guard{mtx};
        acked[key] = "v" + key;
      }
    },
    [&] {
      std::lock_guard guard{mtx};
      return acked.size();
    },
    400);
  ASSERT_TRUE(started);
  ASSERT_GE(acked.size(), 400u);
  auto again = test::start_shoald(SHOAL_SHOALD, args, dir / "ports.json");
  ASSERT_TRUE(again);
  http::client c{"127.0.0.1", again->ports.http};
  size_t missing = 0;
  for (const auto& [key, value] : acked) {
    auto r = c.get("/v1/kv/" + key + "?raw");
    ASSERT_TRUE(r);
    if (r->status != 200 || r->body != value) {
      ++missing;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
}

} // namespace
} // namespace shoal
