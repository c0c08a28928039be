// Property tests of every aggregate kind: identity, associativity,
// commutativity, encode/decode round trips and corrupt input, with random
// deltas from a seeded generator; plus each sketch's accuracy contract.

#include "runtime/aggregate/monoid.hpp"

#include <cmath>
#include <map>
#include <random>

#include <gtest/gtest.h>

namespace shoal::agg {
namespace {

using namespace std::chrono_literals;

// Random deltas of one kind.
class deltas {
public:
  deltas(const monoid& m, uint32_t seed, int universe = 50)
    : m_(m), rng_(seed), universe_(universe) {
  }

  value next() {
    std::uniform_int_distribution<int> pick{0, universe_ - 1};
    switch (m_.kind_of()) {
    case kind::sum:
      return *m_.from_integer(std::uniform_int_distribution<int64_t>{-1'000'000, 1'000'000}(rng_));
    case kind::count:
      return *m_.from_integer(std::uniform_int_distribution<int64_t>{0, 1000}(rng_));
    case kind::min:
    case kind::max:
      return *m_.from_number(std::uniform_real_distribution<double>{-1e6, 1e6}(rng_));
    case kind::first:
    case kind::last:
      // Few distinct times, so ties happen.
      return *m_.from_timed(from_unix_nanos(pick(rng_) % 5 * 1'000'000'000),
                            "v" + std::to_string(pick(rng_)));
    default: {
      std::vector<std::string> elements;
      auto n = std::uniform_int_distribution<int>{0, 20}(rng_);
      for (int i = 0; i < n; ++i) {
        elements.push_back("e" + std::to_string(pick(rng_)));
      }
      return *m_.from_elements(elements);
    }
    }
  }

private:
  const monoid& m_;
  std::mt19937 rng_;
  int universe_;
};

value combined(const monoid& m, value a, const value& b) {
  auto ok = m.combine(a, b);
  EXPECT_TRUE(ok) << (ok ? "" : ok.err().message);
  return a;
}

class every_kind : public testing::TestWithParam<kind> {
protected:
  monoid make() const {
    kind_params p;
    p.k = 64; // more than the test universe: topk stays exact
    p.capacity = 1000;
    p.max_elements = 64;
    return *monoid::make(GetParam(), p);
  }
};

TEST_P(every_kind, identity_is_neutral_on_both_sides) {
  auto m = make();
  deltas gen{m, 1};
  for (int i = 0; i < 200; ++i) {
    auto a = gen.next();
    EXPECT_EQ(combined(m, m.identity(), a), a);
    EXPECT_EQ(combined(m, a, m.identity()), a);
  }
}

TEST_P(every_kind, combine_is_associative_and_commutative) {
  auto m = make();
  deltas gen{m, 2};
  for (int i = 0; i < 200; ++i) {
    auto a = gen.next();
    auto b = gen.next();
    auto c = gen.next();
    EXPECT_EQ(combined(m, combined(m, a, b), c), combined(m, a, combined(m, b, c)));
    EXPECT_EQ(combined(m, a, b), combined(m, b, a));
  }
}

TEST_P(every_kind, a_fold_in_any_order_and_grouping_gives_one_result) {
  auto m = make();
  deltas gen{m, 3};
  std::vector<value> all;
  for (int i = 0; i < 100; ++i) {
    all.push_back(gen.next());
  }
  auto forward = m.identity();
  for (const auto& d : all) {
    forward = combined(m, forward, d);
  }
  // Reverse order, in pairs first.
  auto backward = m.identity();
  for (size_t i = all.size(); i >= 2; i -= 2) {
    backward = combined(m, backward, combined(m, all[i - 1], all[i - 2]));
  }
  EXPECT_EQ(forward, backward);
}

TEST_P(every_kind, encoding_round_trips_and_corrupt_bytes_are_refused) {
  auto m = make();
  deltas gen{m, 4};
  auto acc = m.identity();
  for (int i = 0; i < 50; ++i) {
    acc = combined(m, acc, gen.next());
    auto bytes = m.encode(acc);
    auto back = m.decode(bytes);
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(*back, acc);
    // The kind-free form (messages between nodes) too.
    auto any = decode_any(encode_any(acc));
    ASSERT_TRUE(any) << any.err().message;
    EXPECT_EQ(*any, acc);
  }
  EXPECT_FALSE(decode_any(""));
  EXPECT_FALSE(decode_any("\x01\x7f"));
  auto bytes = m.encode(acc);
  // Every strict prefix is refused, never a crash or a wrong value.
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto cut = m.decode(bytes.substr(0, n));
    EXPECT_FALSE(cut && *cut == acc) << "prefix " << n;
  }
  EXPECT_FALSE(m.decode(bytes + "x"));
  // Another kind's bytes are refused.
  auto other = *monoid::make(GetParam() == kind::sum ? kind::count : kind::sum);
  EXPECT_EQ(other.decode(bytes).code(), errc::storage_error);
}

TEST_P(every_kind, values_of_another_kind_are_refused_and_change_nothing) {
  auto m = make();
  auto other = *monoid::make(GetParam() == kind::set ? kind::sum : kind::set);
  auto acc = deltas{m, 5}.next();
  auto before = acc;
  EXPECT_EQ(m.combine(acc, other.identity()).code(), errc::invalid_argument);
  EXPECT_EQ(acc, before);
}

INSTANTIATE_TEST_SUITE_P(kinds, every_kind,
                         testing::Values(kind::sum, kind::count, kind::min, kind::max,
                                         kind::first, kind::last, kind::hll, kind::topk,
                                         kind::bloom, kind::set),
                         [](const auto& info) { return std::string{to_string(info.param)}; });

TEST(monoid, kinds_parse_and_parameters_are_checked) {
  for (auto name : {"sum", "count", "min", "max", "first", "last", "hll", "topk", "bloom", "set"}) {
    auto k = parse_kind(name);
    ASSERT_TRUE(k) << name;
    EXPECT_EQ(to_string(*k), name);
  }
  EXPECT_FALSE(parse_kind("avg"));
  EXPECT_FALSE(monoid::make(kind::topk, kind_params{.k = 0}));
  EXPECT_FALSE(monoid::make(kind::set, kind_params{.max_elements = 0}));
  EXPECT_FALSE(monoid::make(kind::bloom, kind_params{.capacity = 0}));
  EXPECT_FALSE(monoid::make(kind::bloom, kind_params{.fp_rate = 0.9}));
  EXPECT_FALSE(monoid::make(kind::bloom, kind_params{.capacity = 1'000'000'000}));
}

TEST(monoid, sum_overflow_is_refused_and_never_wraps) {
  auto m = *monoid::make(kind::sum);
  value v = int64_t{INT64_MAX - 1};
  EXPECT_TRUE(m.combine(v, *m.from_integer(1)));
  EXPECT_EQ(m.combine(v, *m.from_integer(1)).code(), errc::invalid_argument);
  EXPECT_EQ(std::get<int64_t>(v), INT64_MAX);
  value low = int64_t{INT64_MIN};
  EXPECT_EQ(m.combine(low, *m.from_integer(-1)).code(), errc::invalid_argument);
  EXPECT_FALSE(m.from_number(1.5));
  EXPECT_FALSE(m.from_number(1e19));
  EXPECT_FALSE(m.from_number(NAN));
  EXPECT_FALSE(m.from_elements({"a"}));
  auto c = *monoid::make(kind::count);
  EXPECT_FALSE(c.from_integer(-1));
  value full = uint64_t{UINT64_MAX};
  EXPECT_EQ(c.combine(full, *c.from_integer(1)).code(), errc::invalid_argument);
}

TEST(monoid, first_and_last_go_by_event_time) {
  auto first = *monoid::make(kind::first);
  auto last = *monoid::make(kind::last);
  auto f = first.identity();
  auto l = last.identity();
  for (auto [secs, v] : std::vector<std::pair<int, std::string>>{{5, "e"}, {1, "a"}, {9, "z"}, {3, "c"}}) {
    ASSERT_TRUE(first.combine(f, *first.from_timed(from_unix_nanos(secs * 1'000'000'000LL), v)));
    ASSERT_TRUE(last.combine(l, *last.from_timed(from_unix_nanos(secs * 1'000'000'000LL), v)));
  }
  EXPECT_EQ(std::get<std::optional<timed>>(f)->value, "a");
  EXPECT_EQ(std::get<std::optional<timed>>(l)->value, "z");
  EXPECT_FALSE(first.from_integer(1));
}

TEST(monoid, set_keeps_the_smallest_elements_and_says_it_truncated) {
  auto m = *monoid::make(kind::set, kind_params{.max_elements = 3});
  auto v = *m.from_elements({"d", "b"});
  ASSERT_TRUE(m.combine(v, *m.from_elements({"a", "e", "c"})));
  const auto& s = std::get<bounded_set>(v);
  EXPECT_EQ(s.elements, (std::set<std::string, std::less<>>{"a", "b", "c"}));
  EXPECT_TRUE(s.truncated);
  EXPECT_FALSE(m.from_elements({std::string(max_element_bytes + 1, 'x')}));
}

// -- sketches ---------------------------------------------------------------------

TEST(hll, estimates_within_three_standard_errors_from_1e3_to_1e6) {
  for (uint64_t n : {1'000u, 10'000u, 100'000u, 1'000'000u}) {
    hll h;
    for (uint64_t i = 0; i < n; ++i) {
      h.add("user-" + std::to_string(i));
    }
    auto est = static_cast<double>(h.estimate());
    auto rel = std::abs(est - static_cast<double>(n)) / static_cast<double>(n);
    EXPECT_LT(rel, 3 * hll::standard_error) << n << " estimated " << est;
    // Repeats change nothing.
    auto before = h.estimate();
    for (uint64_t i = 0; i < 1000; ++i) {
      h.add("user-" + std::to_string(i));
    }
    EXPECT_EQ(h.estimate(), before);
  }
}

TEST(hll, small_sets_are_near_exact_and_sparse) {
  hll h;
  EXPECT_EQ(h.estimate(), 0u);
  for (int i = 0; i < 100; ++i) {
    h.add("x" + std::to_string(i));
  }
  EXPECT_FALSE(h.dense());
  EXPECT_NEAR(static_cast<double>(h.estimate()), 100.0, 2.0);
  EXPECT_LT(h.encode().size(), 400u);
}

TEST(hll, sparse_and_dense_agree_and_merging_parts_equals_the_whole) {
  hll whole;
  std::vector<hll> parts(8);
  for (int i = 0; i < 50'000; ++i) {
    auto e = "k" + std::to_string(i);
    whole.add(e);
    parts[i % 8].add(e);
  }
  hll merged;
  for (const auto& p : parts) {
    merged.merge(p);
  }
  EXPECT_TRUE(whole.dense());
  EXPECT_EQ(merged, whole);
  EXPECT_EQ(merged.estimate(), whole.estimate());
  // A sparse sketch merged into a dense one, and the reverse.
  hll small;
  small.add("only");
  auto a = whole;
  a.merge(small);
  auto b = small;
  b.merge(whole);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(hll::decode("\x01\x0e\x01short"));
  EXPECT_FALSE(hll::decode("\x01\x0d\x00\x00"));
}

TEST(topk, counts_are_within_the_error_bound) {
  topk t{20};
  std::map<std::string, uint64_t> truth;
  std::mt19937 rng{7};
  // Zipf-like: item i with weight ~ 1/(i+1).
  std::vector<double> weights;
  for (int i = 0; i < 500; ++i) {
    weights.push_back(1.0 / (i + 1));
  }
  std::discrete_distribution<int> pick{weights.begin(), weights.end()};
  uint64_t n = 0;
  for (int i = 0; i < 100'000; ++i) {
    auto key = "page" + std::to_string(pick(rng));
    ASSERT_TRUE(t.add(key));
    ++truth[key];
    ++n;
  }
  EXPECT_EQ(t.total(), n);
  EXPECT_LE(t.error(), n / 21);
  std::map<std::string, uint64_t> kept;
  for (const auto& it : t.top()) {
    kept[it.key] = it.count;
  }
  for (const auto& [key, count] : truth) {
    auto k = kept.find(key);
    if (k == kept.end()) {
      EXPECT_LE(count, t.error()) << key;
    } else {
      EXPECT_LE(k->second, count) << key;
      EXPECT_LE(count, k->second + t.error()) << key;
    }
  }
  // The heaviest items are found, in order.
  auto top = t.top();
  ASSERT_GE(top.size(), 3u);
  EXPECT_EQ(top[0].key, "page0");
  EXPECT_EQ(top[1].key, "page1");
}

TEST(topk, merged_summaries_keep_the_bound) {
  std::vector<topk> parts(4, topk{10});
  std::map<std::string, uint64_t> truth;
  std::mt19937 rng{9};
  std::geometric_distribution<int> pick{0.05};
  uint64_t n = 0;
  for (int i = 0; i < 40'000; ++i) {
    auto key = "q" + std::to_string(pick(rng));
    ASSERT_TRUE(parts[i % 4].add(key));
    ++truth[key];
    ++n;
  }
  topk merged{10};
  for (const auto& p : parts) {
    ASSERT_TRUE(merged.merge(p));
  }
  EXPECT_LE(merged.error(), n / 11);
  for (const auto& it : merged.top()) {
    EXPECT_LE(it.count, truth[it.key]);
    EXPECT_LE(truth[it.key], it.count + merged.error());
  }
  EXPECT_FALSE(merged.merge(topk{11}));
}

TEST(bloom, has_no_false_negatives_and_about_its_false_positive_rate) {
  auto b = *bloom::make(10'000, 0.01);
  for (int i = 0; i < 10'000; ++i) {
    b.add("member-" + std::to_string(i));
  }
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_TRUE(b.contains("member-" + std::to_string(i)));
  }
  int fp = 0;
  for (int i = 0; i < 100'000; ++i) {
    fp += b.contains("stranger-" + std::to_string(i)) ? 1 : 0;
  }
  EXPECT_LT(fp, 2 * 1000) << fp << " false positives in 100,000";
  auto other = *bloom::make(100, 0.01);
  EXPECT_FALSE(b.merge(other));
}

} // namespace
} // namespace shoal::agg
