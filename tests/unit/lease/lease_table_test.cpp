#include "runtime/lease/lease_table.hpp"

#include <map>

#include <gtest/gtest.h>

#include "tests/support/manual_clock.hpp"
#include "tests/support/machine_checks.hpp"
#include "tests/support/record_store.hpp"

namespace shoal::lease {
namespace {

using namespace std::chrono_literals;

class lease_table_test : public testing::Test {
protected:
  lease_table table_{2, lease_config{}};
  test::manual_clock clock_;
  std::map<std::string, std::string> store_;
  effects last_;

  void persist(const effects& fx) {
    test::apply_writes(store_, fx.records);
    last_ = fx;
  }

  apply_ctx now() const {
    return apply_ctx{clock_.now(), 0, 2};
  }

  // The ids of the leases that expired in `fx`.
  static std::vector<uint64_t> expired_in(const effects& fx) {
    std::vector<uint64_t> out;
    for (const auto& e : fx.events) {
      if (e.reason == end_reason::expired) {
        out.push_back(e.id);
      }
    }
    return out;
  }

  template <class F>
  auto run(F f) {
    effects fx;
    auto r = f(fx);
    persist(fx);
    return r;
  }

  result<lease_info> grant(uint64_t id, duration ttl) {
    return run([&](effects& fx) { return table_.apply(grant_cmd{id, ttl}, now(), fx); });
  }
  result<lease_info> keepalive(uint64_t id) {
    return run([&](effects& fx) { return table_.apply(keepalive_cmd{id}, now(), fx); });
  }
  result<lease_info> revoke(uint64_t id) {
    return run([&](effects& fx) { return table_.apply(revoke_cmd{id}, now(), fx); });
  }
  std::vector<uint64_t> expire() {
    effects fx;
    (void) table_.apply(expire_cmd{}, now(), fx);
    persist(fx);
    return expired_in(fx);
  }
};

TEST_F(lease_table_test, grant_keepalive_and_get) {
  auto l = grant(7, 10s);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->id, 7u);
  EXPECT_EQ(l->expires_at, clock_.now() + 10s);
  EXPECT_EQ(store_.size(), 1u);
  clock_.advance(6s);
  auto k = keepalive(7);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->expires_at, clock_.now() + 10s);
  EXPECT_EQ(k->granted, l->granted);
  clock_.advance(6s); // past the first deadline, within the renewed one
  EXPECT_TRUE(expire().empty());
  EXPECT_TRUE(table_.get(7, clock_.now()));
  EXPECT_EQ(table_.next_expiry(), k->expires_at);
}

TEST_F(lease_table_test, bad_grants_are_refused) {
  EXPECT_EQ(grant(1, 50ms).code(), errc::invalid_ttl);
  EXPECT_EQ(grant(1, 25h).code(), errc::invalid_ttl);
  EXPECT_EQ(grant(0, 10s).code(), errc::invalid_argument);
  ASSERT_TRUE(grant(1, 10s));
  EXPECT_EQ(grant(1, 10s).code(), errc::conflict);
  lease_config small;
  small.max_leases = 1;
  lease_table t{2, small};
  effects fx;
  ASSERT_TRUE(t.apply(grant_cmd{1, 1s}, now(), fx));
  EXPECT_EQ(t.apply(grant_cmd{2, 1s}, now(), fx).code(), errc::overloaded);
}

TEST_F(lease_table_test, expiry_ends_the_lease_for_good) {
  ASSERT_TRUE(grant(1, 1s));
  ASSERT_TRUE(grant(2, 5s));
  clock_.advance(1s);
  // Past its deadline it is gone at once, before the sweep.
  EXPECT_EQ(table_.get(1, clock_.now()).code(), errc::not_found);
  EXPECT_EQ(expire(), std::vector<uint64_t>{1});
  EXPECT_EQ(keepalive(1).code(), errc::not_found);
  EXPECT_EQ(store_.size(), 1u);
  // A keep-alive that comes too late records the expiry itself.
  clock_.advance(5s);
  EXPECT_EQ(keepalive(2).code(), errc::not_found);
  EXPECT_EQ(expired_in(last_), std::vector<uint64_t>{2});
  EXPECT_TRUE(store_.empty());
  EXPECT_TRUE(expire().empty());
  EXPECT_FALSE(table_.next_expiry());
}

TEST_F(lease_table_test, revoke_ends_at_once_and_twice_is_not_found) {
  ASSERT_TRUE(grant(3, 10s));
  auto r = revoke(3);
  ASSERT_TRUE(r);
  EXPECT_TRUE(expired_in(last_).empty()); // revoked, not expired
  EXPECT_EQ(last_.events, (std::vector<lease_end>{{3, end_reason::revoked}}));
  EXPECT_TRUE(store_.empty());
  EXPECT_EQ(revoke(3).code(), errc::not_found);
  EXPECT_EQ(keepalive(3).code(), errc::not_found);
  EXPECT_TRUE(expire().empty());
}

TEST_F(lease_table_test, restore_keeps_absolute_deadlines) {
  ASSERT_TRUE(grant(1, 10s));
  ASSERT_TRUE(grant(2, 20s));
  ASSERT_TRUE(revoke(2));
  ASSERT_TRUE(grant(3, 30s));
  clock_.advance(4s);
  ASSERT_TRUE(keepalive(3));
  lease_table restored{2, lease_config{}};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  EXPECT_EQ(restored.size(), 2u);
  EXPECT_FALSE(restored.contains(2));
  EXPECT_EQ(restored.get(3, clock_.now())->expires_at, clock_.now() + 30s);
  EXPECT_EQ(restored.get(1, clock_.now())->ttl, 10s);
  clock_.advance(7s);
  effects fx;
  EXPECT_EQ(*restored.apply(expire_cmd{}, now(), fx), 1u);
  EXPECT_EQ(expired_in(fx), std::vector<uint64_t>{1});
  EXPECT_FALSE(restored.restore(lease_table::prefix(2) + "short", ""));
  EXPECT_FALSE(restored.restore(store_.begin()->first, "\x07junk"));
}

} // namespace
} // namespace shoal::lease

namespace shoal::lease {
namespace {

using namespace std::chrono_literals;

std::vector<command> sample_lease_commands() {
  return {grant_cmd{4, 1s}, grant_cmd{6, 10s}, keepalive_cmd{6}, revoke_cmd{4},
          grant_cmd{8, 1s}, expire_cmd{}, keepalive_cmd{8}, revoke_cmd{99}};
}

TEST(lease_commands, every_command_round_trips_and_every_prefix_is_refused) {
  test::expect_exact_encodings(sample_lease_commands());
}

// The same commands with the same contexts on two fresh machines give
// byte-identical records, the same events and the same answers.
TEST(lease_commands, applying_the_same_sequence_twice_is_deterministic) {
  test::expect_deterministic(
    [] { return lease_table{2, lease_config{}}; }, sample_lease_commands(), 2, 700ms,
    [](codec::writer& w, const auto& e) {
      w.varint(e.id);
      w.u8(static_cast<uint8_t>(e.reason));
    },
    50u);
}

} // namespace
} // namespace shoal::lease
