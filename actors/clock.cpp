#include "actors/clock.hpp"

#include <chrono>

namespace shoal {

time_point system_clock::now() const {
  return std::chrono::time_point_cast<duration>(
    std::chrono::system_clock::now());
}

} // namespace shoal
