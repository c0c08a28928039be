#include "runtime/aggregate/bloom.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

#include <xxhash.h>

#include "runtime/codec.hpp"

namespace shoal::agg {

namespace {

constexpr uint8_t format_v1 = 1;

} // namespace

result<bloom> bloom::make(uint64_t capacity, double fp_rate) {
  if (capacity == 0 || !(fp_rate > 0.0) || fp_rate > 0.5) {
    return fail(errc::invalid_argument,
                "bloom needs capacity > 0 and 0 < fp_rate <= 0.5");
  }
  constexpr double ln2 = std::numbers::ln2;
  auto m = std::ceil(-static_cast<double>(capacity) * std::log(fp_rate) / (ln2 * ln2));
  if (m > static_cast<double>(max_bits)) {
    return fail(errc::invalid_argument,
                "bloom filter for this capacity and rate exceeds "
                  + std::to_string(max_bits / 8 / 1024 / 1024) + " MiB");
  }
  auto words = (static_cast<uint64_t>(m) + 63) / 64;
  bloom out;
  out.words_.assign(words, 0);
  auto k = std::round(static_cast<double>(words * 64) / static_cast<double>(capacity) * ln2);
  out.k_ = static_cast<uint32_t>(std::clamp(k, 1.0, 30.0));
  return out;
}

void bloom::add(std::string_view element) {
  auto h = XXH3_128bits(element.data(), element.size());
  auto m = bits();
  for (uint32_t i = 0; i < k_; ++i) {
    auto bit = (h.low64 + i * h.high64) % m;
    words_[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

bool bloom::contains(std::string_view element) const {
  auto h = XXH3_128bits(element.data(), element.size());
  auto m = bits();
  for (uint32_t i = 0; i < k_; ++i) {
    auto bit = (h.low64 + i * h.high64) % m;
    if ((words_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) {
      return false;
    }
  }
  return true;
}

result<void> bloom::merge(const bloom& other) {
  if (other.k_ != k_ || other.words_.size() != words_.size()) {
    return fail(errc::invalid_argument, "bloom filters of different shapes");
  }
  for (size_t i = 0; i < words_.size(); ++i) {
    words_[i] |= other.words_[i];
  }
  return {};
}

uint64_t bloom::popcount() const {
  uint64_t n = 0;
  for (auto w : words_) {
    n += static_cast<uint64_t>(std::popcount(w));
  }
  return n;
}

std::string bloom::encode() const {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.varint(k_);
  w.varint(words_.size());
  for (auto word : words_) {
    w.u64be(word);
  }
  return out;
}

result<bloom> bloom::decode(std::string_view bytes) {
  codec::reader r{bytes};
  auto fmt = r.u8();
  auto k = r.varint();
  auto n = r.varint();
  if (!r.good() || fmt != format_v1 || k == 0 || k > 30 || n == 0
      || n > max_bits / 64 || r.rest().size() != n * 8) {
    return fail(errc::storage_error, "corrupt bloom filter");
  }
  bloom out;
  out.k_ = static_cast<uint32_t>(k);
  out.words_.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    out.words_.push_back(r.u64be());
  }
  return out;
}

} // namespace shoal::agg
