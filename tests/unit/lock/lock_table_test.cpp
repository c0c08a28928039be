#include "runtime/lock/lock_table.hpp"

#include <map>

#include <gtest/gtest.h>

#include "tests/support/manual_clock.hpp"
#include "tests/support/record_store.hpp"

namespace shoal::lock {
namespace {

using namespace std::chrono_literals;

class lock_table_test : public testing::Test {
protected:
  lock_config cfg_;
  std::optional<lock_table> table_;
  test::manual_clock clock_;
  std::map<std::string, std::string> store_;
  effects last_;
  int tokens_ = 0;

  void SetUp() override {
    table_.emplace(3, cfg_);
  }

  void persist(const effects& fx) {
    test::apply_writes(store_, fx.writes);
    last_ = fx;
  }

  result<acquire_result> acquire(const std::string& key, duration ttl = 10s,
                                 duration wait = 0s, uint64_t waiter = 0,
                                 uint64_t lease = 0) {
    effects fx;
    auto token = "t" + std::to_string(++tokens_);
    auto r = table_->acquire(acquire_cmd{key, ttl, wait, token, waiter, lease},
                             clock_.now(), fx);
    persist(fx);
    return r;
  }

  result<uint64_t> release(const std::string& key, const std::string& token) {
    effects fx;
    auto r = table_->release(key, token, clock_.now(), fx);
    persist(fx);
    return r;
  }

  result<lock_info> refresh(const std::string& key, const std::string& token,
                            duration ttl = 10s) {
    effects fx;
    auto r = table_->refresh(key, token, ttl, clock_.now(), fx);
    persist(fx);
    return r;
  }

  effects tick() {
    effects fx;
    table_->tick(clock_.now(), fx);
    persist(fx);
    return fx;
  }
};

TEST_F(lock_table_test, acquire_a_free_lock_grants_a_token_and_a_fence) {
  auto r = acquire("jobs.nightly");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->granted);
  EXPECT_TRUE(r->info.held);
  EXPECT_EQ(r->info.owner_token, "t1");
  EXPECT_EQ(r->info.fence, 1u);
  EXPECT_EQ(r->info.expires_at, clock_.now() + 10s);
  // The holder record and the fencing counter are persisted.
  EXPECT_EQ(last_.writes.size(), 2u);
  auto info = table_->get("jobs.nightly", clock_.now());
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->held);
  EXPECT_TRUE(info->owner_token.empty()); // never given out by get
}

TEST_F(lock_table_test, a_held_lock_is_refused_without_wait_and_nothing_changes) {
  ASSERT_TRUE(acquire("k"));
  auto second = acquire("k");
  EXPECT_EQ(second.code(), errc::lock_held);
  EXPECT_NE(second.err().message.find("held until"), std::string::npos);
  EXPECT_TRUE(last_.writes.empty());
  EXPECT_EQ(table_->get("k", clock_.now())->fence, 1u);
}

TEST_F(lock_table_test, fences_strictly_increase_across_release_and_expiry) {
  auto a = acquire("k", 1s);
  ASSERT_TRUE(release("k", a->info.owner_token));
  auto b = acquire("k", 1s);
  EXPECT_GT(b->info.fence, a->info.fence);
  clock_.advance(1s);
  tick();
  auto c = acquire("k", 1s);
  ASSERT_TRUE(c);
  EXPECT_GT(c->info.fence, b->info.fence);
  // Other keys of the shard share the counter: still increasing per key.
  auto other = acquire("other");
  EXPECT_GT(other->info.fence, c->info.fence);
}

TEST_F(lock_table_test, refresh_extends_only_a_live_hold_of_its_owner) {
  auto a = acquire("k", 2s);
  auto token = a->info.owner_token;
  clock_.advance(1s);
  auto r = refresh("k", token, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->expires_at, clock_.now() + 5s);
  EXPECT_EQ(refresh("k", "wrong").code(), errc::lock_not_held);
  EXPECT_EQ(refresh("never", token).code(), errc::lock_not_held);
  EXPECT_EQ(refresh("k", token, 0s).code(), errc::invalid_ttl);
  EXPECT_EQ(refresh("k", token, 48h).code(), errc::invalid_ttl);
  clock_.advance(5s);
  // Expired but not yet swept: the owner learns it expired.
  EXPECT_EQ(refresh("k", token).code(), errc::lock_expired);
  EXPECT_EQ(release("k", token).code(), errc::lock_expired);
}

TEST_F(lock_table_test, unlock_twice_or_with_another_token_is_lock_not_held) {
  auto a = acquire("k");
  EXPECT_EQ(release("k", "wrong").code(), errc::lock_not_held);
  auto released = release("k", a->info.owner_token);
  ASSERT_TRUE(released);
  EXPECT_EQ(*released, a->info.fence);
  EXPECT_EQ(release("k", a->info.owner_token).code(), errc::lock_not_held);
  EXPECT_FALSE(table_->get("k", clock_.now())->held);
  EXPECT_EQ(table_->active(), 0u);
}

