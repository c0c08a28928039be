#pragma once

#include <cstdint>
#include <string>

namespace shoal {

/// What a node says about itself (`GET /v1/node`, `shoalctl status`, and
/// the node actor's `info` reply, also to remote programs).
struct node_info {
  std::string version;
  /// Stable identity, created at first start and kept in the data dir.
  std::string node_id;
  /// Empty in memory mode.
  std::string data_dir;
  std::string storage; // "rocksdb" or "memory"
  std::string sync_mode;
  uint32_t shard_count = 0;
  int64_t started_unix_nanos = 0;
  int64_t now_unix_nanos = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(x.version, x.node_id, x.data_dir, x.storage, x.sync_mode,
           x.shard_count, x.started_unix_nanos, x.now_unix_nanos);
}

} // namespace shoal
