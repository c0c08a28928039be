// Hostile input against a real node over real sockets: JSON nested past the
// limit on every route that takes JSON (and in a stored value of an older
// data dir), the "any revision" sentinel, integers beyond 64 bits,
// non-canonical base64, the key named "history", and a merge batch with one
// malformed merge. Each answer is a clear 400 (or 500 for stored data),
// nothing is half applied, and the node stays up.

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/json.hpp"
#include "runtime/storage/engine.hpp"
#include "runtime/stream/stream_table.hpp"
#include "tests/support/http_node.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// `depth` nested arrays around 1: far past the nesting limit for 58,000,
// in 116 KB, well under the body limit.
std::string deep(size_t depth = 58'000) {
  return std::string(depth, '[') + "1" + std::string(depth, ']');
}

class hardening_http_test : public testing::Test {
protected:
  void SetUp() override {
    node_.start();
  }

  json call(const std::string& verb, const std::string& target,
            const json& body = nullptr, unsigned expect = 200) {
    return node_.call(verb, target, body, expect);
  }

  // Sends `body` as it is, expects 400 invalid_argument; returns the message.
  std::string refused(const std::string& verb, const std::string& target,
                      const std::string& body) {
    auto j = node_.raw(verb, target, body, 400);
    EXPECT_EQ(j["error"]["code"], "invalid_argument") << verb << " " << target;
    return j["error"]["message"].get<std::string>();
  }

  void expect_up() {
    EXPECT_EQ(node_.status("GET", "/healthz"), 200u);
  }

  test::http_node node_;
};

TEST_F(hardening_http_test, deep_json_is_refused_on_every_route_that_takes_json) {
  call("POST", "/v1/streams/s/events", {{"type", "t"}}, 201);
  auto limit = std::to_string(http::max_json_depth);
  for (auto [verb, target, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
         {"POST", "/v1/streams/s/events", R"({"type":"t","data":)" + deep() + "}"},
         {"POST", "/v1/streams/s/events", R"({"type":"t","metadata":{"m":)" + deep() + "}}"},
         {"POST", "/v1/entities/e.1/events", R"({"attributes":{"a":)" + deep() + "}}"},
         {"PUT", "/v1/streams/s/checkpoints/1", deep()},
         {"POST", "/v1/locks/l", R"({"ttl":"5s","x":)" + deep() + "}"},
         {"POST", "/v1/idempotency/keys", R"({"tenant":"t","scope":"s","parts":)" + deep() + "}"},
       }) {
    auto message = refused(verb, target, body);
    EXPECT_NE(message.find(limit), std::string::npos) << target << ": " << message;
    expect_up();
  }
  // Nothing was stored: the stream still has its one event, no checkpoint.
  EXPECT_EQ(call("GET", "/v1/streams/s/events")["events"].size(), 1u);
  call("GET", "/v1/streams/s/checkpoints/1", nullptr, 404);
  call("GET", "/v1/entities/e.1", nullptr, 404);
}

