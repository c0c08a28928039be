#include "runtime/stream/hamt.hpp"

#include <map>
#include <random>

#include <gtest/gtest.h>

namespace shoal::stream {
namespace {

// A hash that collides a lot: only 3 distinct values on the low bits and
// equal high bits, so deep paths and collision nodes are exercised.
struct weak_hash {
  uint64_t operator()(std::string_view key) const {
    return key.empty() ? 0 : static_cast<uint64_t>(key.back() % 3);
  }
};

// Full 64-bit collisions for every key of equal length.
struct length_hash {
  uint64_t operator()(std::string_view key) const {
    return key.size();
  }
};

template <class Map>
std::map<std::string, int> contents(const Map& m) {
  std::map<std::string, int> out;
  m.for_each([&](const std::string& k, const int& v) {
    EXPECT_TRUE(out.emplace(k, v).second) << "key twice: " << k;
  });
  return out;
}

// Random sets and erases against std::map; after every step the sizes,
// lookups and full contents agree, and every earlier version is unchanged.
template <class Hash>
void check_against_map(uint32_t seed, int steps, int key_space) {
  std::mt19937 rng{seed};
  hamt<int, Hash> m;
  std::map<std::string, int> ref;
  std::vector<std::pair<hamt<int, Hash>, std::map<std::string, int>>> versions;
  for (int step = 0; step < steps; ++step) {
    auto key = "k" + std::to_string(rng() % key_space);
    if (rng() % 3 == 0) {
      m = m.erase(key);
      ref.erase(key);
    } else {
      auto v = static_cast<int>(rng() % 1000);
      m = m.set(key, v);
      ref[key] = v;
    }
    ASSERT_EQ(m.size(), ref.size()) << "seed " << seed << " step " << step;
    auto probe = "k" + std::to_string(rng() % key_space);
    auto* found = m.find(probe);
    auto it = ref.find(probe);
    ASSERT_EQ(found != nullptr, it != ref.end()) << probe;
    if (found != nullptr) {
      ASSERT_EQ(*found, it->second);
    }
    if (step % 50 == 0) {
      versions.emplace_back(m, ref);
    }
  }
  EXPECT_EQ(contents(m), ref);
  for (const auto& [old, expected] : versions) {
    EXPECT_EQ(contents(old), expected) << "seed " << seed;
    EXPECT_EQ(old.size(), expected.size());
  }
}

TEST(hamt, matches_std_map_on_random_operations) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    check_against_map<default_hamt_hash>(seed, 3000, 500);
  }
}

TEST(hamt, matches_std_map_with_colliding_hashes) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    check_against_map<weak_hash>(seed, 1500, 60);
    check_against_map<length_hash>(seed, 1500, 200);
  }
}

TEST(hamt, a_version_is_unchanged_by_later_writes) {
  hamt<int> m;
  for (int i = 0; i < 1000; ++i) {
    m = m.set("e" + std::to_string(i), i);
  }
  auto view = m;
  ASSERT_TRUE(view.same_as(m));
  for (int i = 0; i < 1000; i += 2) {
    m = m.set("e" + std::to_string(i), -i);
  }
  for (int i = 1; i < 1000; i += 2) {
    m = m.erase("e" + std::to_string(i));
  }
  m = m.set("new", 7);
  EXPECT_FALSE(view.same_as(m));
  EXPECT_EQ(view.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_NE(view.find("e" + std::to_string(i)), nullptr);
    EXPECT_EQ(*view.find("e" + std::to_string(i)), i);
  }
  EXPECT_EQ(view.find("new"), nullptr);
  EXPECT_EQ(m.size(), 501u);
  EXPECT_EQ(*m.find("e10"), -10);
  EXPECT_EQ(m.find("e11"), nullptr);
}

TEST(hamt, erasing_an_absent_key_keeps_the_version) {
  auto m = hamt<int>{}.set("a", 1);
  EXPECT_TRUE(m.erase("b").same_as(m));
  EXPECT_TRUE(m.erase("a").empty());
  EXPECT_EQ(hamt<int>{}.erase("a").size(), 0u);
}

TEST(hamt, shape_depends_only_on_contents) {
  // Adding then removing keys leads back to a map equal in contents, and
  // removing everything leaves an empty root.
  hamt<int, weak_hash> m;
  for (int i = 0; i < 100; ++i) {
    m = m.set("x" + std::to_string(i), i);
  }
  for (int i = 0; i < 100; ++i) {
    m = m.erase("x" + std::to_string(i));
  }
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.same_as(hamt<int, weak_hash>{}));
}

} // namespace
} // namespace shoal::stream
