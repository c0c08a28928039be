#include "runtime/result.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace shoal {
namespace {

result<int> parse_positive(int x) {
  if (x <= 0) {
    return fail(errc::invalid_argument, "not positive");
  }
  return x;
}

TEST(result, holds_a_value) {
  auto r = parse_positive(3);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3);
}

TEST(result, holds_an_error_with_code_and_message) {
  auto r = parse_positive(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), errc::invalid_argument);
  EXPECT_EQ(r.err().message, "not positive");
}

TEST(result, converts_compatible_values_and_moves_only_types) {
  result<std::string> s = "text";
  EXPECT_EQ(*s, "text");
  result<std::unique_ptr<int>> p = std::make_unique<int>(7);
  auto owned = std::move(p).value();
  EXPECT_EQ(*owned, 7);
}

TEST(result, void_result_is_ok_by_default_and_carries_errors) {
  result<void> ok;
  EXPECT_TRUE(ok);
  result<void> bad = errc::conflict;
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.code(), errc::conflict);
}

} // namespace
} // namespace shoal