TEST_F(hardening_http_test, a_deep_websocket_message_id_is_refused_and_the_session_goes_on) {
  auto ws = http::ws_client::connect("127.0.0.1", node_.port(), "/v1/session?ttl=10s");
  ASSERT_TRUE(ws);
  auto hello = ws->read(5s);
  ASSERT_TRUE(hello);
  ASSERT_TRUE(ws->send_text(R"({"op":"keepalive","id":)" + deep(2000) + "}"));
  auto reply = ws->read(5s);
  ASSERT_TRUE(reply);
  auto j = json::parse(*reply);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"]["code"], "invalid_argument");
  EXPECT_FALSE(j.contains("id"));
  ASSERT_TRUE(ws->send_text(R"({"op":"keepalive","id":7})"));
  reply = ws->read(5s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(json::parse(*reply)["id"], 7) << *reply;
  expect_up();
}

TEST_F(hardening_http_test, the_any_revision_sentinel_is_not_a_revision) {
  call("PUT", "/v1/kv/k", nullptr, 200);
  for (const char* verb : {"PUT", "DELETE"}) {
    auto message = refused(verb, "/v1/kv/k?if_revision=18446744073709551615", "v");
    EXPECT_NE(message.find("if_revision"), std::string::npos) << message;
  }
  refused("PUT", "/v1/kv/k?if_revision=18446744073709551616", "v");
  refused("PUT", "/v1/kv/k?if_revision=-1", "v");
  // Unchanged: still the first put's revision, with an empty value.
  auto got = call("GET", "/v1/kv/k");
  EXPECT_EQ(got["version"], 1);
  EXPECT_EQ(got["value"], "");
}

TEST_F(hardening_http_test, integers_beyond_64_bits_are_refused_not_rounded) {
  // These two used to build the same key (both read as one double).
  for (const char* n : {"18446744073709551616", "18446744073709551617"}) {
    auto message = refused("POST", "/v1/idempotency/keys",
                           std::string{R"({"tenant":"t","scope":"s","parts":[)"} + n + "]}");
    EXPECT_NE(message.find("64 bits"), std::string::npos) << message;
  }
  call("POST", "/v1/idempotency/keys",
       {{"tenant", "t"}, {"scope", "s"}, {"parts", {9223372036854775807LL}}});
  call("PUT", "/v1/aggregates/c", {{"kind", "sum"}}, 201);
  refused("POST", "/v1/aggregates/c/merge", R"({"entity":"x","delta":-9223372036854775809})");
  refused("POST", "/v1/aggregates/c/merge", R"({"entity":"x","delta":-9.223372036854775808e18})");
  refused("POST", "/v1/aggregates/c/merge", R"({"entity":"x","delta":5.0})");
  call("POST", "/v1/aggregates/c/merge", {{"entity", "x"}, {"delta", -9223372036854775807LL - 1}});
  EXPECT_EQ(call("GET", "/v1/aggregates/c/x")["value"], -9223372036854775807LL - 1);
}

TEST_F(hardening_http_test, only_canonical_padded_base64_is_accepted) {
  auto begun = call("POST", "/v1/idempotency/pay/begin", {{"lease_ttl", "30s"}}, 201);
  auto token = begun["token"].get<std::string>();
  for (const char* bad : {"YQ", "YQ=", "YR==", "-_8=", "Y Q=="}) {
    auto j = call("POST", "/v1/idempotency/pay/complete", {{"token", token}, {"result", bad}},
                  400);
    EXPECT_EQ(j["error"]["code"], "invalid_argument") << bad;
    call("POST", "/v1/streams/b/events", {{"type", "t"}, {"data_base64", bad}}, 400);
  }
  EXPECT_EQ(call("GET", "/v1/idempotency/pay")["state"], "in_progress");
  call("GET", "/v1/streams/b/events", nullptr, 404);
  call("POST", "/v1/idempotency/pay/complete", {{"token", token}, {"result", "YQ=="}});
}

TEST_F(hardening_http_test, a_key_named_history_reads_like_any_other) {
  call("GET", "/v1/kv/history", nullptr, 404);
  node_.raw("PUT", "/v1/kv/history", "h", 200);
  auto got = call("GET", "/v1/kv/history");
  EXPECT_EQ(got["key"], "history");
  EXPECT_EQ(got["value"], "aA==");
  // Its history, and that of a key with a slash before "history".
  auto h = call("GET", "/v1/kv/history/history");
  EXPECT_EQ(h["key"], "history");
  EXPECT_EQ(h["versions"].size(), 1u);
  node_.raw("PUT", "/v1/kv/a%2Fhistory", "x", 200);
  EXPECT_EQ(call("GET", "/v1/kv/a%2Fhistory")["key"], "a/history");
  EXPECT_EQ(call("GET", "/v1/kv/a%2Fhistory/history")["key"], "a/history");
  auto none = call("GET", "/v1/kv/a/history");
  EXPECT_EQ(none["key"], "a");
  EXPECT_TRUE(none["versions"].empty());
  expect_up();
}

TEST_F(hardening_http_test, a_merge_batch_with_one_malformed_merge_applies_nothing) {
  call("PUT", "/v1/aggregates/hits", {{"kind", "sum"}}, 201);
  for (const json& bad : {json{{"entity", ""}, {"delta", 1}},
                          json{{"entity", std::string(2000, 'e')}, {"delta", 1}},
                          json{{"entity", "y"}, {"delta", 1}, {"event_id", std::string(300, 'i')}},
                          json{{"entity", "y"}, {"delta", 1}, {"bucket", 5}}}) {
    auto j = call("POST", "/v1/aggregates/hits/merge",
                  {{"merges", {{{"entity", "x"}, {"delta", 1}}, bad}}}, 400);
    EXPECT_NE(j["error"]["message"].get<std::string>().find("merges[1]"), std::string::npos)
      << j.dump();
  }
  EXPECT_EQ(call("GET", "/v1/aggregates/hits/x")["found"], false);
}

// A data dir written by an older shoal may hold a JSON checkpoint nested far
// past the limit; reading it must be an error answer, never a crash.
TEST(hardening_stored, a_deep_stored_checkpoint_is_answered_with_an_error_and_the_node_stays_up) {
  test::temp_dir dir;
  test::http_node n;
  n.start(dir.path());
  n.call("POST", "/v1/streams/old/events", {{"type", "t"}}, 201);
  n.raw("PUT", "/v1/streams/old/checkpoints/1", R"({"n":1})", 201);
  n.stop();
  {
    auto engine = storage::open_rocksdb_engine({dir.path()});
    ASSERT_TRUE(engine) << to_string(engine.err());
    auto key = stream::stream_table::checkpoint_key("old", 1);
    auto stored = (*engine)->get(storage::column::stream, key);
    ASSERT_TRUE(stored && *stored);
    auto cp = stream::stream_table::decode_checkpoint("old", 1, **stored);
    ASSERT_TRUE(cp);
    cp->state = deep();
    storage::write_batch b;
    b.put(storage::column::stream, key, stream::stream_table::encode(*cp));
    ASSERT_TRUE((*engine)->write(b, storage::durability::sync));
  }
  n.start(dir.path());
  for (const char* target : {"/v1/streams/old/checkpoints/1",
                             "/v1/streams/old/checkpoints?at_or_before=1",
                             "/v1/streams/old/replay?target=1"}) {
    auto j = n.call("GET", target, nullptr, 500);
    EXPECT_EQ(j["error"]["code"], "internal") << target;
    EXPECT_NE(j["error"]["message"].get<std::string>().find("64 levels"), std::string::npos)
      << j.dump();
    EXPECT_EQ(n.status("GET", "/healthz"), 200u);
  }
  // The stream itself is still served.
  EXPECT_EQ(n.call("GET", "/v1/streams/old/events")["events"].size(), 1u);
}

} // namespace
} // namespace shoal
