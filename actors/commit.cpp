#include "actors/commit.hpp"

#include <spdlog/spdlog.h>

namespace shoal {

std::optional<error> on_commit_report(durable_gate& gate, const char* primitive,
                                      uint16_t shard, uint64_t seq, uint8_t code,
                                      std::string message) {
  auto failure = commit_failure(code, std::move(message));
  if (failure) {
    // The shard's memory is ahead of the disk: the gate fails its waiters
    // and the shard stops serving.
    spdlog::critical("{} shard {}: storage write failed: {}", primitive, shard,
                     failure->message);
  }
  gate.committed(seq, failure ? &*failure : nullptr);
  return failure;
}

} // namespace shoal
