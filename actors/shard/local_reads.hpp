#pragma once

// The one way to read a shard's state without going through its actor.

#include <cstdint>

#include "actors/cluster/directory.hpp"
#include "runtime/result.hpp"
#include "runtime/storage/engine.hpp"

namespace shoal {

/// Reads of a shard's storage that skip its actor (a page of stream
/// events, a watcher's catch-up from the kv change log, a published entity
/// projection) save the shard's mailbox a trip, and are right only where
/// this node may serve the shard: today where it owns it (its only
/// replica); once shards are replicated, where its replica leads or has
/// caught up to a read index. Every such read asks `may_read` first; a
/// shard this node may not serve is `unavailable`, and the caller asks the
/// owner's actor instead.
///
/// Thread-safety: may be called from any thread.
class local_reads {
public:
  local_reads(const directory& dir, const storage::read_view& store)
    : dir_(dir), store_(store) {
  }

  /// Whether this node may serve reads of `shard` of `kind` itself.
  result<void> may_read(shard_kind kind, uint16_t shard) const;

  /// The storage to read `shard` of `kind` from, if `may_read`.
  result<const storage::read_view*> storage_of(shard_kind kind, uint16_t shard) const;

private:
  const directory& dir_;
  const storage::read_view& store_;
};

} // namespace shoal
