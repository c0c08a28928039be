#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/storage/engine.hpp"

namespace shoal {

/// The shard of `key` among `n`: XXH64(key, seed 0) mod n. Stable across
/// restarts and nodes (it decides where a key's records live), the same for
/// every primitive.
uint16_t shard_index(std::string_view key, uint32_t n);

/// Loads every stored record of `table`'s shard (keys under
/// `Table::prefix(shard)` in `column`) through `table.restore`; an error
/// names the primitive and the shard.
template <class Table>
result<void> restore_shard(const storage::read_view& store,
                           storage::column column, Table& table,
                           const char* primitive) {
  return store.load_prefix(
    column, Table::prefix(table.shard()),
    [&](std::string_view k, std::string_view v) -> result<void> {
      auto ok = table.restore(k, v);
      if (!ok) {
        auto bad = std::move(ok).err();
        bad.message += std::string{" ("} + primitive + " shard "
                       + std::to_string(table.shard()) + ")";
        return bad;
      }
      return {};
    });
}

} // namespace shoal
