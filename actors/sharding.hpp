#pragma once

#include <cstdint>
#include <string_view>

namespace shoal {

/// The shard of `key` among `n`: XXH64(key, seed 0) mod n. Stable across
/// restarts and nodes (it decides where a key's records live), the same for
/// every primitive.
uint16_t shard_index(std::string_view key, uint32_t n);

} // namespace shoal
