#include "actors/sharding.hpp"

#include <xxhash.h>

namespace shoal {

uint16_t shard_index(std::string_view key, uint32_t n) {
  return static_cast<uint16_t>(XXH64(key.data(), key.size(), 0) % n);
}

} // namespace shoal
