#include "runtime/aggregate/window_cache.hpp"

namespace shoal::agg {

namespace {

// Bookkeeping beyond the encoded value: keys, list and map nodes.
constexpr size_t entry_overhead = 160;

} // namespace

const reading* window_cache::find(std::string_view name, std::string_view entity,
                                  int64_t from, int64_t to, time_point now) {
  auto it = entries_.find(key{std::string{name}, std::string{entity}, from, to});
  if (it == entries_.end()) {
    return nullptr;
  }
  if (it->second->r.expires_at <= now) {
    erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->r;
}

void window_cache::put(std::string_view name, const reading& r) {
  key k{std::string{name}, r.entity, r.from, r.to};
  auto size = entry_overhead + 2 * (name.size() + r.entity.size()) + encode_any(r.v).size();
  if (size > max_bytes_) {
    return;
  }
  if (auto old = entries_.find(k); old != entries_.end()) {
    erase(old);
  }
  lru_.push_front(entry{k, r, size});
  entries_.emplace(std::move(k), lru_.begin());
  bytes_ += size;
  while (bytes_ > max_bytes_) {
    erase(entries_.find(lru_.back().k));
  }
}

void window_cache::erase(std::map<key, std::list<entry>::iterator>::iterator it) {
  bytes_ -= it->second->bytes;
  lru_.erase(it->second);
  entries_.erase(it);
}

void window_cache::invalidate(std::string_view name, std::string_view entity,
                              int64_t bucket) {
  if (entries_.empty()) {
    return;
  }
  auto it = entries_.lower_bound(key{std::string{name}, std::string{entity}, INT64_MIN,
                                     INT64_MIN});
  while (it != entries_.end() && std::get<0>(it->first) == name
         && std::get<1>(it->first) == entity) {
    auto next = std::next(it);
    if (std::get<2>(it->first) <= bucket && bucket < std::get<3>(it->first)) {
      erase(it);
    }
    it = next;
  }
}

void window_cache::drop(std::string_view name) {
  auto it = entries_.lower_bound(key{std::string{name}, {}, INT64_MIN, INT64_MIN});
  while (it != entries_.end() && std::get<0>(it->first) == name) {
    auto next = std::next(it);
    erase(it);
    it = next;
  }
}

} // namespace shoal::agg
