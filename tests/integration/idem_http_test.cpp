// idempotency over real HTTP against a real node: every route and its
// errors, 32 concurrent begins on one key, lease takeover, restart with
// RocksDB (leases keep their absolute deadlines), and SIGKILL of shoald.

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "runtime/base64.hpp"
#include "runtime/idempotency/key_builder.hpp"
#include "runtime/sha256.hpp"
#include "tests/support/process.hpp"
#include "tests/support/http_node.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class idem_http_test : public testing::Test {
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

  json raw(const std::string& verb, const std::string& target,
           const std::string& body, unsigned expect) {
    return node_.raw(verb, target, body, expect);
  }

  static std::string path(const std::string& key, const std::string& op = {}) {
    return "/v1/idempotency/" + key + (op.empty() ? "" : "/" + op);
  }

  test::http_node node_;
};

TEST_F(idem_http_test, begin_complete_then_repeats_get_the_stored_result) {
  auto first = call("POST", path("pay-1", "begin"), {{"lease_ttl", "30s"}}, 201);
  ASSERT_EQ(first["fresh"], true);
  auto token = first["token"].get<std::string>();
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(first["record"]["state"], "in_progress");

  // While the owner works, another begin conflicts.
  auto busy = call("POST", path("pay-1", "begin"), {}, 409);
  EXPECT_EQ(busy["error"]["code"], "conflict");

  auto receipt = std::string{"{\"charge\":\"ch_1\"}"};
  auto done = call("POST", path("pay-1", "complete"),
                   {{"token", token}, {"result", base64_encode(receipt)}});
  EXPECT_EQ(done["state"], "completed");
  EXPECT_EQ(done["result_sha256"], sha256::hex(receipt));

  auto again = call("POST", path("pay-1", "begin"), {}, 200);
  EXPECT_EQ(again["fresh"], false);
  EXPECT_FALSE(again.contains("token"));
  EXPECT_EQ(*base64_decode(again["record"]["result"].get<std::string>()), receipt);

  auto got = call("GET", path("pay-1"));
  EXPECT_EQ(got["state"], "completed");
  EXPECT_FALSE(got.contains("owner_token"));
  EXPECT_FALSE(got.contains("token"));
}

TEST_F(idem_http_test, fail_is_stored_and_returned_to_repeats) {
  auto first = call("POST", path("pay-2", "begin"), {}, 201);
  auto token = first["token"].get<std::string>();
  auto failed = call("POST", path("pay-2", "fail"),
                     {{"token", token}, {"code", "card_declined"},
                      {"message", "insufficient funds"}, {"retention", "1h"}});
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["error"]["code"], "card_declined");
  auto again = call("POST", path("pay-2", "begin"), {}, 200);
  EXPECT_EQ(again["record"]["error"]["message"], "insufficient funds");
}

TEST_F(idem_http_test, only_the_owner_token_may_touch_complete_or_fail) {
  auto first = call("POST", path("k", "begin"), {{"lease_ttl", "10s"}}, 201);
  auto token = first["token"].get<std::string>();
  EXPECT_EQ(call("POST", path("k", "touch"), {{"token", "nope"}}, 409)["error"]["code"],
            "not_owner");
  EXPECT_EQ(call("POST", path("k", "complete"), {{"token", "nope"}}, 409)["error"]["code"],
            "not_owner");
  EXPECT_EQ(call("POST", path("k", "fail"), {{"token", "nope"}, {"code", "x"}}, 409)
              ["error"]["code"],
            "not_owner");
  auto touched = call("POST", path("k", "touch"), {{"token", token}, {"lease_ttl", "1h"}});
  EXPECT_EQ(touched["state"], "in_progress");
  EXPECT_GT(touched["expires_at"].get<std::string>(),
            first["record"]["expires_at"].get<std::string>());
  EXPECT_EQ(call("POST", path("absent", "touch"), {{"token", token}}, 404)["error"]["code"],
            "not_found");
}

TEST_F(idem_http_test, an_expired_lease_is_taken_over_and_the_old_token_is_dead) {
  auto first = call("POST", path("slow", "begin"), {{"lease_ttl", "200ms"}}, 201);
  auto old_token = first["token"].get<std::string>();
  // Poll until the lease ran out and a second worker takes over.
  json second;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    http::client c{"127.0.0.1", node_.port(), 10s};
    auto r = c.request("POST", path("slow", "begin"), "{}");
    ASSERT_TRUE(r);
    if (r->status == 201) {
      second = json::parse(r->body);
      break;
    }
    ASSERT_EQ(r->status, 409u) << r->body;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(20ms); // polling the lease, with a deadline
  }
  EXPECT_NE(second["token"], old_token);
  EXPECT_EQ(call("POST", path("slow", "complete"), {{"token", old_token}}, 409)
              ["error"]["code"],
            "not_owner");
  call("POST", path("slow", "complete"), {{"token", second["token"]}});
}

