#include "runtime/time.hpp"

#include <cstdio>
#include <random>

#include <gtest/gtest.h>

namespace shoal {
namespace {

using namespace std::chrono_literals;

struct duration_case {
  const char* text;
  duration expected;
};

class parse_duration_ok : public testing::TestWithParam<duration_case> {};

TEST_P(parse_duration_ok, parses) {
  auto r = parse_duration(GetParam().text);
  ASSERT_TRUE(r) << to_string(r.err());
  EXPECT_EQ(*r, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
  table, parse_duration_ok,
  testing::Values(duration_case{"0", 0s}, duration_case{"30", 30s},
                  duration_case{"30s", 30s}, duration_case{"1500ms", 1500ms},
                  duration_case{"2m30s", 150s}, duration_case{"1h", 1h},
                  duration_case{"7d", 168h}, duration_case{"250us", 250us},
                  duration_case{"10ns", 10ns}, duration_case{"1m1ms", 60001ms},
                  duration_case{"1h30m", 90min}, duration_case{"0s", 0s}));

class parse_duration_bad : public testing::TestWithParam<const char*> {};

TEST_P(parse_duration_bad, is_rejected) {
  auto r = parse_duration(GetParam());
  ASSERT_FALSE(r) << GetParam();
  EXPECT_EQ(r.code(), errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(table, parse_duration_bad,
                         testing::Values("", "-1s", "s", "1x", "1.5s", "1s2",
                                         "abc", " 1s", "1s ", "36500d1s",
                                         "99999999999999999999",
                                         "3153600000000000000ns1ns"));

TEST(duration, max_duration_is_accepted_and_one_more_is_not) {
  EXPECT_TRUE(parse_duration("36500d"));
  EXPECT_FALSE(parse_duration("36500d1ns"));
}

TEST(duration, format_round_trips) {
  for (auto d : {duration{0}, duration{1s}, duration{90min}, duration{250ms},
                 duration{1s + 500ms}, duration{7ns}, duration{26h + 1us}}) {
    auto text = format_duration(d);
    auto back = parse_duration(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, d) << text;
  }
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(250ms), "250ms");
}

TEST(time_point, rfc3339_in_utc_with_nanoseconds) {
  EXPECT_EQ(format_rfc3339(from_unix_nanos(0)),
            "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_rfc3339(from_unix_nanos(1'795'463'160'123'456'789)),
            "2026-11-23T19:46:00.123456789Z");
}

TEST(time_point, rfc3339_matches_a_reference_over_the_whole_range) {
  using namespace std::chrono;
  auto reference = [](int64_t ns) {
    auto secs = ns / 1'000'000'000;
    auto frac = ns % 1'000'000'000;
    if (frac < 0) {
      frac += 1'000'000'000;
      secs -= 1;
    }
    auto days = sys_days{floor<std::chrono::days>(seconds{secs})};
    year_month_day ymd{days};
    auto rem = secs - duration_cast<seconds>(days.time_since_epoch()).count();
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()),
                  static_cast<long long>(rem / 3600),
                  static_cast<long long>((rem / 60) % 60),
                  static_cast<long long>(rem % 60), static_cast<long long>(frac));
    return std::string{buf};
  };
  std::mt19937_64 rng{42};
  for (int i = 0; i < 20'000; ++i) {
    auto ns = static_cast<int64_t>(rng());
    ASSERT_EQ(format_rfc3339(from_unix_nanos(ns)), reference(ns)) << ns;
  }
  for (int64_t ns : {int64_t{0}, int64_t{-1}, int64_t{999'999'999},
                     int64_t{86'399'999'999'999}}) {
    EXPECT_EQ(format_rfc3339(from_unix_nanos(ns)), reference(ns)) << ns;
  }
}

TEST(time_point, rfc3339_parses_what_it_formats) {
  for (int64_t ns : {int64_t{0}, int64_t{1'795'463'160'123'456'789}, int64_t{951'782'400'000'000'001}}) {
    auto t = from_unix_nanos(ns);
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << ns;
  }
  EXPECT_EQ(parse_rfc3339("2026-11-23T19:46:00Z"),
            from_unix_nanos(1'795'463'160'000'000'000));
  EXPECT_EQ(parse_rfc3339("2026-11-23T19:46:00.5Z"),
            from_unix_nanos(1'795'463'160'500'000'000));
  for (auto bad : {"", "2026-11-23", "2026-11-23T19:46:00", "2026-11-23T19:46:00+01:00",
                   "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T19:46:00.Z",
                   "2026-11-23T19:46:00.1234567890Z", "2026-11-23 19:46:00Z",
                   "2026-1a-23T19:46:00Z", "2026-11-23T19:46:00Zx"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(time_point, unix_nanos_round_trip) {
  auto t = from_unix_nanos(1'234'567'890'123);
  EXPECT_EQ(to_unix_nanos(t), 1'234'567'890'123);
}

} // namespace
} // namespace shoal