#include "actors/shard/local_reads.hpp"

#include <string>

namespace shoal {

result<void> local_reads::may_read(shard_kind kind, uint16_t shard) const {
  (void) kind; // every primitive's shards are placed alike, for now
  if (!dir_.is_local(shard)) {
    return fail(errc::unavailable, "shard " + std::to_string(shard) + " is served by "
                                     + dir_.owner_of(shard));
  }
  return {};
}

result<const storage::read_view*> local_reads::storage_of(shard_kind kind,
                                                          uint16_t shard) const {
  if (auto ok = may_read(kind, shard); !ok) {
    return std::move(ok).err();
  }
  return &store_;
}

} // namespace shoal