TEST_F(idem_http_test, fingerprints_and_fences_are_checked) {
  auto first = call("POST", path("fp", "begin"),
                    {{"fingerprint", "sha256:aaa"}, {"fence", 5}}, 201);
  EXPECT_EQ(call("POST", path("fp", "begin"), {{"fingerprint", "sha256:bbb"}}, 422)
              ["error"]["code"],
            "fingerprint_mismatch");
  auto token = first["token"];
  EXPECT_EQ(call("POST", path("fp", "complete"), {{"token", token}, {"fence", 4}}, 409)
              ["error"]["code"],
            "fenced");
  auto done = call("POST", path("fp", "complete"), {{"token", token}, {"fence", 6}});
  EXPECT_EQ(done["fence"], 6);
  EXPECT_EQ(done["fingerprint"], "sha256:aaa");
}

TEST_F(idem_http_test, delete_and_sweep) {
  call("POST", path("gone", "begin"), {}, 201);
  EXPECT_EQ(call("DELETE", path("gone"))["deleted"], true);
  EXPECT_EQ(call("DELETE", path("gone"))["deleted"], false);
  call("GET", path("gone"), nullptr, 404);
  call("POST", path("short", "begin"), {{"lease_ttl", "1ms"}}, 201);
  // The lease is over almost at once; a sweep removes it (unless the
  // periodic sweep got there first).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    http::client c{"127.0.0.1", node_.port(), 10s};
    auto r = c.request("GET", path("short"));
    if (r && r->status == 404) {
      break;
    }
    std::this_thread::sleep_for(5ms); // polling the lease, with a deadline
  }
  auto swept = call("POST", "/v1/idempotency/sweep");
  EXPECT_LE(swept["removed"].get<uint64_t>(), 1u);
  EXPECT_EQ(call("POST", "/v1/idempotency/sweep")["removed"], 0);
}

TEST_F(idem_http_test, the_key_builder_route_matches_the_cpp_api) {
  auto built = call("POST", "/v1/idempotency/keys",
                    {{"tenant", "acme"}, {"scope", "payments"},
                     {"parts", json::array({"order-42", 1999, 1.5, true, nullptr})}});
  auto expected = idem::build_key("acme", "payments",
                                  {"order-42", 1999, 1.5, true, nullptr});
  ASSERT_TRUE(expected);
  EXPECT_EQ(built["key"], *expected);
  // Types are kept: "1" and 1 differ.
  auto a = call("POST", "/v1/idempotency/keys",
                {{"tenant", "t"}, {"scope", "s"}, {"parts", json::array({"1"})}});
  auto b = call("POST", "/v1/idempotency/keys",
                {{"tenant", "t"}, {"scope", "s"}, {"parts", json::array({1})}});
  EXPECT_NE(a["key"], b["key"]);
  // Map inputs: sorted keys, case kept.
  auto m = call("POST", "/v1/idempotency/keys",
                {{"tenant", "t"}, {"scope", "s"},
                 {"inputs", {{"b", 2}, {"A", 1}, {"a", 1}}}});
  auto mexp = idem::build_key_from_map("t", "s", {{"a", 1}, {"A", 1}, {"b", 2}});
  ASSERT_TRUE(mexp);
  EXPECT_EQ(m["key"], *mexp);
  // The built key is usable as an idempotency key.
  call("POST", path(built["key"].get<std::string>(), "begin"), {}, 201);
}

