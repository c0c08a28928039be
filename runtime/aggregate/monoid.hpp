#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/aggregate/bloom.hpp"
#include "runtime/aggregate/hll.hpp"
#include "runtime/aggregate/topk.hpp"
#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal::agg {

/// The kinds of aggregate. Each is a monoid: an identity and an
/// associative combine (commutative for all kinds here).
/// - sum: int64; overflow is `invalid_argument`, never a wrap.
/// - count: uint64 occurrences (a delta is a count ≥ 0).
/// - min, max: double; the identity is "no value".
/// - first, last: the value with the earliest (latest) event time; ties
///   go to the smaller (larger) value, so the order of merges never shows.
/// - hll: distinct elements, HyperLogLog (see `hll`).
/// - topk: heavy hitters, Misra-Gries with `k` counters (see `topk`).
/// - bloom: membership, Bloom filter of `capacity` at `fp_rate`.
/// - set: the distinct elements, at most `max_elements` kept: the smallest
///   ones (byte order), with `truncated` set once more were seen. Keeping
///   the smallest N is associative, unlike keeping the first N.
enum class kind : uint8_t {
  sum = 1,
  count,
  min,
  max,
  first,
  last,
  hll,
  topk,
  bloom,
  set,
};

std::string_view to_string(kind k);
std::optional<kind> parse_kind(std::string_view text);

/// Parameters of the sketch kinds (ignored by the others).
struct kind_params {
  /// topk: counters kept (1..10,000).
  uint32_t k = 10;
  /// bloom: elements expected and the false-positive rate at that fill.
  uint64_t capacity = 10'000;
  double fp_rate = 0.01;
  /// set: elements kept (1..100,000).
  uint32_t max_elements = 1'000;

  friend bool operator==(const kind_params&, const kind_params&) = default;
};

/// A value with its event time (first, last).
struct timed {
  time_point at;
  std::string value;

  friend bool operator==(const timed&, const timed&) = default;
};

/// A bounded set of distinct elements.
struct bounded_set {
  std::set<std::string, std::less<>> elements;
  /// More distinct elements were seen than are kept.
  bool truncated = false;

  friend bool operator==(const bounded_set&, const bounded_set&) = default;
};

/// An aggregate's state, or a delta (a delta is a value of the same kind).
/// The alternative in use follows the kind: sum int64_t, count uint64_t,
/// min/max optional<double>, first/last optional<timed>, then the sketches.
using value = std::variant<int64_t, uint64_t, std::optional<double>,
                           std::optional<timed>, hll, topk, bloom, bounded_set>;

/// Largest element of hll, topk, bloom and set deltas.
inline constexpr size_t max_element_bytes = 4096;

/// One kind with its parameters: identity, combine, encoding, and the
/// deltas clients send.
class monoid {
public:
  /// `invalid_argument` for parameters out of range.
  static result<monoid> make(kind k, kind_params params = {});

  kind kind_of() const {
    return kind_;
  }
  const kind_params& params() const {
    return params_;
  }

  value identity() const;
  /// `into` ← `into` ⊕ `delta`. On error (`invalid_argument`: overflow,
  /// another kind or shape) `into` is unchanged.
  result<void> combine(value& into, const value& delta) const;

  /// Versioned bytes naming the kind; `decode` refuses another kind.
  std::string encode(const value& v) const;
  result<value> decode(std::string_view bytes) const;

  // -- deltas -------------------------------------------------------------------

  /// sum, count (≥ 0), min, max.
  result<value> from_integer(int64_t n) const;
  /// min, max (finite); sum and count if integral.
  result<value> from_number(double x) const;
  /// first, last.
  result<value> from_timed(time_point at, std::string v) const;
  /// hll, bloom, set; topk with optional `weights` (one per element).
  result<value> from_elements(const std::vector<std::string>& elements,
                              const std::vector<uint64_t>* weights = nullptr) const;

private:
  monoid(kind k, kind_params p) : kind_(k), params_(p) {
  }

  result<void> check(const value& v) const;

  kind kind_;
  kind_params params_;
};

/// A value in bytes that name its shape, for messages between nodes:
/// `decode_any(encode_any(v)) == v` whatever the kind.
std::string encode_any(const value& v);
result<value> decode_any(std::string_view bytes);

} // namespace shoal::agg
