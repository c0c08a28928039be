#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::agg {

/// A Bloom filter sized for `capacity` elements at false-positive rate
/// `fp_rate`: m = −n·ln p / ln²2 bits (rounded up to 64), k = m/n·ln 2
/// hashes by double hashing of one 128-bit hash. Membership has no false
/// negatives. Combining is bitwise OR: associative, commutative and
/// idempotent, for filters of the same shape only.
class bloom {
public:
  /// Largest filter: 4 MiB of bits.
  static constexpr uint64_t max_bits = uint64_t{32} << 20;

  /// `invalid_argument` for capacity 0, a rate outside (0, 0.5], or a
  /// filter over `max_bits`.
  static result<bloom> make(uint64_t capacity, double fp_rate);

  void add(std::string_view element);
  bool contains(std::string_view element) const;
  result<void> merge(const bloom& other);

  uint64_t bits() const {
    return words_.size() * 64;
  }
  uint32_t hashes() const {
    return k_;
  }
  /// Bits set (for an estimate of the fill).
  uint64_t popcount() const;

  std::string encode() const;
  static result<bloom> decode(std::string_view bytes);

  friend bool operator==(const bloom&, const bloom&) = default;

private:
  bloom() = default;

  uint32_t k_ = 1;
  std::vector<uint64_t> words_;
};

} // namespace shoal::agg
