#pragma once

#include "runtime/time.hpp"

namespace shoal {

/// The wall clock, the `clock_source` of a running node.
class system_clock final : public clock_source {
public:
  time_point now() const override;
};

} // namespace shoal
