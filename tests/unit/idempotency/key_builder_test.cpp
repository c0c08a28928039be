#include "runtime/idempotency/key_builder.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "runtime/sha256.hpp"

namespace shoal::idem {
namespace {

using list = key_value::list;
using map = key_value::map;

TEST(canonical_encoding, is_type_tagged_and_readable) {
  EXPECT_EQ(*canonical_encoding(nullptr), "n");
  EXPECT_EQ(*canonical_encoding(true), "t");
  EXPECT_EQ(*canonical_encoding(false), "f");
  EXPECT_EQ(*canonical_encoding(-42), "i-42;");
  EXPECT_EQ(*canonical_encoding(1.0), "d3ff0000000000000;");
  EXPECT_EQ(*canonical_encoding(-0.0), "d0000000000000000;");
  EXPECT_EQ(*canonical_encoding("héllo"), "s6:héllo");
  EXPECT_EQ(*canonical_encoding(list{1, "1", nullptr}), "l3:i1;s1:1n");
  EXPECT_EQ(*canonical_encoding(map{{"b", 2}, {"B", 1}, {"a", list{}}}),
            "m3:s1:Bi1;s1:al0:s1:bi2;");
}

TEST(canonical_encoding, distinguishes_what_json_distinguishes) {
  auto enc = [](const key_value& v) { return *canonical_encoding(v); };
  EXPECT_NE(enc(list{"1"}), enc(list{1}));
  EXPECT_NE(enc(list{1}), enc(list{1.0}));
  EXPECT_NE(enc(list{"a", "b"}), enc(list{"ab"}));
  EXPECT_NE(enc(list{list{"a"}, "b"}), enc(list{"a", list{"b"}}));
  // Mixed-case map keys stay distinct; map order does not matter.
  EXPECT_NE(enc(map{{"Id", 1}}), enc(map{{"id", 1}}));
  EXPECT_EQ(enc(map{{"x", 1}, {"y", 2}}), enc(map{{"y", 2}, {"x", 1}}));
}

TEST(canonical_encoding, rejects_duplicates_non_finite_and_oversize) {
  EXPECT_EQ(canonical_encoding(map{{"a", 1}, {"a", 2}}).code(),
            errc::invalid_argument);
  EXPECT_EQ(canonical_encoding(std::nan("")).code(), errc::invalid_argument);
  EXPECT_EQ(canonical_encoding(std::string(40 * 1024, 'x')).code(),
            errc::too_large);
}

// Pinned outputs, checked against an independent SHA-256 of the encodings
// shown in the comments: changing the encoding or the hash breaks these,
// and with them every key clients already stored.
//   l0:                                                   → 0db2e8…
//   l3:s10:order-1001i4999;s3:EUR                         → 765a61…
//   l1:i1;                                                → bb1152…
//   l1:s1:1                                               → a22a24…
//   l3:m2:s6:amountd4029000000000000;s8:customers3:c-7tn  → d6f7c9…
//   m2:s6:Amounti4999;s5:orders4:1001 (from a map)        → 73c877…
TEST(build_key, golden_vectors) {
  struct golden {
    list parts;
    const char* key;
  };
  const golden vectors[] = {
    {{}, "v1:acme:payments:0db2e8105005bd716261bab87ab0dafb638c42e4ff9c41bec5c39a735053dfc8"},
    {{"order-1001", 4999, "EUR"}, "v1:acme:payments:765a615fc333b1f374eb33368951face6c2ee559de42142be6dac2607aa49fcd"},
    {{1}, "v1:acme:payments:bb1152eb49739f9d769e950b80a261f578b9abdfa77d6ee5c8b272cf0485889e"},
    {{"1"}, "v1:acme:payments:a22a2498d11b9be476c3dce7175cc5c8a546902b860f620de4503a3ceff20183"},
    {{map{{"customer", "c-7"}, {"amount", 12.5}}, true, nullptr},
     "v1:acme:payments:d6f7c9073b597553e6345adc457f20cfe59d74bbac5ecfb52503694cb5c5c1cf"},
  };
  for (const auto& g : vectors) {
    auto key = build_key("acme", "payments", g.parts);
    ASSERT_TRUE(key);
    EXPECT_EQ(*key, g.key) << *canonical_encoding(key_value{g.parts});
  }
  auto from_map = build_key_from_map("acme", "payments",
                                     map{{"order", "1001"}, {"Amount", 4999}});
  ASSERT_TRUE(from_map);
  EXPECT_EQ(*from_map, "v1:acme:payments:73c8770482d99d93875a15ce257217079578b462bc6ec5fc772899417cb78e56");
}

TEST(build_key, hash_is_sha256_of_the_encoding) {
  auto key = build_key("t", "s", list{"x"});
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, "v1:t:s:" + sha256::hex("l1:s1:x"));
}

TEST(build_key, limits_of_tenant_scope_and_parts) {
  EXPECT_EQ(build_key("", "s", {}).code(), errc::invalid_argument);
  EXPECT_EQ(build_key(std::string(65, 't'), "s", {}).code(),
            errc::invalid_argument);
  EXPECT_EQ(build_key("t", std::string(33, 's'), {}).code(),
            errc::invalid_argument);
  EXPECT_EQ(build_key("t:x", "s", {}).code(), errc::invalid_argument);
  EXPECT_EQ(build_key("t", "s p", {}).code(), errc::invalid_argument);
  EXPECT_TRUE(build_key(std::string(64, 't'), std::string(32, 's'), {}));
  list many(33, key_value{1});
  EXPECT_EQ(build_key("t", "s", many).code(), errc::invalid_argument);
}

TEST(parse_key, round_trips_built_keys_and_rejects_others) {
  auto key = *build_key("acme", "refunds", list{"r-1"});
  auto parts = parse_key(key);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->version, "v1");
  EXPECT_EQ(parts->tenant, "acme");
  EXPECT_EQ(parts->scope, "refunds");
  EXPECT_EQ(parts->hash.size(), 64u);
  for (const std::string& bad : std::vector<std::string>{"", "v1:a:b", "v2:a:b:" + std::string(64, '0'),
                   "v1:a:b:" + std::string(63, '0'),
                   "v1:a:b:" + std::string(64, 'A'),
                   "v1::b:" + std::string(64, '0'),
                   "v1:a:b:c:" + std::string(64, '0')}) {
    EXPECT_EQ(parse_key(bad).code(), errc::invalid_key) << bad;
  }
}

} // namespace
} // namespace shoal::idem
