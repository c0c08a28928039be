// The RocksDB engine: one column family per `column`, atomic WriteBatch
// writes, WAL sync per write on request, snapshots through GetSnapshot.

#include <algorithm>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "runtime/storage/engine.hpp"

namespace shoal::storage {

namespace {

error storage_failure(const char* what, const rocksdb::Status& st) {
  return error{errc::storage_error, std::string{what} + ": " + st.ToString()};
}

rocksdb::Slice slice(std::string_view s) {
  return rocksdb::Slice{s.data(), s.size()};
}

std::string_view view(const rocksdb::Slice& s) {
  return std::string_view{s.data(), s.size()};
}

result<void> scan_db(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                     const rocksdb::Snapshot* snap, std::string_view begin,
                     std::string_view end, const scan_fn& fn, direction dir) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  rocksdb::Slice lower = slice(begin);
  rocksdb::Slice upper = slice(end);
  ro.iterate_lower_bound = &lower;
  if (!end.empty()) {
    ro.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(ro, cf)};
  if (dir == direction::forward) {
    for (it->Seek(lower); it->Valid(); it->Next()) {
      if (!fn(view(it->key()), view(it->value()))) {
        break;
      }
    }
  } else {
    if (end.empty()) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(upper);
      // SeekForPrev lands on `end` itself when present: step below it.
      if (it->Valid() && view(it->key()) >= end) {
        it->Prev();
      }
    }
    for (; it->Valid(); it->Prev()) {
      if (!fn(view(it->key()), view(it->value()))) {
        break;
      }
    }
  }
  if (!it->status().ok()) {
    return storage_failure("scan", it->status());
  }
  return {};
}

class rocksdb_engine;

class rocksdb_snapshot final : public snapshot {
public:
  rocksdb_snapshot(std::shared_ptr<rocksdb::DB> db,
                   std::vector<rocksdb::ColumnFamilyHandle*> cfs)
    : db_(std::move(db)), cfs_(std::move(cfs)), snap_(db_->GetSnapshot()) {
  }

  ~rocksdb_snapshot() override {
    db_->ReleaseSnapshot(snap_);
  }

  result<std::optional<std::string>> get(column cf,
                                         std::string_view key) const override {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    std::string value;
    auto st = db_->Get(ro, cfs_[static_cast<size_t>(cf)], slice(key), &value);
    if (st.IsNotFound()) {
      return std::optional<std::string>{};
    }
    if (!st.ok()) {
      return storage_failure("get", st);
    }
    return std::optional<std::string>{std::move(value)};
  }

  result<void> scan(column cf, std::string_view begin, std::string_view end,
                    const scan_fn& fn, direction dir) const override {
    return scan_db(db_.get(), cfs_[static_cast<size_t>(cf)], snap_, begin,
                   end, fn, dir);
  }

private:
  std::shared_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  const rocksdb::Snapshot* snap_;
};

class rocksdb_engine final : public engine {
public:
  rocksdb_engine(std::shared_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> cfs)
    : db_(std::move(db)), cfs_(std::move(cfs)) {
  }

  ~rocksdb_engine() override {
    close();
  }

  result<std::optional<std::string>> get(column cf,
                                         std::string_view key) const override {
    std::shared_lock guard{mtx_};
    if (!db_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    std::string value;
    auto st = db_->Get(rocksdb::ReadOptions{}, cfs_[static_cast<size_t>(cf)],
                       slice(key), &value);
    if (st.IsNotFound()) {
      return std::optional<std::string>{};
    }
    if (!st.ok()) {
      return storage_failure("get", st);
    }
    return std::optional<std::string>{std::move(value)};
  }

  result<void> scan(column cf, std::string_view begin, std::string_view end,
                    const scan_fn& fn, direction dir) const override {
    std::shared_lock guard{mtx_};
    if (!db_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    return scan_db(db_.get(), cfs_[static_cast<size_t>(cf)], nullptr, begin,
                   end, fn, dir);
  }

  result<void> write(const write_batch& batch, durability d) override {
    std::shared_lock guard{mtx_};
    if (!db_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    rocksdb::WriteBatch wb;
    for (const auto& op : batch.ops()) {
      auto* cf = cfs_[static_cast<size_t>(op.cf)];
      rocksdb::Status st;
      switch (op.kind) {
        case write_batch::op_kind::put:
          st = wb.Put(cf, slice(op.key), slice(op.value));
          break;
        case write_batch::op_kind::erase:
          st = wb.Delete(cf, slice(op.key));
          break;
        case write_batch::op_kind::erase_range:
          if (op.key < op.value) {
            st = wb.DeleteRange(cf, slice(op.key), slice(op.value));
          }
          break;
      }
      if (!st.ok()) {
        return storage_failure("batch", st);
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = d == durability::sync;
    auto st = db_->Write(wo, &wb);
    if (!st.ok()) {
      return storage_failure("write", st);
    }
    writes_.fetch_add(1, std::memory_order_relaxed);
    if (wo.sync) {
      synced_.fetch_add(1, std::memory_order_relaxed);
    }
    return {};
  }

  result<void> sync() override {
    std::shared_lock guard{mtx_};
    if (!db_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    // Syncs the WAL files without flushing the writer's buffer: safe beside
    // concurrent writes, and it covers every write that has returned.
    auto st = db_->SyncWAL();
    if (!st.ok()) {
      return storage_failure("sync", st);
    }
    synced_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  std::unique_ptr<snapshot> make_snapshot() const override {
    std::shared_lock guard{mtx_};
    return std::make_unique<rocksdb_snapshot>(db_, cfs_);
  }

  result<void> flush() override {
    std::shared_lock guard{mtx_};
    if (!db_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    auto st = db_->Flush(rocksdb::FlushOptions{}, cfs_);
    if (!st.ok()) {
      return storage_failure("flush", st);
    }
    return {};
  }

  void close() override {
    std::unique_lock guard{mtx_};
    if (!db_) {
      return;
    }
    for (auto* cf : cfs_) {
      db_->DestroyColumnFamilyHandle(cf);
    }
    cfs_.clear();
    // Snapshots hold the DB too; Close() makes it unusable for them, but they
    // keep the object alive until they are destroyed.
    db_->Close();
    db_.reset();
  }

  bool is_persistent() const override {
    return true;
  }

  engine_stats stats() const override {
    return engine_stats{writes_.load(std::memory_order_relaxed),
                        synced_.load(std::memory_order_relaxed)};
  }

private:
  mutable std::shared_mutex mtx_;
  std::shared_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> synced_{0};
};

} // namespace

result<std::unique_ptr<engine>>
open_rocksdb_engine(const rocksdb_options& opts) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(opts.background_threads);
  options.max_background_jobs = opts.background_threads;
  auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  options.compression = has(rocksdb::kLZ4Compression) ? rocksdb::kLZ4Compression
                                                      : rocksdb::kNoCompression;
  options.bottommost_compression = has(rocksdb::kZSTD) ? rocksdb::kZSTD
                                                       : options.compression;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto cf : all_columns) {
    auto name = cf == column::meta ? std::string{rocksdb::kDefaultColumnFamilyName}
                                   : std::string{to_string(cf)};
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{options});
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(rocksdb::DBOptions{options}, opts.path,
                              descriptors, &handles, &raw);
  if (!st.ok()) {
    return storage_failure("open", st);
  }
  std::shared_ptr<rocksdb::DB> db{raw};
  return std::unique_ptr<engine>{
    std::make_unique<rocksdb_engine>(std::move(db), std::move(handles))};
}

} // namespace shoal::storage
