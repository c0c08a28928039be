#include "actors/shard/shard_host.hpp"

namespace shoal {

storage::write_batch to_batch(storage::column column, std::vector<record> records) {
  storage::write_batch b;
  for (auto& r : records) {
    if (!r.range_end.empty()) {
      b.erase_range(column, std::move(r.key), std::move(r.range_end));
    } else if (r.value) {
      b.put(column, std::move(r.key), std::move(*r.value));
    } else {
      b.erase(column, std::move(r.key));
    }
  }
  return b;
}

} // namespace shoal
