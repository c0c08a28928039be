#include "actors/aggregate/merge_hooks.hpp"

namespace shoal {

uint64_t merge_hooks::add(std::string name, callback fn) {
  auto h = std::make_shared<hook>();
  h->fn = std::move(fn);
  std::lock_guard guard{mtx_};
  auto next = std::make_shared<table>(*hooks_);
  auto id = next_id_++;
  next->emplace(std::move(name), std::pair{id, std::move(h)});
  hooks_ = std::move(next);
  count_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

bool merge_hooks::remove(uint64_t id) {
  std::shared_ptr<hook> gone;
  {
    std::lock_guard guard{mtx_};
    auto next = std::make_shared<table>(*hooks_);
    for (auto i = next->begin(); i != next->end(); ++i) {
      if (i->second.first == id) {
        gone = i->second.second;
        next->erase(i);
        break;
      }
    }
    if (!gone) {
      return false;
    }
    hooks_ = std::move(next);
    count_.fetch_sub(1, std::memory_order_relaxed);
  }
  // A shard may hold an older snapshot: the flag stops it, and the hook's
  // mutex waits out a call under way.
  std::lock_guard guard{gone->mtx};
  gone->live = false;
  return true;
}

std::shared_ptr<const merge_hooks::table> merge_hooks::snapshot() const {
  std::lock_guard guard{mtx_};
  return hooks_;
}

bool merge_hooks::watched(std::string_view name) const {
  auto t = snapshot();
  return t->find(name) != t->end();
}

void merge_hooks::run(const merge_event& ev) const {
  auto t = snapshot();
  auto [lo, hi] = t->equal_range(ev.name);
  for (auto i = lo; i != hi; ++i) {
    auto& h = *i->second.second;
    std::lock_guard guard{h.mtx};
    if (h.live) {
      h.fn(ev);
    }
  }
}

} // namespace shoal
