#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>

#include "runtime/result.hpp"

namespace shoal {

/// A span of time with nanosecond resolution.
using duration = std::chrono::nanoseconds;

/// A point on the wall clock (UTC, nanoseconds since the Unix epoch). State
/// machines never read a clock: their shell passes `now` in.
using time_point = std::chrono::sys_time<std::chrono::nanoseconds>;

/// A source of `now`, implemented by the actor layer (system clock) and by
/// tests (a manual clock they advance by hand).
class clock_source {
public:
  virtual ~clock_source() = default;
  virtual time_point now() const = 0;
};

/// Nanoseconds since the Unix epoch, the on-disk and on-wire form.
constexpr int64_t to_unix_nanos(time_point t) {
  return t.time_since_epoch().count();
}

constexpr time_point from_unix_nanos(int64_t ns) {
  return time_point{duration{ns}};
}

/// Parses a duration such as `30s`, `1500ms`, `2m30s`, `1h`, `7d`, `250us`,
/// `10ns`, or a bare number of seconds (`30`). Negative values, unknown
/// units, empty input and values beyond `max_duration` fail with
/// `invalid_argument`.
result<duration> parse_duration(std::string_view text);

/// The longest duration `parse_duration` accepts: 100 years.
inline constexpr duration max_duration = std::chrono::hours{24 * 365 * 100};

/// Formats a duration in the shortest exact form `parse_duration` reads back
/// (`1h30m`, `250ms`, `0s`).
std::string format_duration(duration d);

/// RFC 3339 with nanoseconds in UTC: `2026-11-23T19:46:00.123456789Z`.
std::string format_rfc3339(time_point t);

/// Parses what `format_rfc3339` writes: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`
/// (UTC, up to 9 fraction digits); nullopt for anything else.
std::optional<time_point> parse_rfc3339(std::string_view text);

} // namespace shoal