TEST_F(lock_table_test, an_expired_lock_is_taken_over_and_the_old_token_is_dead) {
  auto a = acquire("k", 1s);
  clock_.advance(1s);
  auto b = acquire("k", 1s); // no tick needed: acquire ends the expired hold
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->granted);
  EXPECT_EQ(release("k", a->info.owner_token).code(), errc::lock_not_held);
  EXPECT_EQ(refresh("k", a->info.owner_token).code(), errc::lock_not_held);
  EXPECT_TRUE(release("k", b->info.owner_token));
}

TEST_F(lock_table_test, waiters_are_granted_in_fifo_order) {
  auto holder = acquire("k", 10s);
  auto w1 = acquire("k", 10s, 30s, 101);
  auto w2 = acquire("k", 10s, 30s, 102);
  ASSERT_TRUE(w1);
  EXPECT_FALSE(w1->granted);
  EXPECT_EQ(w2->info.waiters, 2u);
  // A newcomer without wait is refused even though it could be fast.
  EXPECT_EQ(acquire("k").code(), errc::lock_held);
  ASSERT_TRUE(release("k", holder->info.owner_token));
  ASSERT_EQ(last_.grants.size(), 1u);
  EXPECT_EQ(last_.grants[0].waiter, 101u);
  auto first = last_.grants[0].info;
  EXPECT_EQ(first.owner_token, "t2");
  EXPECT_GT(first.fence, holder->info.fence);
  EXPECT_EQ(first.expires_at, clock_.now() + 10s);
  // The next one when the first holder expires.
  clock_.advance(10s);
  auto fx = tick();
  ASSERT_EQ(fx.grants.size(), 1u);
  EXPECT_EQ(fx.grants[0].waiter, 102u);
  EXPECT_EQ(fx.expired, std::vector<std::string>{"k"});
}

TEST_F(lock_table_test, a_wait_times_out_at_its_deadline) {
  ASSERT_TRUE(acquire("k", 1min));
  ASSERT_TRUE(acquire("k", 10s, 5s, 7));
  ASSERT_TRUE(acquire("k", 10s, 50s, 8));
  EXPECT_EQ(table_->next_deadline(), clock_.now() + 5s);
  clock_.advance(5s);
  auto fx = tick();
  EXPECT_EQ(fx.timeouts, std::vector<uint64_t>{7});
  EXPECT_TRUE(fx.grants.empty());
  EXPECT_EQ(table_->get("k", clock_.now())->waiters, 1u);
}

TEST_F(lock_table_test, a_cancelled_waiter_leaves_the_line) {
  auto holder = acquire("k");
  ASSERT_TRUE(acquire("k", 10s, 30s, 1));
  ASSERT_TRUE(acquire("k", 10s, 30s, 2));
  effects fx;
  table_->cancel("k", 1, clock_.now(), fx);
  ASSERT_TRUE(release("k", holder->info.owner_token));
  ASSERT_EQ(last_.grants.size(), 1u);
  EXPECT_EQ(last_.grants[0].waiter, 2u);
}

TEST_F(lock_table_test, lock_delay_keeps_an_expired_lock_free_for_a_while) {
  cfg_.lock_delay = 3s;
  table_.emplace(3, cfg_);
  auto a = acquire("k", 1s);
  clock_.advance(1s);
  tick();
  // Within the delay: refused, queued waiters wait.
  EXPECT_EQ(acquire("k").code(), errc::lock_held);
  ASSERT_TRUE(acquire("k", 10s, 30s, 9));
  clock_.advance(2s);
  EXPECT_TRUE(tick().grants.empty());
  clock_.advance(1s);
  auto fx = tick();
  ASSERT_EQ(fx.grants.size(), 1u);
  EXPECT_EQ(fx.grants[0].waiter, 9u);
  // An explicit unlock has no delay.
  ASSERT_TRUE(release("k", fx.grants[0].info.owner_token));
  EXPECT_TRUE(acquire("k"));
}

TEST_F(lock_table_test, releasing_a_lease_releases_its_locks_only) {
  ASSERT_TRUE(acquire("a", 10s, 0s, 0, 77));
  ASSERT_TRUE(acquire("b", 10s, 0s, 0, 77));
  ASSERT_TRUE(acquire("c", 10s, 0s, 0, 78));
  ASSERT_TRUE(acquire("a", 10s, 30s, 5));
  effects fx;
  EXPECT_EQ(table_->release_lease(77, clock_.now(), fx), 2u);
  persist(fx);
  ASSERT_EQ(fx.grants.size(), 1u);
  EXPECT_EQ(fx.grants[0].info.key, "a");
  EXPECT_FALSE(table_->get("b", clock_.now())->held);
  EXPECT_TRUE(table_->get("c", clock_.now())->held);
  EXPECT_EQ(table_->release_lease(0, clock_.now(), fx), 0u);
}

