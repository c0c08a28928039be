#include "runtime/lock/lock_table.hpp"

#include <map>

#include <gtest/gtest.h>

#include "tests/support/manual_clock.hpp"
#include "tests/support/machine_checks.hpp"
#include "tests/support/record_store.hpp"

namespace shoal::lock {
namespace {

using namespace std::chrono_literals;

// What a queued acquirer was told, taken out of a command's events.
struct grant_view {
  uint64_t waiter;
  lock_info info;
};

std::vector<grant_view> grants_of(const effects& fx) {
  std::vector<grant_view> out;
  for (const auto& e : fx.events) {
    if (e.what == event::kind::granted) {
      out.push_back({e.waiter, e.info});
    }
  }
  return out;
}

std::vector<uint64_t> waiters_of(const effects& fx, event::kind what) {
  std::vector<uint64_t> out;
  for (const auto& e : fx.events) {
    if (e.what == what) {
      out.push_back(e.waiter);
    }
  }
  return out;
}

std::vector<uint64_t> timeouts_of(const effects& fx) {
  return waiters_of(fx, event::kind::timed_out);
}

std::vector<uint64_t> lease_lost_of(const effects& fx) {
  return waiters_of(fx, event::kind::lease_lost);
}

std::vector<std::string> expired_of(const effects& fx) {
  std::vector<std::string> out;
  for (const auto& e : fx.events) {
    if (e.what == event::kind::expired) {
      out.push_back(e.info.key);
    }
  }
  return out;
}

// Drives the shard's machine with commands, as the lock shard actor does.
class lock_table_test : public testing::Test {
protected:
  lock_config cfg_;
  std::optional<lock_table> table_;
  test::manual_clock clock_;
  std::map<std::string, std::string> store_;
  effects last_;
  int tokens_ = 0;
  uint64_t index_ = 0;

  void SetUp() override {
    reset();
  }

  void reset() {
    table_.emplace(3, cfg_);
  }

  apply_ctx ctx() {
    return apply_ctx{clock_.now(), ++index_, 3};
  }

  void persist(const effects& fx) {
    test::apply_writes(store_, fx.records);
    last_ = fx;
  }

  template <class Command>
  auto run(const Command& cmd) {
    effects fx;
    auto r = table_->apply(cmd, ctx(), fx);
    persist(fx);
    return r;
  }

  result<acquire_result> acquire(const std::string& key, duration ttl = 10s,
                                 duration wait = 0s, uint64_t waiter = 0,
                                 uint64_t lease = 0) {
    auto token = "t" + std::to_string(++tokens_);
    return run(acquire_cmd{key, ttl, wait, token, waiter, lease});
  }

  result<uint64_t> release(const std::string& key, const std::string& token) {
    return run(release_cmd{key, token});
  }

  result<lock_info> refresh(const std::string& key, const std::string& token,
                            duration ttl = 10s) {
    return run(refresh_cmd{key, token, ttl});
  }

  lock_info get(const std::string& key) {
    return *table_->get(key, clock_.now());
  }

  std::optional<time_point> next_deadline() const {
    return table_->next_deadline();
  }

  // The shard's timer: the keys whose deadline passed tick.
  effects tick() {
    effects fx;
    (void) table_->apply(tick_cmd{}, ctx(), fx);
    persist(fx);
    return fx;
  }

  effects release_lease(uint64_t lease, size_t expect_ended) {
    effects fx;
    auto ended = table_->apply(lease_end_cmd{lease}, ctx(), fx);
    EXPECT_EQ(*ended, expect_ended);
    persist(fx);
    return fx;
  }

  std::vector<uint64_t> leases() const {
    std::set<uint64_t> out;
    table_->leases(out);
    return {out.begin(), out.end()};
  }

