// The in-memory engine: one ordered map per column, copy-on-write so that a
// snapshot is a reference to the maps as they were.

#include <array>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "runtime/storage/engine.hpp"

namespace shoal::storage {

namespace {

using table = std::map<std::string, std::string, std::less<>>;
using tables = std::array<table, column_count>;

result<void> scan_tables(const tables& ts, column cf, std::string_view begin,
                         std::string_view end, const scan_fn& fn,
                         direction dir) {
  const auto& t = ts[static_cast<size_t>(cf)];
  auto first = t.lower_bound(begin);
  auto last = end.empty() ? t.end() : t.lower_bound(end);
  if (dir == direction::forward) {
    for (auto i = first; i != last; ++i) {
      if (!fn(i->first, i->second)) {
        break;
      }
    }
    return {};
  }
  for (auto i = last; i != first;) {
    --i;
    if (!fn(i->first, i->second)) {
      break;
    }
  }
  return {};
}

result<std::optional<std::string>> get_from(const tables& ts, column cf,
                                            std::string_view key) {
  const auto& t = ts[static_cast<size_t>(cf)];
  if (auto i = t.find(key); i != t.end()) {
    return std::optional<std::string>{i->second};
  }
  return std::optional<std::string>{};
}

class memory_snapshot final : public snapshot {
public:
  explicit memory_snapshot(std::shared_ptr<const tables> data)
    : data_(std::move(data)) {
  }

  result<std::optional<std::string>> get(column cf,
                                         std::string_view key) const override {
    return get_from(*data_, cf, key);
  }

  result<void> scan(column cf, std::string_view begin, std::string_view end,
                    const scan_fn& fn, direction dir) const override {
    return scan_tables(*data_, cf, begin, end, fn, dir);
  }

private:
  std::shared_ptr<const tables> data_;
};

class memory_engine final : public engine {
public:
  memory_engine() : data_(std::make_shared<tables>()) {
  }

  result<std::optional<std::string>> get(column cf,
                                         std::string_view key) const override {
    std::shared_lock guard{mtx_};
    if (closed_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    return get_from(*data_, cf, key);
  }

  result<void> scan(column cf, std::string_view begin, std::string_view end,
                    const scan_fn& fn, direction dir) const override {
    // Scan a stable reference so that the visitor may take its time (and
    // even write) without holding the lock.
    auto data = current();
    if (!data) {
      return fail(errc::shutting_down, "storage is closed");
    }
    return scan_tables(*data, cf, begin, end, fn, dir);
  }

  result<void> write(const write_batch& batch, durability) override {
    std::unique_lock guard{mtx_};
    if (closed_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    if (data_.use_count() > 1) {
      // A snapshot or a running scan still reads the old maps.
      data_ = std::make_shared<tables>(*data_);
    }
    for (const auto& op : batch.ops()) {
      auto& t = (*data_)[static_cast<size_t>(op.cf)];
      switch (op.kind) {
        case write_batch::op_kind::put:
          t.insert_or_assign(op.key, op.value);
          break;
        case write_batch::op_kind::erase:
          if (auto i = t.find(op.key); i != t.end()) {
            t.erase(i);
          }
          break;
        case write_batch::op_kind::erase_range:
          if (op.key < op.value) {
            t.erase(t.lower_bound(op.key), t.lower_bound(op.value));
          }
          break;
      }
    }
    ++stats_.writes;
    return {};
  }

  result<void> sync() override {
    std::shared_lock guard{mtx_};
    if (closed_) {
      return fail(errc::shutting_down, "storage is closed");
    }
    return {};
  }

  std::unique_ptr<snapshot> make_snapshot() const override {
    auto data = current();
    if (!data) {
      data = std::make_shared<tables>();
    }
    return std::make_unique<memory_snapshot>(std::move(data));
  }

  result<void> flush() override {
    return {};
  }

  void close() override {
    std::unique_lock guard{mtx_};
    closed_ = true;
  }

  bool is_persistent() const override {
    return false;
  }

  engine_stats stats() const override {
    std::shared_lock guard{mtx_};
    return stats_;
  }

private:
  std::shared_ptr<const tables> current() const {
    std::shared_lock guard{mtx_};
    if (closed_) {
      return nullptr;
    }
    return data_;
  }

  mutable std::shared_mutex mtx_;
  std::shared_ptr<tables> data_;
  engine_stats stats_;
  bool closed_ = false;
};

} // namespace

std::unique_ptr<engine> make_memory_engine() {
  return std::make_unique<memory_engine>();
}

} // namespace shoal::storage
