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
  EXPECT_EQ(base64_encode("\xfb\xff", true), "-_8");
  EXPECT_EQ(*base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*base64_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  EXPECT_EQ(*base64_decode(base64_encode(all)), all);
  EXPECT_EQ(*base64_decode(base64_encode(all, true)), all);
}

} // namespace
} // namespace shoal