  // A shard restarted from the store: counter and holders.
  void restart() {
    lock_table restored{3, cfg_};
    for (auto& [k, v] : store_) {
      ASSERT_TRUE(restored.restore(k, v));
    }
    table_.emplace(std::move(restored));
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
  EXPECT_EQ(last_.records.size(), 2u);
  auto info = get("jobs.nightly");
  EXPECT_TRUE(info.held);
  EXPECT_TRUE(info.owner_token.empty()); // never given out by get
}

TEST_F(lock_table_test, a_held_lock_is_refused_without_wait_and_nothing_changes) {
  ASSERT_TRUE(acquire("k"));
  auto second = acquire("k");
  EXPECT_EQ(second.code(), errc::lock_held);
  EXPECT_NE(second.err().message.find("held until"), std::string::npos);
  EXPECT_TRUE(last_.records.empty());
  EXPECT_EQ(get("k").fence, 1u);
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
  EXPECT_FALSE(get("k").held);
  EXPECT_EQ(table_->keys().size(), 0u);
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
  ASSERT_EQ(grants_of(last_).size(), 1u);
  EXPECT_EQ(grants_of(last_)[0].waiter, 101u);
  auto first = grants_of(last_)[0].info;
  EXPECT_EQ(first.owner_token, "t2");
  EXPECT_GT(first.fence, holder->info.fence);
  EXPECT_EQ(first.expires_at, clock_.now() + 10s);
  // The next one when the first holder expires.
  clock_.advance(10s);
  auto fx = tick();
  ASSERT_EQ(grants_of(fx).size(), 1u);
  EXPECT_EQ(grants_of(fx)[0].waiter, 102u);
  EXPECT_EQ(expired_of(fx), std::vector<std::string>{"k"});
}

TEST_F(lock_table_test, a_wait_times_out_at_its_deadline) {
  ASSERT_TRUE(acquire("k", 1min));
  ASSERT_TRUE(acquire("k", 10s, 5s, 7));
  ASSERT_TRUE(acquire("k", 10s, 50s, 8));
  EXPECT_EQ(next_deadline(), clock_.now() + 5s);
  clock_.advance(5s);
  auto fx = tick();
  EXPECT_EQ(timeouts_of(fx), std::vector<uint64_t>{7});
  EXPECT_TRUE(grants_of(fx).empty());
  EXPECT_EQ(get("k").waiters, 1u);
}

TEST_F(lock_table_test, a_cancelled_waiter_leaves_the_line) {
  auto k = table_->make_key("k");
  auto now = clock_.now();
  effects fx;
  ASSERT_TRUE(k.acquire(acquire_cmd{"k", 10s, 0s, "t1", 0, 0, 1}, now, fx));
  ASSERT_TRUE(k.acquire(acquire_cmd{"k", 10s, 30s, "t2", 1, 0, 2}, now, fx));
  ASSERT_TRUE(k.acquire(acquire_cmd{"k", 10s, 30s, "t3", 2, 0, 3}, now, fx));
  k.cancel(1, now, fx);
  effects out;
  ASSERT_TRUE(k.release("t1", now, out));
  ASSERT_EQ(grants_of(out).size(), 1u);
  EXPECT_EQ(grants_of(out)[0].waiter, 2u);
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
  EXPECT_TRUE(grants_of(tick()).empty());
  clock_.advance(1s);
  auto fx = tick();
  ASSERT_EQ(grants_of(fx).size(), 1u);
  EXPECT_EQ(grants_of(fx)[0].waiter, 9u);
  // An explicit unlock has no delay.
  ASSERT_TRUE(release("k", grants_of(fx)[0].info.owner_token));
  EXPECT_TRUE(acquire("k"));
}

TEST_F(lock_table_test, releasing_a_lease_releases_its_locks_only) {
  ASSERT_TRUE(acquire("a", 10s, 0s, 0, 77));
  ASSERT_TRUE(acquire("b", 10s, 0s, 0, 77));
  ASSERT_TRUE(acquire("c", 10s, 0s, 0, 78));
  ASSERT_TRUE(acquire("a", 10s, 30s, 5));
  auto fx = release_lease(77, 2);
  ASSERT_EQ(grants_of(fx).size(), 1u);
  EXPECT_EQ(grants_of(fx)[0].info.key, "a");
  EXPECT_FALSE(get("b").held);
  EXPECT_TRUE(get("c").held);
  EXPECT_TRUE(release_lease(0, 0).records.empty());
}

TEST_F(lock_table_test, a_lease_bound_hold_lasts_until_its_lease_ends) {
  auto a = acquire("k", 1s, 0s, 0, 77);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->info.expires_at, no_deadline);
  EXPECT_EQ(a->info.lease, 77u);
  // Its own TTL means nothing: it outlives it.
  clock_.advance(1h);
  EXPECT_TRUE(expired_of(tick()).empty());
  EXPECT_TRUE(get("k").held);
  EXPECT_EQ(refresh("k", a->info.owner_token).code(), errc::invalid_argument);
  // A waiter bound to a lease that ends leaves the line.
  ASSERT_FALSE(acquire("k", 10s, 30s, 5, 78)->granted);
  ASSERT_FALSE(acquire("k", 10s, 30s, 6, 79)->granted);
  EXPECT_EQ(leases(), (std::vector<uint64_t>{77, 78, 79}));
  // The hold has no deadline; the waiters do.
  EXPECT_EQ(table_->keys().find("k")->second.next_deadline(), clock_.now() + 30s);
  auto fx = release_lease(78, 0);
  EXPECT_EQ(lease_lost_of(fx), std::vector<uint64_t>{5});
  EXPECT_EQ(get("k").waiters, 1u);
  // The holder's lease ends: the next waiter gets the lock.
  auto end = release_lease(77, 1);
  ASSERT_EQ(grants_of(end).size(), 1u);
  EXPECT_EQ(grants_of(end)[0].waiter, 6u);
  EXPECT_GT(grants_of(end)[0].info.fence, a->info.fence);
  // Restored holds stay lease-bound.
  restart();
  EXPECT_EQ(leases(), std::vector<uint64_t>{79});
  EXPECT_EQ(get("k").expires_at, no_deadline);
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
  EXPECT_EQ(table_->keys().size(), 0u);
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
  restart();
  auto ra = get("a");
  EXPECT_TRUE(ra.held);
  EXPECT_EQ(ra.expires_at, a->info.expires_at);
  EXPECT_FALSE(get("b").held);
  // The owner still holds it after a restart; fences keep increasing.
  EXPECT_TRUE(refresh("a", a->info.owner_token, 10s));
  auto c = acquire("c");
  EXPECT_GT(c->info.fence, b->info.fence);
  // The hold still expires at its absolute deadline.
  clock_.advance(10s);
  EXPECT_FALSE(get("a").held);
  lock_table fresh{3, cfg_};
  EXPECT_FALSE(fresh.restore(lock_table::prefix(4) + "hx", "junk"));
  EXPECT_FALSE(fresh.restore(lock_table::prefix(3) + "hx", "junk"));
  EXPECT_FALSE(fresh.restore(lock_table::prefix(3) + "c", "junk"));
  EXPECT_FALSE(fresh.restore(lock_table::prefix(3) + "z", "x"));
}

TEST_F(lock_table_test, the_counter_is_written_once_per_block_and_never_reused) {
  cfg_.fence_block = 4;
  reset();
  std::vector<size_t> counter_writes;
  uint64_t last = 0;
  for (int i = 0; i < 9; ++i) {
    auto r = acquire("k" + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->info.fence, last + 1);
    last = r->info.fence;
    counter_writes.push_back(last_.records.size() - 1);
  }
  // Fences 1, 5 and 9 open a block.
  EXPECT_EQ(counter_writes,
            (std::vector<size_t>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  // A restart continues above the reservation (12), not above the last
  // fence handed out (9): a grant answered just before a crash is covered.
  restart();
  auto next = acquire("k0", 10s, 0s);
  EXPECT_EQ(next.code(), errc::lock_held);
  auto fresh = acquire("other");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->info.fence, 14u); // 13 went to the refused acquire
}

TEST_F(lock_table_test, a_key_is_forgotten_once_free_and_nobody_waits) {
  cfg_.lock_delay = 2s;
  reset();
  auto a = acquire("k", 1s);
  ASSERT_TRUE(acquire("k", 1s, 10s, 4));
  EXPECT_FALSE(table_->keys().find("k")->second.idle(clock_.now()));
  // Expiry hands over to the waiter after the lock-delay.
  clock_.advance(1s);
  EXPECT_TRUE(grants_of(tick()).empty());
  EXPECT_EQ(table_->keys().find("k")->second.next_deadline(), clock_.now() + 2s);
  clock_.advance(2s);
  auto fx = tick();
  ASSERT_EQ(grants_of(fx).size(), 1u);
  ASSERT_TRUE(release("k", grants_of(fx)[0].info.owner_token));
  EXPECT_TRUE(table_->keys().empty());
  // An expiry with nobody waiting: the key stays until the delay ends.
  ASSERT_TRUE(acquire("k", 1s));
  clock_.advance(1s);
  tick();
  ASSERT_EQ(table_->keys().size(), 1u);
  EXPECT_FALSE(table_->keys().find("k")->second.idle(clock_.now()));
  clock_.advance(2s);
  tick();
  EXPECT_TRUE(table_->keys().empty());
  EXPECT_FALSE(a->info.owner_token.empty());
}

TEST_F(lock_table_test, tick_is_deterministic_and_idempotent) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(acquire("k" + std::to_string(i), std::chrono::seconds{1 + i % 5}));
  }
  clock_.advance(3s);
  auto fx = tick();
  EXPECT_EQ(expired_of(fx).size(), 30u);
  EXPECT_TRUE(expired_of(tick()).empty());
  clock_.advance(10s);
  EXPECT_EQ(expired_of(tick()).size(), 20u);
  EXPECT_EQ(table_->keys().size(), 0u);
  EXPECT_FALSE(next_deadline());
}

} // namespace
} // namespace shoal::lock

