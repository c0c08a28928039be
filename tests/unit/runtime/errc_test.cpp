#include "runtime/errc.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "runtime/error.hpp"

namespace shoal {
namespace {

TEST(errc, every_code_has_a_unique_snake_case_name_that_round_trips) {
  std::set<std::string> names;
  for (auto code : all_errcs) {
    auto name = std::string{to_string(code)};
    EXPECT_FALSE(name.empty());
    for (auto c : name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    }
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(errc_from_string(name), code);
  }
  EXPECT_EQ(names.size(), std::size(all_errcs));
}

TEST(errc, codes_start_at_one_because_zero_means_no_error) {
  for (auto code : all_errcs) {
    EXPECT_NE(static_cast<int>(code), 0);
  }
}

TEST(errc, unknown_name_is_rejected) {
  EXPECT_EQ(errc_from_string("no_such_code"), std::nullopt);
  EXPECT_EQ(errc_from_string(""), std::nullopt);
}

TEST(error, renders_code_and_message) {
  EXPECT_EQ(to_string(error{errc::lock_held, "held by x"}),
            "lock_held: held by x");
  EXPECT_EQ(to_string(error{errc::not_found}), "not_found");
}

} // namespace
} // namespace shoal

#include "runtime/base64.hpp"

namespace shoal {
namespace {

TEST(base64, rfc4648_vectors_and_url_alphabet) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xfb\xff", base64_alphabet::url), "-_8");
  EXPECT_EQ(*base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*base64_decode("-_8", base64_alphabet::url), "\xfb\xff");
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  EXPECT_EQ(*base64_decode(base64_encode(all)), all);
  EXPECT_EQ(*base64_decode(base64_encode(all, base64_alphabet::url),
                           base64_alphabet::url),
            all);
}

TEST(base64, only_the_canonical_text_decodes) {
  EXPECT_EQ(*base64_decode("YQ=="), "a");
  // Missing or partial padding, bits after the last byte, the other
  // alphabet, padding inside the text.
  for (const char* bad : {"YQ", "YQ=", "YR==", "-_8=", "YQ==YQ==", "Y===",
                          "YW==", "YWF=", "Zm9v\n", " Zm9v", "===="}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
  // Tokens: the URL alphabet, never padded, also canonical.
  EXPECT_FALSE(base64_decode("-_8=", base64_alphabet::url));
  EXPECT_FALSE(base64_decode("-_9", base64_alphabet::url));
  EXPECT_FALSE(base64_decode("+/8", base64_alphabet::url));
  // Every text that decodes is the encoding of what it decodes to.
  for (const char* text : {"", "YQ==", "YWI=", "YWJj", "/+8=", "AAAA"}) {
    auto bytes = base64_decode(text);
    ASSERT_TRUE(bytes) << text;
    EXPECT_EQ(base64_encode(*bytes), text);
  }
}

} // namespace
} // namespace shoal

#include "runtime/sha256.hpp"

namespace shoal {
namespace {

TEST(sha256, fips_180_test_vectors) {
  EXPECT_EQ(sha256::hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256::hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256::hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256::hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(sha256, incremental_updates_match_one_shot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) {
    data += static_cast<char>(i * 7);
  }
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 200u}) {
    sha256 s;
    for (size_t pos = 0; pos < data.size(); pos += step) {
      s.update(std::string_view{data}.substr(pos, step));
    }
    auto d = s.finish();
    EXPECT_EQ(to_hex(std::string_view{reinterpret_cast<const char*>(d.data()),
                                      d.size()}),
              sha256::hex(data))
      << step;
  }
}

} // namespace
} // namespace shoal
