#pragma once

#include "runtime/time.hpp"

namespace shoal::test {

/// A clock that only moves when a test advances it.
class manual_clock final : public clock_source {
public:
  explicit manual_clock(time_point start = from_unix_nanos(1'700'000'000'000'000'000))
    : now_(start) {
  }

  time_point now() const override {
    return now_;
  }

  void advance(duration d) {
    now_ += d;
  }

  void set(time_point t) {
    now_ = t;
  }

private:
  time_point now_;
};

} // namespace shoal::test
