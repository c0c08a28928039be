#include "runtime/aggregate/monoid.hpp"

#include <array>
#include <bit>
#include <cmath>

#include "runtime/codec.hpp"

namespace shoal::agg {

namespace {

constexpr uint8_t format_v1 = 1;

struct kind_name {
  kind k;
  std::string_view name;
};

constexpr std::array<kind_name, 10> kind_names{{
  {kind::sum, "sum"},
  {kind::count, "count"},
  {kind::min, "min"},
  {kind::max, "max"},
  {kind::first, "first"},
  {kind::last, "last"},
  {kind::hll, "hll"},
  {kind::topk, "topk"},
  {kind::bloom, "bloom"},
  {kind::set, "set"},
}};

// The variant alternative a kind's values use.
size_t alternative(kind k) {
  switch (k) {
  case kind::sum:
    return 0;
  case kind::count:
    return 1;
  case kind::min:
  case kind::max:
    return 2;
  case kind::first:
  case kind::last:
    return 3;
  case kind::hll:
    return 4;
  case kind::topk:
    return 5;
  case kind::bloom:
    return 6;
  case kind::set:
    return 7;
  }
  return 0;
}

error wrong_kind(kind k, const char* what) {
  return error{errc::invalid_argument,
               std::string{to_string(k)} + " aggregates take " + what};
}

// The smallest `max` elements of `s`; marks it truncated if it had more.
void bound(bounded_set& s, uint32_t max) {
  while (s.elements.size() > max) {
    s.elements.erase(std::prev(s.elements.end()));
    s.truncated = true;
  }
}

} // namespace

std::string_view to_string(kind k) {
  for (const auto& kn : kind_names) {
    if (kn.k == k) {
      return kn.name;
    }
  }
  return "unknown";
}

std::optional<kind> parse_kind(std::string_view text) {
  for (const auto& kn : kind_names) {
    if (kn.name == text) {
      return kn.k;
    }
  }
  return std::nullopt;
}

result<monoid> monoid::make(kind k, kind_params p) {
  if (to_string(k) == "unknown") {
    return fail(errc::invalid_argument, "unknown aggregate kind");
  }
  if (k == kind::topk && (p.k == 0 || p.k > 10'000)) {
    return fail(errc::invalid_argument, "topk k must be 1..10000");
  }
  if (k == kind::set && (p.max_elements == 0 || p.max_elements > 100'000)) {
    return fail(errc::invalid_argument, "set max_elements must be 1..100000");
  }
  if (k == kind::bloom) {
    if (auto b = bloom::make(p.capacity, p.fp_rate); !b) {
      return std::move(b).err();
    }
  }
  return monoid{k, p};
}

value monoid::identity() const {
  switch (kind_) {
  case kind::sum:
    return int64_t{0};
  case kind::count:
    return uint64_t{0};
  case kind::min:
  case kind::max:
    return std::optional<double>{};
  case kind::first:
  case kind::last:
    return std::optional<timed>{};
  case kind::hll:
    return hll{};
  case kind::topk:
    return topk{params_.k};
  case kind::bloom:
    return *bloom::make(params_.capacity, params_.fp_rate);
  case kind::set:
    return bounded_set{};
  }
  return int64_t{0};
}

result<void> monoid::check(const value& v) const {
  if (v.index() != alternative(kind_)) {
    return fail(errc::invalid_argument,
                "a value of another kind than " + std::string{to_string(kind_)});
  }
  return {};
}

result<void> monoid::combine(value& into, const value& delta) const {
  if (auto ok = check(into); !ok) {
    return ok;
  }
  if (auto ok = check(delta); !ok) {
    return ok;
  }
  switch (kind_) {
  case kind::sum: {
    int64_t out = 0;
    if (__builtin_add_overflow(std::get<int64_t>(into), std::get<int64_t>(delta), &out)) {
      return fail(errc::invalid_argument, "sum overflows int64");
    }
    into = out;
    return {};
  }
  case kind::count: {
    uint64_t out = 0;
    if (__builtin_add_overflow(std::get<uint64_t>(into), std::get<uint64_t>(delta), &out)) {
      return fail(errc::invalid_argument, "count overflows uint64");
    }
    into = out;
    return {};
  }
  case kind::min:
  case kind::max: {
    auto& a = std::get<std::optional<double>>(into);
    const auto& b = std::get<std::optional<double>>(delta);
    if (b && (!a || (kind_ == kind::min ? *b < *a : *b > *a))) {
      a = b;
    }
    return {};
  }
  case kind::first:
  case kind::last: {
    auto& a = std::get<std::optional<timed>>(into);
    const auto& b = std::get<std::optional<timed>>(delta);
    if (!b) {
      return {};
    }
    auto better = !a
                  || (kind_ == kind::first
                        ? (b->at < a->at || (b->at == a->at && b->value < a->value))
                        : (b->at > a->at || (b->at == a->at && b->value > a->value)));
    if (better) {
      a = b;
    }
    return {};
  }
  case kind::hll:
    std::get<hll>(into).merge(std::get<hll>(delta));
    return {};
  case kind::topk: {
    auto copy = std::get<topk>(into);
    if (auto ok = copy.merge(std::get<topk>(delta)); !ok) {
      return ok;
    }
    into = std::move(copy);
    return {};
  }
  case kind::bloom:
    return std::get<bloom>(into).merge(std::get<bloom>(delta));
  case kind::set: {
    auto& a = std::get<bounded_set>(into);
    const auto& b = std::get<bounded_set>(delta);
    a.elements.insert(b.elements.begin(), b.elements.end());
    a.truncated = a.truncated || b.truncated;
    bound(a, params_.max_elements);
    return {};
  }
  }
  return fail(errc::internal, "unknown aggregate kind");
}

std::string monoid::encode(const value& v) const {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.u8(static_cast<uint8_t>(kind_));
  switch (kind_) {
  case kind::sum:
    w.i64(std::get<int64_t>(v));
    break;
  case kind::count:
    w.varint(std::get<uint64_t>(v));
    break;
  case kind::min:
  case kind::max: {
    const auto& x = std::get<std::optional<double>>(v);
    w.u8(x ? 1 : 0);
    if (x) {
      w.u64be(std::bit_cast<uint64_t>(*x));
    }
    break;
  }
  case kind::first:
  case kind::last: {
    const auto& x = std::get<std::optional<timed>>(v);
    w.u8(x ? 1 : 0);
    if (x) {
      w.i64(to_unix_nanos(x->at));
      w.bytes(x->value);
    }
    break;
  }
  case kind::hll:
    w.raw(std::get<hll>(v).encode());
    break;
  case kind::topk:
    w.raw(std::get<topk>(v).encode());
    break;
  case kind::bloom:
    w.raw(std::get<bloom>(v).encode());
    break;
  case kind::set: {
    const auto& s = std::get<bounded_set>(v);
    w.u8(s.truncated ? 1 : 0);
    w.varint(s.elements.size());
    for (const auto& e : s.elements) {
      w.bytes(e);
    }
    break;
  }
  }
  return out;
}

result<value> monoid::decode(std::string_view bytes) const {
  codec::reader r{bytes};
  auto fmt = r.u8();
  auto k = r.u8();
  if (!r.good() || fmt != format_v1 || k != static_cast<uint8_t>(kind_)) {
    return fail(errc::storage_error,
                "not a stored " + std::string{to_string(kind_)} + " value");
  }
  auto corrupt = [&] {
    return error{errc::storage_error,
                 "corrupt stored " + std::string{to_string(kind_)} + " value"};
  };
  switch (kind_) {
  case kind::sum: {
    auto x = r.i64();
    if (!r.done()) {
      return corrupt();
    }
    return value{x};
  }
  case kind::count: {
    auto x = r.varint();
    if (!r.done()) {
      return corrupt();
    }
    return value{x};
  }
  case kind::min:
  case kind::max: {
    auto has = r.u8();
    std::optional<double> x;
    if (has == 1) {
      x = std::bit_cast<double>(r.u64be());
    }
    if (!r.done() || has > 1) {
      return corrupt();
    }
    return value{x};
  }
  case kind::first:
  case kind::last: {
    auto has = r.u8();
    std::optional<timed> x;
    if (has == 1) {
      x.emplace();
      x->at = from_unix_nanos(r.i64());
      x->value = r.bytes();
    }
    if (!r.done() || has > 1) {
      return corrupt();
    }
    return value{std::move(x)};
  }
  case kind::hll: {
    auto x = hll::decode(r.rest());
    if (!x) {
      return std::move(x).err();
    }
    return value{std::move(*x)};
  }
  case kind::topk: {
    auto x = topk::decode(r.rest());
    if (!x) {
      return std::move(x).err();
    }
    return value{std::move(*x)};
  }
  case kind::bloom: {
    auto x = bloom::decode(r.rest());
    if (!x) {
      return std::move(x).err();
    }
    return value{std::move(*x)};
  }
  case kind::set: {
    bounded_set s;
    auto truncated = r.u8();
    auto n = r.varint();
    if (!r.good() || truncated > 1 || n > params_.max_elements) {
      return corrupt();
    }
    s.truncated = truncated == 1;
    for (uint64_t i = 0; i < n; ++i) {
      s.elements.insert(r.bytes());
    }
    if (!r.done() || s.elements.size() != n) {
      return corrupt();
    }
    return value{std::move(s)};
  }
  }
  return corrupt();
}

result<value> monoid::from_integer(int64_t n) const {
  switch (kind_) {
  case kind::sum:
    return value{n};
  case kind::count:
    if (n < 0) {
      return fail(errc::invalid_argument, "a count delta must be >= 0");
    }
    return value{static_cast<uint64_t>(n)};
  case kind::min:
  case kind::max:
    return value{std::optional<double>{static_cast<double>(n)}};
  default:
    return wrong_kind(kind_, "elements or timed values, not numbers");
  }
}

result<value> monoid::from_number(double x) const {
  if (!std::isfinite(x)) {
    return fail(errc::invalid_argument, "a number delta must be finite");
  }
  if (kind_ == kind::min || kind_ == kind::max) {
    return value{std::optional<double>{x}};
  }
  if (kind_ == kind::sum || kind_ == kind::count) {
    // Integral values only, within int64.
    if (x != std::trunc(x) || x < -9.2233720368547758e18 || x >= 9.2233720368547758e18) {
      return fail(errc::invalid_argument,
                  std::string{to_string(kind_)} + " deltas are integers within int64");
    }
    return from_integer(static_cast<int64_t>(x));
  }
  return wrong_kind(kind_, "elements or timed values, not numbers");
}

result<value> monoid::from_timed(time_point at, std::string v) const {
  if (kind_ != kind::first && kind_ != kind::last) {
    return wrong_kind(kind_, "numbers or elements, not timed values");
  }
  return value{std::optional<timed>{timed{at, std::move(v)}}};
}

result<value> monoid::from_elements(const std::vector<std::string>& elements,
                                    const std::vector<uint64_t>* weights) const {
  if (kind_ != kind::hll && kind_ != kind::topk && kind_ != kind::bloom
      && kind_ != kind::set) {
    return wrong_kind(kind_, "numbers or timed values, not elements");
  }
  if (weights != nullptr && (kind_ != kind::topk || weights->size() != elements.size())) {
    return fail(errc::invalid_argument,
                "weights go with topk elements, one per element");
  }
  for (const auto& e : elements) {
    if (e.size() > max_element_bytes) {
      return fail(errc::invalid_argument, "an element is longer than "
                                            + std::to_string(max_element_bytes)
                                            + " bytes");
    }
  }
  auto out = identity();
  switch (kind_) {
  case kind::hll:
    for (const auto& e : elements) {
      std::get<hll>(out).add(e);
    }
    break;
  case kind::topk:
    for (size_t i = 0; i < elements.size(); ++i) {
      if (auto ok = std::get<topk>(out).add(elements[i],
                                            weights != nullptr ? (*weights)[i] : 1);
          !ok) {
        return std::move(ok).err();
      }
    }
    break;
  case kind::bloom:
    for (const auto& e : elements) {
      std::get<bloom>(out).add(e);
    }
    break;
  default: {
    auto& s = std::get<bounded_set>(out);
    s.elements.insert(elements.begin(), elements.end());
    bound(s, params_.max_elements);
    break;
  }
  }
  return out;
}

namespace {

// The kind whose encoding stands for each alternative of `value`.
constexpr kind shape_kinds[] = {kind::sum,   kind::count, kind::min,   kind::first,
                                kind::hll,   kind::topk,  kind::bloom, kind::set};
static_assert(std::size(shape_kinds) == std::variant_size_v<value>);

} // namespace

std::string encode_any(const value& v) {
  auto m = monoid::make(shape_kinds[v.index()]);
  return m->encode(v);
}

result<value> decode_any(std::string_view bytes) {
  if (bytes.size() < 2) {
    return fail(errc::invalid_argument, "not an encoded aggregate value");
  }
  auto k = static_cast<kind>(static_cast<uint8_t>(bytes[1]));
  kind_params widest;
  widest.max_elements = 100'000;
  auto m = monoid::make(k, widest);
  if (!m) {
    return std::move(m).err();
  }
  return m->decode(bytes);
}

} // namespace shoal::agg
