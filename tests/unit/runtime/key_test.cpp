#include "runtime/key.hpp"

#include <string>

#include <gtest/gtest.h>

namespace shoal {
namespace {

TEST(validate_key, accepts_ordinary_keys) {
  for (auto key : {"a", "config.db.host", "svc/web-1", "A_b-c:d@e", "x.y.z.1",
                   "~!#$%^&()"}) {
    EXPECT_TRUE(validate_key(key)) << key;
  }
}

TEST(validate_key, accepts_the_longest_key) {
  EXPECT_TRUE(validate_key(std::string(max_key_size, 'k')));
}

struct bad_key {
  std::string key;
  std::string why;
};

class validate_key_bad : public testing::TestWithParam<bad_key> {};

TEST_P(validate_key_bad, is_rejected_with_invalid_key) {
  auto r = validate_key(GetParam().key);
  ASSERT_FALSE(r) << GetParam().why;
  EXPECT_EQ(r.code(), errc::invalid_key);
  EXPECT_FALSE(r.err().message.empty());
}

INSTANTIATE_TEST_SUITE_P(
  table, validate_key_bad,
  testing::Values(bad_key{"", "empty"},
                  bad_key{std::string(max_key_size + 1, 'k'), "too long"},
                  bad_key{"a b", "space"}, bad_key{"a\tb", "tab"},
                  bad_key{std::string{"a\0b", 3}, "nul"},
                  bad_key{"a\x7f", "del"}, bad_key{"caf\xc3\xa9", "non-ascii"},
                  bad_key{".a", "leading dot"}, bad_key{"a.", "trailing dot"},
                  bad_key{"a..b", "double dot"}, bad_key{".", "only a dot"},
                  bad_key{"a*", "star"}, bad_key{"a.>", "gt"},
                  bad_key{"a\nb", "newline"}));

TEST(key_pattern, exact_matches_only_itself) {
  auto p = key_pattern::parse("config.db");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type(), key_pattern::kind::exact);
  EXPECT_TRUE(p->matches("config.db"));
  EXPECT_FALSE(p->matches("config.db.host"));
  EXPECT_FALSE(p->matches("config.d"));
}

TEST(key_pattern, trailing_star_is_a_string_prefix) {
  auto p = key_pattern::parse("config.*");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type(), key_pattern::kind::prefix);
  EXPECT_TRUE(p->matches("config.foo"));
  EXPECT_TRUE(p->matches("config.foo.bar"));
  EXPECT_FALSE(p->matches("config"));
  EXPECT_FALSE(p->matches("configx"));
  auto q = key_pattern::parse("conf*");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->matches("config"));
  EXPECT_EQ(q->scan_prefix(), "conf");
}

TEST(key_pattern, subtree_matches_root_and_descendants_only) {
  auto p = key_pattern::parse("svc.web.>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type(), key_pattern::kind::subtree);
  EXPECT_TRUE(p->matches("svc.web"));
  EXPECT_TRUE(p->matches("svc.web.1"));
  EXPECT_TRUE(p->matches("svc.web.1.health"));
  EXPECT_FALSE(p->matches("svc.webx"));
  EXPECT_FALSE(p->matches("svc"));
  EXPECT_EQ(p->scan_prefix(), "svc.web");
}

TEST(key_pattern, lone_wildcards_match_everything) {
  for (auto text : {"*", ">"}) {
    auto p = key_pattern::parse(text);
    ASSERT_TRUE(p) << text;
    EXPECT_TRUE(p->matches("a"));
    EXPECT_TRUE(p->matches("a.b.c"));
    EXPECT_EQ(p->scan_prefix(), "");
    EXPECT_EQ(p->text(), text);
  }
}

TEST(key_pattern, text_round_trips) {
  for (auto text : {"a.b", "a.b*", "a.*", "a.b.>", "*", ">"}) {
    auto p = key_pattern::parse(text);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(p->text(), text);
  }
}

TEST(key_pattern, malformed_patterns_are_rejected) {
  for (auto text : {"", "a*b", "*a", "a**", "a>", ">a", "a.>.b", "a b*",
                    ".>", "..*", ".a*", "a..b.>", "a.>.>"}) {
    auto p = key_pattern::parse(text);
    EXPECT_FALSE(p) << text;
    if (!p) {
      EXPECT_EQ(p.code(), errc::invalid_key) << text;
    }
  }
}

} // namespace
} // namespace shoal