TEST_F(lock_table_test, a_lease_bound_hold_lasts_until_its_lease_ends) {
  auto a = acquire("k", 1s, 0s, 0, 77);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->info.expires_at, no_deadline);
  EXPECT_EQ(a->info.lease, 77u);
  // Its own TTL means nothing: it outlives it.
  clock_.advance(1h);
  EXPECT_TRUE(tick().expired.empty());
  EXPECT_TRUE(table_->get("k", clock_.now())->held);
  EXPECT_EQ(refresh("k", a->info.owner_token).code(), errc::invalid_argument);
  // A waiter bound to a lease that ends leaves the line.
  ASSERT_FALSE(acquire("k", 10s, 30s, 5, 78)->granted);
  ASSERT_FALSE(acquire("k", 10s, 30s, 6, 79)->granted);
  auto leases = table_->leases();
  EXPECT_EQ(leases, (std::vector<uint64_t>{77, 78, 79}));
  effects fx;
  EXPECT_EQ(table_->release_lease(78, clock_.now(), fx), 0u);
  persist(fx);
  EXPECT_EQ(fx.lease_lost, std::vector<uint64_t>{5});
  EXPECT_EQ(table_->get("k", clock_.now())->waiters, 1u);
  // The holder's lease ends: the next waiter gets the lock.
  effects end;
  EXPECT_EQ(table_->release_lease(77, clock_.now(), end), 1u);
  persist(end);
  ASSERT_EQ(end.grants.size(), 1u);
  EXPECT_EQ(end.grants[0].waiter, 6u);
  EXPECT_GT(end.grants[0].info.fence, a->info.fence);
  // Restored holds stay lease-bound.
  lock_table restored{3, cfg_};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  EXPECT_EQ(restored.leases(), std::vector<uint64_t>{79});
  EXPECT_EQ(restored.get("k", clock_.now())->expires_at, no_deadline);
}

TEST_F(lock_table_test, bad_input_changes_nothing) {
  EXPECT_EQ(acquire("").code(), errc::invalid_key);
  EXPECT_EQ(acquire("a..b").code(), errc::invalid_key);
  EXPECT_EQ(acquire("k", 0s).code(), errc::invalid_ttl);
  EXPECT_EQ(acquire("k", 50ms).code(), errc::invalid_ttl);
  EXPECT_EQ(acquire("k", 25h).code(), errc::invalid_ttl);
  EXPECT_EQ(acquire("k", 10s, -1s).code(), errc::invalid_argument);
  EXPECT_EQ(acquire("k", 10s, 2h).code(), errc::invalid_argument);
  EXPECT_TRUE(store_.empty());
  EXPECT_EQ(table_->active(), 0u);
  cfg_.max_waiters = 1;
  table_.emplace(3, cfg_);
  ASSERT_TRUE(acquire("k"));
  ASSERT_TRUE(acquire("k", 10s, 10s, 1));
  EXPECT_EQ(acquire("k", 10s, 10s, 2).code(), errc::overloaded);
}

TEST_F(lock_table_test, restore_keeps_holders_deadlines_and_the_fence_counter) {
  auto a = acquire("a", 30s);
  auto b = acquire("b", 30s);
  ASSERT_TRUE(release("b", b->info.owner_token));
  lock_table restored{3, cfg_};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  auto ra = restored.get("a", clock_.now());
  EXPECT_TRUE(ra->held);
  EXPECT_EQ(ra->expires_at, a->info.expires_at);
  EXPECT_FALSE(restored.get("b", clock_.now())->held);
  // The owner still holds it after a restart; fences keep increasing.
  effects fx;
  EXPECT_TRUE(restored.refresh("a", a->info.owner_token, 10s, clock_.now(), fx));
  auto c = restored.acquire(acquire_cmd{"c", 10s, 0s, "tc", 0, 0}, clock_.now(), fx);
  EXPECT_GT(c->info.fence, b->info.fence);
  // The hold still expires at its absolute deadline.
  clock_.advance(30s);
  EXPECT_FALSE(restored.get("a", clock_.now())->held);
  EXPECT_FALSE(restored.restore(lock_table::prefix(4) + "hx", "junk"));
  EXPECT_FALSE(restored.restore(lock_table::prefix(3) + "hx", "junk"));
}

TEST_F(lock_table_test, tick_is_deterministic_and_idempotent) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(acquire("k" + std::to_string(i), std::chrono::seconds{1 + i % 5}));
  }
  clock_.advance(3s);
  auto fx = tick();
  EXPECT_EQ(fx.expired.size(), 30u);
  EXPECT_TRUE(tick().expired.empty());
  clock_.advance(10s);
  EXPECT_EQ(tick().expired.size(), 20u);
  EXPECT_EQ(table_->active(), 0u);
  EXPECT_FALSE(table_->next_deadline());
}

} // namespace
} // namespace shoal::lock
