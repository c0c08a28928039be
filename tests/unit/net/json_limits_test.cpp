#include "net/http/json.hpp"

#include <string>

#include <gtest/gtest.h>

#include "net/http/stream_json.hpp"

namespace shoal::http {
namespace {

std::string nested(size_t depth, std::string_view open, std::string_view inner,
                   std::string_view close) {
  std::string out;
  for (size_t i = 0; i < depth; ++i) {
    out += open;
  }
  out += inner;
  for (size_t i = 0; i < depth; ++i) {
    out += close;
  }
  return out;
}

TEST(json_limits, nesting_up_to_the_limit_parses_and_one_more_level_is_refused) {
  EXPECT_TRUE(parse_json(nested(max_json_depth, "[", "1", "]")));
  EXPECT_TRUE(parse_json(nested(max_json_depth, "{\"a\":", "1", "}")));
  for (auto depth : {max_json_depth + 1, size_t{1000}, size_t{58'000}}) {
    for (auto [open, close] : {std::pair{"[", "]"}, std::pair{"{\"a\":", "}"}}) {
      auto r = parse_json(nested(depth, open, "1", close));
      ASSERT_FALSE(r) << depth;
      EXPECT_EQ(r.code(), errc::invalid_argument);
      EXPECT_NE(r.err().message.find(std::to_string(max_json_depth)), std::string::npos)
        << r.err().message;
    }
  }
  // Unbalanced openers alone are caught before the parser sees them.
  EXPECT_FALSE(parse_json(std::string(200'000, '[')));
}

TEST(json_limits, brackets_and_numbers_inside_strings_do_not_count) {
  auto text = "{\"a\":\"" + std::string(500, '[') + "\\\"[{ 99999999999999999999999\"}";
  auto r = parse_json(text);
  ASSERT_TRUE(r) << r.err().message;
  EXPECT_GT((*r)["a"].get<std::string>().size(), 500);
}

TEST(json_limits, a_nul_byte_or_anything_after_the_value_is_refused) {
  EXPECT_FALSE(parse_json_object(std::string{"{\"ttl\":\"1s\"}\0{\"garbage", 22}));
  EXPECT_FALSE(parse_json_object(std::string{"{\"ttl\":\"1s\"}\0", 13}));
  EXPECT_FALSE(parse_json_object(std::string{"{\"a\":\"x\0\"}", 10}));
  EXPECT_FALSE(parse_json_object("{} {}"));
  EXPECT_FALSE(parse_json_object("{}x"));
  EXPECT_TRUE(parse_json_object(" {} \n"));
}

TEST(json_limits, integers_must_fit_in_64_bits) {
  EXPECT_TRUE(parse_json("18446744073709551615"));
  EXPECT_TRUE(parse_json("-9223372036854775808"));
  EXPECT_TRUE(parse_json("[0,-0,1.5e300,-1e-300,2.0]"));
  for (const char* text : {"18446744073709551616", "18446744073709551617",
                           "-9223372036854775809", "[1,99999999999999999999999]",
                           "{\"parts\":[18446744073709551616]}"}) {
    auto r = parse_json(text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.err().message.find("64 bits"), std::string::npos) << r.err().message;
  }
}

TEST(json_limits, parse_json_object_still_wants_one_object_without_duplicates) {
  EXPECT_FALSE(parse_json_object("[1]"));
  EXPECT_FALSE(parse_json_object("{\"a\":1,\"a\":2}"));
  EXPECT_FALSE(parse_json_object("{\"a\":"));
  EXPECT_TRUE(parse_json_object("{\"a\":{\"a\":1}}"));
}

TEST(stored_json, a_stored_value_deeper_than_the_limit_is_an_error_not_a_crash) {
  auto deep = nested(58'000, "[", "", "]");
  stream::checkpoint cp{"s", 3, {}, deep, stream::payload_format::json};
  auto c = checkpoint_json(cp);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), errc::internal);
  stream::event ev{"s", 1, {}, "t", deep, "", "", stream::payload_format::json};
  EXPECT_FALSE(event_json(ev));
  stream::event meta{"s", 1, {}, "t", "1", deep, "", stream::payload_format::json};
  EXPECT_FALSE(event_json(meta));
  stream::entity_state entity;
  entity.id = "e";
  entity.attributes.emplace("a", deep);
  EXPECT_FALSE(entity_json(entity));
}

TEST(stored_json, a_stored_value_that_is_not_json_is_still_shown_as_base64) {
  stream::checkpoint cp{"s", 3, {}, "{not json", stream::payload_format::json};
  auto c = checkpoint_json(cp);
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["state_base64"], "e25vdCBqc29u");
  stream::checkpoint ok{"s", 3, {}, "{\"n\":1}", stream::payload_format::json};
  EXPECT_EQ((*checkpoint_json(ok))["state"]["n"], 1);
}

} // namespace
} // namespace shoal::http
