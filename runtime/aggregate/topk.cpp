#include "runtime/aggregate/topk.hpp"

#include <algorithm>

#include "runtime/codec.hpp"

namespace shoal::agg {

namespace {

constexpr uint8_t format_v1 = 1;

result<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return fail(errc::invalid_argument, "topk count overflows 64 bits");
  }
  return out;
}

} // namespace

result<void> topk::add(std::string_view key, uint64_t weight) {
  if (weight == 0) {
    return {};
  }
  auto total = checked_add(total_, weight);
  if (!total) {
    return std::move(total).err();
  }
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    it = counts_.emplace(std::string{key}, 0).first;
  }
  auto count = checked_add(it->second, weight);
  if (!count) {
    return std::move(count).err();
  }
  it->second = *count;
  total_ = *total;
  reduce();
  return {};
}

result<void> topk::merge(const topk& other) {
  if (other.k_ != k_) {
    return fail(errc::invalid_argument, "topk summaries of different k");
  }
  auto total = checked_add(total_, other.total_);
  auto error = checked_add(error_, other.error_);
  if (!total || !error) {
    return fail(errc::invalid_argument, "topk count overflows 64 bits");
  }
  for (const auto& [key, count] : other.counts_) {
    auto& mine = counts_[key];
    auto sum = checked_add(mine, count);
    if (!sum) {
      return std::move(sum).err();
    }
    mine = *sum;
  }
  total_ = *total;
  error_ = *error;
  reduce();
  return {};
}

void topk::reduce() {
  if (counts_.size() <= k_) {
    return;
  }
  std::vector<uint64_t> sorted;
  sorted.reserve(counts_.size());
  for (const auto& [key, count] : counts_) {
    sorted.push_back(count);
  }
  std::nth_element(sorted.begin(), sorted.begin() + k_, sorted.end(),
                   std::greater<>{});
  auto cut = sorted[k_]; // the (k+1)-th largest
  for (auto it = counts_.begin(); it != counts_.end();) {
    if (it->second <= cut) {
      it = counts_.erase(it);
    } else {
      it->second -= cut;
      ++it;
    }
  }
  error_ += cut;
}

std::vector<topk::item> topk::top() const {
  std::vector<item> out;
  out.reserve(counts_.size());
  for (const auto& [key, count] : counts_) {
    out.push_back({key, count});
  }
  std::sort(out.begin(), out.end(), [](const item& a, const item& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  return out;
}

std::string topk::encode() const {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.varint(k_);
  w.varint(error_);
  w.varint(total_);
  w.varint(counts_.size());
  for (const auto& [key, count] : counts_) {
    w.bytes(key);
    w.varint(count);
  }
  return out;
}

result<topk> topk::decode(std::string_view bytes) {
  codec::reader r{bytes};
  auto fmt = r.u8();
  auto k = r.varint();
  topk out{static_cast<uint32_t>(k)};
  out.error_ = r.varint();
  out.total_ = r.varint();
  auto n = r.varint();
  if (!r.good() || fmt != format_v1 || k == 0 || k > UINT32_MAX || n > k) {
    return fail(errc::storage_error, "corrupt topk header");
  }
  for (uint64_t i = 0; i < n; ++i) {
    auto key = r.bytes();
    auto count = r.varint();
    if (!r.good() || count == 0) {
      return fail(errc::storage_error, "corrupt topk entry");
    }
    out.counts_.emplace(std::move(key), count);
  }
  if (!r.done() || out.counts_.size() != n) {
    return fail(errc::storage_error, "corrupt topk entries");
  }
  return out;
}

} // namespace shoal::agg
