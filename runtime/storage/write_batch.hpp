#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::storage {

/// The keyspaces of a node: one per primitive, plus `meta` for node-level
/// records (identity, format version).
enum class column : uint8_t {
  meta,
  kv,
  lock,
  aggregate,
  stream,
  idempotency,
  lease,
};

inline constexpr column all_columns[] = {
  column::meta,      column::kv,     column::lock,
  column::aggregate, column::stream, column::idempotency,
  column::lease,
};

inline constexpr size_t column_count = std::size(all_columns);

std::string_view to_string(column cf);

/// An ordered list of puts and deletes applied atomically by
/// `engine::write`: after a crash either all of them are present or none.
class write_batch {
public:
  enum class op_kind : uint8_t { put, erase, erase_range };

  struct op {
    op_kind kind;
    column cf;
    std::string key;
    /// The value for `put`, the exclusive end key for `erase_range`.
    std::string value;
  };

  void put(column cf, std::string key, std::string value);
  void erase(column cf, std::string key);
  /// Deletes every key in [begin, end).
  void erase_range(column cf, std::string begin, std::string end);

  /// Appends all operations of `other` after this batch's.
  void append(const write_batch& other);
  void append(write_batch&& other);

  const std::vector<op>& ops() const {
    return ops_;
  }

  bool empty() const {
    return ops_.empty();
  }

  size_t size() const {
    return ops_.size();
  }

  /// Bytes of keys and values, an estimate of the write's cost.
  size_t bytes() const {
    return bytes_;
  }

private:
  std::vector<op> ops_;
  size_t bytes_ = 0;
};

} // namespace shoal::storage
