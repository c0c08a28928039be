#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/result.hpp"
#include "runtime/storage/write_batch.hpp"

namespace shoal::storage {

/// How a write reaches the disk before it is acknowledged.
/// - `always`: every batch is fsynced on its own before its acknowledgement.
/// - `batch` (default): every batch is fsynced before its acknowledgement,
///   but concurrent batches share one fsync (group commit).
/// - `none`: batches are acknowledged once written to the OS; a machine
///   crash loses recent acknowledged writes. Unsafe; for tests and benches.
enum class sync_mode : uint8_t { always, batch, none };

std::string_view to_string(sync_mode m);
result<sync_mode> parse_sync_mode(std::string_view text);

/// Whether one `engine::write` waits for the WAL to reach the disk.
enum class durability : uint8_t { sync, async };

/// Visitor for scans: return false to stop early.
using scan_fn = std::function<bool(std::string_view key, std::string_view value)>;

/// Order of a scan.
enum class direction : uint8_t { forward, backward };

/// Point and range reads. Implemented by engines (latest state) and by
/// snapshots (the state when the snapshot was taken). Thread-safe.
class read_view {
public:
  virtual ~read_view() = default;

  /// The value of `key`, or nullopt.
  virtual result<std::optional<std::string>> get(column cf,
                                                 std::string_view key) const
    = 0;

  /// Visits the keys in [begin, end) in `dir` order; an empty `end` means
  /// "to the last key".
  virtual result<void> scan(column cf, std::string_view begin,
                            std::string_view end, const scan_fn& fn,
                            direction dir = direction::forward) const
    = 0;

  /// Visits every key that starts with `prefix`.
  result<void> scan_prefix(column cf, std::string_view prefix,
                           const scan_fn& fn,
                           direction dir = direction::forward) const;

  /// Visits every key that starts with `prefix` in order and stops at the
  /// first record `fn` refuses, returning its error (start-up restore).
  result<void>
  load_prefix(column cf, std::string_view prefix,
              const std::function<result<void>(std::string_view key,
                                                std::string_view value)>& fn)
    const;
};

/// A consistent, read-only view of the engine at one moment.
class snapshot : public read_view {};

/// Counters an engine keeps about itself.
struct engine_stats {
  uint64_t writes = 0;
  uint64_t synced_writes = 0;
};

/// A key-value store with one keyspace (column family) per primitive and
/// atomic multi-column batches. Engines are thread-safe: actors read while
/// the commit thread writes.
class engine : public read_view {
public:
  /// Applies every operation of `batch` atomically. With
  /// `durability::sync` it returns only after the batch is on disk.
  virtual result<void> write(const write_batch& batch, durability d) = 0;

  /// Makes every write that returned before this call durable (one WAL
  /// fsync). It may run while other threads write: the group committer
  /// writes the next group while the previous one is being synced.
  virtual result<void> sync() = 0;

  /// A consistent view of the current state.
  virtual std::unique_ptr<snapshot> make_snapshot() const = 0;

  /// Flushes memtables (RocksDB) so that restart has less to replay.
  virtual result<void> flush() = 0;

  /// Closes the engine; later calls fail with `shutting_down`.
  virtual void close() = 0;

  /// True for the on-disk engine.
  virtual bool is_persistent() const = 0;

  virtual engine_stats stats() const = 0;
};

/// An engine that keeps everything in memory (tests and embedding). Writes
/// are atomic and visible at once; nothing survives the process.
std::unique_ptr<engine> make_memory_engine();

/// Options of the RocksDB engine.
struct rocksdb_options {
  std::string path;
  /// Background threads for flushes and compactions.
  int background_threads = 2;
};

/// Opens (creating if needed) a RocksDB database at `opts.path` with one
/// column family per `column`. Fails with `storage_error` (for example when
/// another process holds the directory's lock).
result<std::unique_ptr<engine>> open_rocksdb_engine(const rocksdb_options& opts);

/// The smallest string greater than every string that starts with `prefix`,
/// or "" if there is none (prefix of all 0xff bytes).
std::string prefix_successor(std::string_view prefix);

} // namespace shoal::storage
