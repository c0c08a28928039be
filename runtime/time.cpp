#include "runtime/time.hpp"

#include <array>
#include <cstdio>

namespace shoal {

namespace {

struct unit {
  std::string_view name;
  int64_t nanos;
};

// Longest names first so that "ms" is not read as "m" followed by "s".
constexpr std::array<unit, 7> units{{
  {"ns", 1},
  {"us", 1'000},
  {"ms", 1'000'000},
  {"s", 1'000'000'000},
  {"m", 60'000'000'000},
  {"h", 3'600'000'000'000},
  {"d", 86'400'000'000'000},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

} // namespace

result<duration> parse_duration(std::string_view text) {
  if (text.empty()) {
    return fail(errc::invalid_argument, "empty duration");
  }
  if (text.size() > 64) {
    return fail(errc::invalid_argument, "duration too long");
  }
  const auto limit = max_duration.count();
  int64_t total = 0;
  size_t pos = 0;
  bool bare = true;
  while (pos < text.size()) {
    if (!is_digit(text[pos])) {
      return fail(errc::invalid_argument,
                  "invalid duration '" + std::string{text} + "'");
    }
    int64_t number = 0;
    while (pos < text.size() && is_digit(text[pos])) {
      number = number * 10 + (text[pos] - '0');
      if (number > limit) {
        return fail(errc::invalid_argument, "duration out of range");
      }
      ++pos;
    }
    if (pos == text.size()) {
      if (!bare) {
        return fail(errc::invalid_argument,
                    "missing unit in duration '" + std::string{text} + "'");
      }
      // A bare number means seconds.
      if (number > limit / units[3].nanos) {
        return fail(errc::invalid_argument, "duration out of range");
      }
      return duration{number * units[3].nanos};
    }
    bare = false;
    const unit* found = nullptr;
    for (const auto& u : units) {
      if (text.substr(pos, u.name.size()) == u.name) {
        // "m" must not swallow the "m" of "ms".
        if (u.name == "m" && text.substr(pos, 2) == "ms") {
          continue;
        }
        if (found == nullptr || u.name.size() > found->name.size()) {
          found = &u;
        }
      }
    }
    if (found == nullptr) {
      return fail(errc::invalid_argument,
                  "unknown unit in duration '" + std::string{text} + "'");
    }
    pos += found->name.size();
    if (number > (limit - total) / found->nanos) {
      return fail(errc::invalid_argument, "duration out of range");
    }
    total += number * found->nanos;
  }
  return duration{total};
}

std::string format_duration(duration d) {
  auto ns = d.count();
  if (ns == 0) {
    return "0s";
  }
  std::string out;
  if (ns < 0) {
    out += '-';
    ns = -ns;
  }
  // Whole days, hours, minutes and seconds, then the sub-second remainder in
  // the coarsest unit that represents it exactly.
  for (auto i = units.size(); i-- > 3;) {
    auto n = ns / units[i].nanos;
    if (n > 0) {
      out += std::to_string(n);
      out += units[i].name;
      ns -= n * units[i].nanos;
    }
  }
  if (ns > 0) {
    for (auto i = size_t{3}; i-- > 0;) {
      if (ns % units[i].nanos == 0) {
        out += std::to_string(ns / units[i].nanos);
        out += units[i].name;
        break;
      }
    }
  }
  return out;
}

std::string format_rfc3339(time_point t) {
  using namespace std::chrono;
  auto ns = to_unix_nanos(t);
  auto secs = ns / 1'000'000'000;
  auto frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    secs -= 1;
  }
  auto days = sys_days{floor<std::chrono::days>(seconds{secs})};
  year_month_day ymd{days};
  auto rem = secs - duration_cast<seconds>(days.time_since_epoch()).count();
  // Written digit by digit: this is on the path of most responses, and
  // snprintf costs several times more.
  char buf[32];
  auto put = [&buf](size_t at, int64_t v, size_t width) {
    for (size_t i = width; i > 0; --i) {
      buf[at + i - 1] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  auto year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    // Not four digits (never produced by shoal's clocks): the general path.
    char wide[64];
    std::snprintf(wide, sizeof(wide),
                  "%04d-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ", year,
                  static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()),
                  static_cast<long long>(rem / 3600),
                  static_cast<long long>((rem / 60) % 60),
                  static_cast<long long>(rem % 60),
                  static_cast<long long>(frac));
    return wide;
  }
  put(0, year, 4);
  buf[4] = '-';
  put(5, static_cast<unsigned>(ymd.month()), 2);
  buf[7] = '-';
  put(8, static_cast<unsigned>(ymd.day()), 2);
  buf[10] = 'T';
  put(11, rem / 3600, 2);
  buf[13] = ':';
  put(14, (rem / 60) % 60, 2);
  buf[16] = ':';
  put(17, rem % 60, 2);
  buf[19] = '.';
  put(20, frac, 9);
  buf[29] = 'Z';
  return std::string{buf, 30};
}

std::optional<time_point> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  // Reads `n` digits at `pos`.
  auto digits = [&](size_t pos, size_t n) -> std::optional<int64_t> {
    if (pos + n > text.size()) {
      return std::nullopt;
    }
    int64_t v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return std::nullopt;
      }
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = digits(0, 4);
  auto mo = digits(5, 2);
  auto d = digits(8, 2);
  auto h = digits(11, 2);
  auto mi = digits(14, 2);
  auto sec = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !sec || text.size() < 20 || text[4] != '-'
      || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':'
      || *h > 23 || *mi > 59 || *sec > 59) {
    return std::nullopt;
  }
  year_month_day ymd{year{static_cast<int>(*y)}, month{static_cast<unsigned>(*mo)},
                     day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t frac = 0;
  if (text[pos] == '.') {
    size_t n = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      if (++n > 9) {
        return std::nullopt;
      }
      frac = frac * 10 + (text[pos] - '0');
    }
    if (n == 0) {
      return std::nullopt;
    }
    for (; n < 9; ++n) {
      frac *= 10;
    }
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') {
    return std::nullopt;
  }
  auto secs = duration_cast<seconds>(sys_days{ymd}.time_since_epoch()).count()
              + *h * 3600 + *mi * 60 + *sec;
  return from_unix_nanos(secs * 1'000'000'000 + frac);
}

} // namespace shoal