TEST_F(idem_http_test, bad_input_gets_clear_errors) {
  EXPECT_EQ(raw("POST", path("k", "begin"), "{not json", 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(raw("POST", path("k", "begin"), "[1]", 400)["error"]["code"],
            "invalid_argument");
  auto dup = raw("POST", path("k", "begin"), R"({"lease_ttl":"1s","lease_ttl":"1h"})", 400);
  EXPECT_NE(dup["error"]["message"].get<std::string>().find("duplicate"),
            std::string::npos);
  EXPECT_EQ(call("POST", path("k", "begin"), {{"lease", "1s"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("POST", path("k", "begin"), {{"lease_ttl", "soon"}}, 400)["error"]["code"],
            "invalid_ttl");
  EXPECT_EQ(call("POST", path("k", "begin"), {{"lease_ttl", "0s"}}, 400)["error"]["code"],
            "invalid_ttl");
  EXPECT_EQ(call("POST", path("k", "begin"), {{"lease_ttl", 5}}, 400)["error"]["code"],
            "invalid_ttl");
  EXPECT_EQ(call("POST", path("k", "begin"), {{"fence", -1}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("POST", path(std::string(300, 'k'), "begin"), {}, 400)["error"]["code"],
            "invalid_key");
  EXPECT_EQ(call("POST", path("k", "complete"), {{"result", "x"}}, 400)["error"]["code"],
            "invalid_argument"); // no token
  EXPECT_EQ(call("POST", path("k", "complete"), {{"token", "t"}, {"result", "%%%"}}, 400)
              ["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("POST", "/v1/idempotency/keys", {{"tenant", "t"}}, 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("POST", "/v1/idempotency/keys",
                 {{"tenant", "bad tenant"}, {"scope", "s"}, {"parts", json::array()}}, 400)
              ["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(call("POST", "/v1/idempotency/keys",
                 {{"tenant", "t"}, {"scope", "s"}, {"parts", json::array({18446744073709551615ull})}},
                 400)["error"]["code"],
            "invalid_argument");
  // Nothing above created a record.
  call("GET", path("k"), nullptr, 404);
  // Oversized result: 413, nothing stored.
  auto first = call("POST", path("big", "begin"), {}, 201);
  call("POST", path("big", "complete"),
       {{"token", first["token"]}, {"result", base64_encode(std::string(1024 * 1024 + 1, 'r'))}},
       413);
  EXPECT_EQ(call("GET", path("big"))["state"], "in_progress");
}

TEST_F(idem_http_test, thirty_two_concurrent_begins_make_exactly_one_owner) {
  for (int round = 0; round < 5; ++round) {
    auto key = "race-" + std::to_string(round);
    std::atomic<int> fresh{0};
    std::atomic<int> conflicts{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 32; ++i) {
      threads.emplace_back([&] {
        http::client c{"127.0.0.1", node_.port(), 10s};
        auto r = c.request("POST", path(key, "begin"), "{}");
        if (r && r->status == 201) {
          ++fresh;
        } else if (r && r->status == 409) {
          ++conflicts;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(fresh.load(), 1) << key;
    EXPECT_EQ(conflicts.load(), 31) << key;
    EXPECT_EQ(other.load(), 0) << key;
  }
}

TEST_F(idem_http_test, restart_keeps_records_and_leases_with_absolute_deadlines) {
  test::temp_dir dir{"shoal-idem-restart"};
  restart(dir / "data");
  auto lease = call("POST", path("held", "begin"), {{"lease_ttl", "1h"}}, 201);
  auto done = call("POST", path("done", "begin"), {}, 201);
  call("POST", path("done", "complete"),
       {{"token", done["token"]}, {"result", base64_encode("ok")}});
  restart(dir / "data");
  auto held = call("GET", path("held"));
  EXPECT_EQ(held["state"], "in_progress");
  EXPECT_EQ(held["expires_at"], lease["record"]["expires_at"]);
  // The lease survived: others still conflict, the owner can finish.
  call("POST", path("held", "begin"), {}, 409);
  call("POST", path("held", "complete"), {{"token", lease["token"]}});
  EXPECT_EQ(*base64_decode(call("GET", path("done"))["result"].get<std::string>()), "ok");
  node_.stop(); // before the data dir goes
}

TEST(idem_process, acknowledged_outcomes_survive_sigkill) {
  test::temp_dir dir{"shoal-idem-kill"};
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
        auto key = "op-" + std::to_string(t) + "-" + std::to_string(i);
        auto b = c.request("POST", "/v1/idempotency/" + key + "/begin", "{}");
        if (!b || b->status != 201) {
          return; // the process is gone
        }
        auto token = json::parse(b->body)["token"].get<std::string>();
        json body{{"token", token}, {"result", base64_encode("r" + key)}};
        auto r = c.request("POST", "/v1/idempotency/" + key + "/complete",
                           body.dump());
        if (!r || r->status != 200) {
          return;
        }
        std::lock_guard guard{mtx};
        acked[key] = "r" + key;
      }
    },
    [&] {
      std::lock_guard guard{mtx};
      return acked.size();
    },
    300);
  ASSERT_TRUE(started);
  ASSERT_GE(acked.size(), 300u);
  auto again = test::start_shoald(SHOAL_SHOALD, args, dir / "ports.json");
  ASSERT_TRUE(again);
  http::client c{"127.0.0.1", again->ports.http};
  size_t missing = 0;
  for (const auto& [key, value] : acked) {
    auto r = c.get("/v1/idempotency/" + key);
    ASSERT_TRUE(r);
    auto j = json::parse(r->body, nullptr, false);
    if (r->status != 200 || j["state"] != "completed"
        || *base64_decode(j["result"].get<std::string>()) != value) {
      ++missing;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged completions";
}

} // namespace
} // namespace shoal
