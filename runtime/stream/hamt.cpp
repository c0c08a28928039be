#include "runtime/stream/hamt.hpp"

#include <xxhash.h>

namespace shoal::stream {

uint64_t hamt_hash(std::string_view key) {
  return XXH64(key.data(), key.size(), 0);
}

} // namespace shoal::stream