namespace shoal::lock {
namespace {

using namespace std::chrono_literals;

std::vector<command> sample_lock_commands() {
  return {acquire_cmd{"jobs.a", 1s, 0s, "t1", 0, 0, 0},
          acquire_cmd{"jobs.a", 5s, 10s, "t2", 7, 0, 0},
          acquire_cmd{"jobs.b", 2s, 0s, "t3", 0, 42, 0},
          refresh_cmd{"jobs.a", "t1", 3s},
          tick_cmd{},
          release_cmd{"jobs.a", "t2"},
          lease_end_cmd{42},
          tick_cmd{}};
}

TEST(lock_commands, every_command_round_trips_and_every_prefix_is_refused) {
  test::expect_exact_encodings(sample_lock_commands());
}

// The same commands with the same contexts on two fresh machines give
// byte-identical records, the same events and the same answers.
TEST(lock_commands, applying_the_same_sequence_twice_is_deterministic) {
  test::expect_deterministic(
    [] { return lock_table{5, lock_config{}}; }, sample_lock_commands(), 5, 1200ms,
    [](codec::writer& w, const auto& e) {
      w.u8(static_cast<uint8_t>(e.what));
      w.varint(e.waiter);
      w.bytes(e.info.key);
      w.bytes(e.info.owner_token);
      w.varint(e.info.fence);
    },
    100u);
}

} // namespace
} // namespace shoal::lock
