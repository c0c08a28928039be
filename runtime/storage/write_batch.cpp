#include "runtime/storage/write_batch.hpp"

#include <iterator>

namespace shoal::storage {

std::string_view to_string(column cf) {
  switch (cf) {
    case column::meta:
      return "meta";
    case column::kv:
      return "kv";
    case column::lock:
      return "lock";
    case column::aggregate:
      return "aggregate";
    case column::stream:
      return "stream";
    case column::idempotency:
      return "idempotency";
    case column::lease:
      return "lease";
  }
  return "meta";
}

void write_batch::put(column cf, std::string key, std::string value) {
  bytes_ += key.size() + value.size();
  ops_.push_back(op{op_kind::put, cf, std::move(key), std::move(value)});
}

void write_batch::erase(column cf, std::string key) {
  bytes_ += key.size();
  ops_.push_back(op{op_kind::erase, cf, std::move(key), {}});
}

void write_batch::erase_range(column cf, std::string begin, std::string end) {
  bytes_ += begin.size() + end.size();
  ops_.push_back(
    op{op_kind::erase_range, cf, std::move(begin), std::move(end)});
}

void write_batch::append(const write_batch& other) {
  ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
  bytes_ += other.bytes_;
}

void write_batch::append(write_batch&& other) {
  if (ops_.empty()) {
    ops_ = std::move(other.ops_);
  } else {
    ops_.insert(ops_.end(), std::make_move_iterator(other.ops_.begin()),
                std::make_move_iterator(other.ops_.end()));
  }
  bytes_ += other.bytes_;
  other.ops_.clear();
  other.bytes_ = 0;
}

} // namespace shoal::storage
