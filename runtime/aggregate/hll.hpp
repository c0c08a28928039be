#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::agg {

/// A HyperLogLog sketch with 2^14 registers (standard error 1.04/128 ≈
/// 0.81%). Small sketches keep only their non-zero registers (sparse,
/// sorted); past a quarter of the registers they turn dense. Sparse and
/// dense sketches of the same elements estimate the same: the registers are
/// the same. Combining takes the register-wise maximum, so it is
/// associative, commutative and idempotent. The estimate is Ertl's improved
/// estimator (no empirical bias tables), accurate from a few elements to
/// billions.
class hll {
public:
  static constexpr uint8_t precision = 14;
  static constexpr uint32_t registers = 1u << precision;
  /// 1.04 / sqrt(registers).
  static constexpr double standard_error = 1.04 / 128.0;

  hll() = default;

  void add(std::string_view element);
  void add_hash(uint64_t hash);
  void merge(const hll& other);

  uint64_t estimate() const;
  bool empty() const {
    return !dense_ && sparse_.empty();
  }
  bool dense() const {
    return dense_;
  }

  /// Versioned bytes: sparse sketches stay small.
  std::string encode() const;
  static result<hll> decode(std::string_view bytes);

  friend bool operator==(const hll& a, const hll& b);

private:
  // Sparse entries: index << 6 | rank, sorted by index, one per index.
  static uint32_t entry(uint32_t index, uint8_t rank) {
    return index << 6 | rank;
  }
  void set(uint32_t index, uint8_t rank);
  void to_dense();
  uint8_t rank_at(uint32_t index) const;

  bool dense_ = false;
  std::vector<uint32_t> sparse_;
  std::vector<uint8_t> registers_;
};

} // namespace shoal::agg
