#include "runtime/machine.hpp"

#include <gtest/gtest.h>

namespace shoal {
namespace {

using namespace std::chrono_literals;

// Every strict prefix of an encoding is refused: a log entry cut short is
// never read as a shorter valid one.
template <class T>
void expect_round_trip_and_prefixes_refused(const T& value) {
  auto text = encode_to_string(value);
  auto back = decode_from_string<T>(text);
  ASSERT_TRUE(back) << back.err().message;
  EXPECT_EQ(*back, value);
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(decode_from_string<T>(text.substr(0, n))) << "prefix of " << n;
  }
  EXPECT_FALSE(decode_from_string<T>(text + "x")) << "a trailing byte";
}

TEST(machine_encoding, records_round_trip_and_every_prefix_is_refused) {
  for (const auto& r : {record::put("k", "v"), record::put("", ""),
                        record::put("k\0\xff", std::string(300, 'x')), record::erase("k"),
                        record::erase_range("a", "b")}) {
    expect_round_trip_and_prefixes_refused(r);
  }
  expect_round_trip_and_prefixes_refused(
    std::vector<record>{record::put("a", "1"), record::erase("b"),
                        record::erase_range("c", "d")});
  expect_round_trip_and_prefixes_refused(std::vector<record>{});
}

TEST(machine_encoding, contexts_round_trip_and_every_prefix_is_refused) {
  for (const auto& c : {apply_ctx{}, apply_ctx{from_unix_nanos(1'700'000'000'123'456'789), 42, 7},
                        apply_ctx{from_unix_nanos(-5), UINT64_MAX, UINT16_MAX}}) {
    expect_round_trip_and_prefixes_refused(c);
  }
}

TEST(machine_encoding, malformed_records_are_refused) {
  // Unknown flags; a value and a range together; an empty range end.
  for (std::string bad : {std::string{"\x04\x01k", 3}, std::string{"\x03\x01k\x01v\x01z", 7},
                          std::string{"\x02\x01k\x00", 4}}) {
    EXPECT_FALSE(decode_from_string<record>(bad));
  }
  // A count far beyond the input.
  EXPECT_FALSE(decode_from_string<std::vector<record>>(std::string{"\xff\xff\xff\x0f", 4}));
}

} // namespace
} // namespace shoal
