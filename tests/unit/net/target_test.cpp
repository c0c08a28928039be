#include "net/http/target.hpp"

#include <gtest/gtest.h>

#include "net/http/http_error.hpp"

namespace shoal::http {
namespace {

TEST(parse_target, splits_path_and_decodes_query) {
  auto t = parse_target("/v1/kv/a%2Fb?ttl=30s&x=a+b&y=%7E&flag&=v");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/v1/kv/a%2Fb");
  ASSERT_EQ(t->query.size(), 5u);
  EXPECT_EQ(t->query[0], (std::pair<std::string, std::string>{"ttl", "30s"}));
  EXPECT_EQ(t->query[1].second, "a b");
  EXPECT_EQ(t->query[2].second, "~");
  EXPECT_EQ(t->query[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(t->query[4].first, "");
}

TEST(parse_target, rejects_malformed_targets) {
  for (auto bad : {"", "v1/kv", "http://x/y", "/a%2", "/a%zz", "/a?x=%4",
                   "/a b", "/a\x01", "/a#frag", "/\xc3\xa9"}) {
    auto t = parse_target(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.code(), errc::invalid_argument);
  }
}

TEST(parse_target, limits_query_parameters) {
  std::string target = "/a?";
  for (int i = 0; i < 65; ++i) {
    target += "p" + std::to_string(i) + "=1&";
  }
  EXPECT_FALSE(parse_target(target));
}

TEST(percent, encode_decode_round_trip) {
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  auto enc = percent_encode(all);
  auto dec = percent_decode(enc, false);
  ASSERT_TRUE(dec);
  EXPECT_EQ(*dec, all);
  EXPECT_EQ(percent_encode("a/b c", true), "a/b%20c");
}

TEST(http_error, every_code_maps_to_an_error_status) {
  for (auto code : all_errcs) {
    auto s = http_status(code);
    EXPECT_GE(s, 400u) << to_string(code);
    EXPECT_LT(s, 600u) << to_string(code);
  }
  EXPECT_EQ(http_status(errc::not_found), 404u);
  EXPECT_EQ(http_status(errc::invalid_key), 400u);
  EXPECT_EQ(http_status(errc::lock_held), 409u);
  EXPECT_EQ(http_status(errc::too_large), 413u);
  EXPECT_EQ(http_status(errc::unavailable), 503u);
  EXPECT_EQ(http_status(errc::timeout), 504u);
  EXPECT_EQ(http_status(errc::not_leader), 421u);
}

TEST(http_error, body_is_stable_json_and_503_says_retry_after) {
  auto r = error_response(error{errc::unavailable, "owner down"});
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body,
            R"({"error":{"code":"unavailable","message":"owner down"}})");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  error led{errc::not_leader, "ask n2"};
  led.leader = "n2";
  EXPECT_EQ(error_body(led),
            R"({"error":{"code":"not_leader","leader":"n2","message":"ask n2"}})");
}

TEST(http_error, invalid_utf8_in_messages_does_not_throw) {
  auto body = error_body(error{errc::invalid_key, "bad \xff byte"});
  EXPECT_NE(body.find("invalid_key"), std::string::npos);
}

} // namespace
} // namespace shoal::http
