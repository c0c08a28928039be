#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::agg {

/// The heavy hitters of a stream: a Misra-Gries summary with `k` counters.
/// Each kept item's count is a lower bound of its true count and at most
/// `error()` below it; an item missing from the summary occurred at most
/// `error()` times. `error()` never exceeds N / (k + 1) for N counted
/// occurrences. Merging adds counters and errors, then, if more than `k`
/// items remain, subtracts the (k+1)-th largest count from every counter
/// (dropping those at zero) and adds it to the error (Agarwal et al.,
/// "Mergeable summaries"). Merging is commutative; it is associative
/// exactly while no more than `k` distinct items occur, and otherwise
/// within the error bound.
class topk {
public:
  struct item {
    std::string key;
    /// Lower bound; the true count is at most `count + error`.
    uint64_t count = 0;
  };

  explicit topk(uint32_t k = 10) : k_(k) {
  }

  /// Counts `weight` occurrences of `key`.
  result<void> add(std::string_view key, uint64_t weight = 1);
  result<void> merge(const topk& other);

  /// The kept items, highest count first (ties by key).
  std::vector<item> top() const;
  uint64_t error() const {
    return error_;
  }
  uint32_t k() const {
    return k_;
  }
  /// Occurrences counted (exact).
  uint64_t total() const {
    return total_;
  }
  size_t size() const {
    return counts_.size();
  }

  std::string encode() const;
  static result<topk> decode(std::string_view bytes);

  friend bool operator==(const topk&, const topk&) = default;

private:
  // Keeps at most k counters.
  void reduce();

  uint32_t k_;
  uint64_t error_ = 0;
  uint64_t total_ = 0;
  std::map<std::string, uint64_t, std::less<>> counts_;
};

} // namespace shoal::agg
