#include "runtime/aggregate/hll.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>

#include <xxhash.h>

#include "runtime/codec.hpp"

namespace shoal::agg {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr uint8_t mode_sparse = 0;
constexpr uint8_t mode_dense = 1;
// Bits of the hash left after the index; ranks go up to q + 1.
constexpr int q = 64 - hll::precision;

// Ertl, "New cardinality estimation algorithms for HyperLogLog sketches"
// (2017): sigma and tau of the improved raw estimator.
double sigma(double x) {
  if (x == 1.0) {
    return std::numeric_limits<double>::infinity();
  }
  double y = 1.0;
  double z = x;
  for (;;) {
    x *= x;
    auto before = z;
    z += x * y;
    y += y;
    if (z == before) {
      return z;
    }
  }
}

double tau(double x) {
  if (x == 0.0 || x == 1.0) {
    return 0.0;
  }
  double y = 1.0;
  double z = 1.0 - x;
  for (;;) {
    x = std::sqrt(x);
    auto before = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (z == before) {
      return z / 3.0;
    }
  }
}

} // namespace

void hll::add(std::string_view element) {
  add_hash(XXH3_64bits(element.data(), element.size()));
}

void hll::add_hash(uint64_t hash) {
  auto index = static_cast<uint32_t>(hash >> q);
  // The rank: leading zeros of the remaining bits, plus one (a sentinel
  // bit caps it at q + 1).
  auto rest = (hash << precision) | (uint64_t{1} << (precision - 1));
  auto rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
  set(index, rank);
}

void hll::set(uint32_t index, uint8_t rank) {
  if (dense_) {
    registers_[index] = std::max(registers_[index], rank);
    return;
  }
  auto it = std::lower_bound(sparse_.begin(), sparse_.end(), entry(index, 0));
  if (it != sparse_.end() && (*it >> 6) == index) {
    if ((*it & 63u) < rank) {
      *it = entry(index, rank);
    }
    return;
  }
  sparse_.insert(it, entry(index, rank));
  if (sparse_.size() > registers / 4) {
    to_dense();
  }
}

void hll::to_dense() {
  registers_.assign(registers, 0);
  for (auto e : sparse_) {
    registers_[e >> 6] = static_cast<uint8_t>(e & 63u);
  }
  sparse_.clear();
  sparse_.shrink_to_fit();
  dense_ = true;
}

uint8_t hll::rank_at(uint32_t index) const {
  if (dense_) {
    return registers_[index];
  }
  auto it = std::lower_bound(sparse_.begin(), sparse_.end(), entry(index, 0));
  return it != sparse_.end() && (*it >> 6) == index ? static_cast<uint8_t>(*it & 63u)
                                                    : 0;
}

void hll::merge(const hll& other) {
  if (other.dense_) {
    if (!dense_) {
      to_dense();
    }
    for (uint32_t i = 0; i < registers; ++i) {
      registers_[i] = std::max(registers_[i], other.registers_[i]);
    }
    return;
  }
  if (dense_) {
    for (auto e : other.sparse_) {
      auto& r = registers_[e >> 6];
      r = std::max(r, static_cast<uint8_t>(e & 63u));
    }
    return;
  }
  // Both sparse: merge the sorted lists.
  std::vector<uint32_t> out;
  out.reserve(sparse_.size() + other.sparse_.size());
  auto a = sparse_.begin();
  auto b = other.sparse_.begin();
  while (a != sparse_.end() || b != other.sparse_.end()) {
    if (b == other.sparse_.end() || (a != sparse_.end() && (*a >> 6) < (*b >> 6))) {
      out.push_back(*a++);
    } else if (a == sparse_.end() || (*b >> 6) < (*a >> 6)) {
      out.push_back(*b++);
    } else {
      out.push_back(std::max(*a++, *b++)); // same index: the higher rank
    }
  }
  sparse_ = std::move(out);
  if (sparse_.size() > registers / 4) {
    to_dense();
  }
}

uint64_t hll::estimate() const {
  std::array<double, q + 2> counts{};
  if (dense_) {
    for (auto r : registers_) {
      counts[r] += 1;
    }
  } else {
    counts[0] = registers - static_cast<double>(sparse_.size());
    for (auto e : sparse_) {
      counts[e & 63u] += 1;
    }
  }
  constexpr double m = registers;
  double z = m * tau(1.0 - counts[q + 1] / m);
  for (int k = q; k >= 1; --k) {
    z = 0.5 * (z + counts[k]);
  }
  z += m * sigma(counts[0] / m);
  constexpr double alpha_inf = 0.5 / std::numbers::ln2;
  return static_cast<uint64_t>(std::llround(alpha_inf * m * m / z));
}

std::string hll::encode() const {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.u8(precision);
  if (dense_) {
    w.u8(mode_dense);
    w.raw(std::string_view{reinterpret_cast<const char*>(registers_.data()),
                           registers_.size()});
    return out;
  }
  w.u8(mode_sparse);
  w.varint(sparse_.size());
  uint32_t prev = 0;
  for (auto e : sparse_) {
    w.varint(e - prev); // sorted: small gaps
    prev = e;
  }
  return out;
}

result<hll> hll::decode(std::string_view bytes) {
  codec::reader r{bytes};
  auto fmt = r.u8();
  auto p = r.u8();
  auto mode = r.u8();
  if (!r.good() || fmt != format_v1 || p != precision) {
    return fail(errc::storage_error, "corrupt hll: unknown format or precision");
  }
  hll out;
  if (mode == mode_dense) {
    auto rest = r.rest();
    if (rest.size() != registers) {
      return fail(errc::storage_error, "corrupt hll: dense size");
    }
    out.dense_ = true;
    out.registers_.assign(rest.begin(), rest.end());
    for (auto v : out.registers_) {
      if (v > q + 1) {
        return fail(errc::storage_error, "corrupt hll: rank out of range");
      }
    }
    return out;
  }
  auto n = r.varint();
  if (mode != mode_sparse || !r.good() || n > registers / 4) {
    return fail(errc::storage_error, "corrupt hll: sparse header");
  }
  out.sparse_.reserve(n);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    auto e = prev + r.varint();
    auto rank = e & 63u;
    if (!r.good() || e >= (uint64_t{registers} << 6) || rank == 0 || rank > q + 1
        || (i > 0 && (e >> 6) <= (prev >> 6))) {
      return fail(errc::storage_error, "corrupt hll: sparse entry");
    }
    out.sparse_.push_back(static_cast<uint32_t>(e));
    prev = e;
  }
  if (!r.done()) {
    return fail(errc::storage_error, "corrupt hll: trailing bytes");
  }
  return out;
}

bool operator==(const hll& a, const hll& b) {
  for (uint32_t i = 0; i < hll::registers; ++i) {
    if (a.rank_at(i) != b.rank_at(i)) {
      return false;
    }
  }
  return true;
}

} // namespace shoal::agg
