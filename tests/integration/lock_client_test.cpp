// The embedding API of locks and leases: lock_client against an in-process
// node, leases ending what is bound to them, and run_locked guarding a
// fenced read-modify-write from many threads.

#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "actors/kv_client.hpp"
#include "actors/lock_client.hpp"
#include "actors/node.hpp"
#include "tests/support/embedded_node.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

class lock_client_test : public testing::Test {
protected:
  void SetUp() override {
    node_ = test::start_embedded_node();
    ASSERT_NE(node_, nullptr);
    locks_.emplace(*node_);
    kv_.emplace(*node_);
  }

  void TearDown() override {
    locks_.reset();
    kv_.reset();
    if (node_) {
      node_->stop();
    }
  }

  std::unique_ptr<node> node_;
  std::optional<lock_client> locks_;
  std::optional<kv_client> kv_;
};

TEST_F(lock_client_test, acquire_refresh_release_and_wait_in_line) {
  auto a = locks_->acquire("jobs.nightly", 10s);
  ASSERT_TRUE(a) << to_string(a.err());
  EXPECT_TRUE(a->held);
  EXPECT_EQ(a->owner_token.size(), 32u);
  EXPECT_EQ(locks_->acquire("jobs.nightly", 10s).code(), errc::lock_held);
  auto got = locks_->get("jobs.nightly");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->held);
  EXPECT_TRUE(got->owner_token.empty());
  EXPECT_EQ(got->fence, a->fence);
  auto r = locks_->refresh("jobs.nightly", a->owner_token, 1min);
  ASSERT_TRUE(r);
  EXPECT_GT(r->expires_at, a->expires_at);
  EXPECT_EQ(locks_->refresh("jobs.nightly", "nope", 1min).code(), errc::lock_not_held);
  // A waiter gets the lock when it is released.
  auto waiting = std::async(std::launch::async,
                            [&] { return locks_->acquire("jobs.nightly", 10s, 10s); });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (locks_->get("jobs.nightly")->waiters != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(2ms); // polling the queue, with a deadline
  }
  EXPECT_EQ(*locks_->release("jobs.nightly", a->owner_token), a->fence);
  auto b = waiting.get();
  ASSERT_TRUE(b);
  EXPECT_GT(b->fence, a->fence);
  EXPECT_EQ(locks_->release("jobs.nightly", a->owner_token).code(),
            errc::lock_not_held);
  EXPECT_EQ(locks_->acquire("jobs.nightly", 10s, 100ms).code(), errc::timeout);
  EXPECT_EQ(locks_->acquire("a..b", 10s).code(), errc::invalid_key);
  EXPECT_EQ(locks_->acquire("k", 1ms).code(), errc::invalid_ttl);
}

TEST_F(lock_client_test, a_lease_ends_what_is_bound_to_it) {
  auto lease = locks_->grant(5s);
  ASSERT_TRUE(lease) << to_string(lease.err());
  auto held = locks_->acquire("leader", 1s, 0s, lease->id);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->lease, lease->id);
  kv::put_cmd put;
  put.key = "members.me";
  put.value = "10.0.0.1";
  put.lease = lease->id;
  ASSERT_TRUE(kv_->put(put));
  ASSERT_TRUE(locks_->keepalive(lease->id));
  EXPECT_EQ(locks_->lease(lease->id)->id, lease->id);
  ASSERT_TRUE(locks_->revoke(lease->id));
  // The lock is handed on and the key deleted once the end is durable.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (locks_->get("leader")->held || kv_->get("members.me")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(2ms); // polling the lease's end, with a deadline
  }
  // Nothing can be bound to an ended lease.
  EXPECT_EQ(locks_->acquire("leader", 1s, 0s, lease->id).code(), errc::not_found);
  EXPECT_EQ(kv_->put(put).code(), errc::not_found);
  EXPECT_FALSE(kv_->get("members.me"));
  EXPECT_EQ(locks_->keepalive(lease->id).code(), errc::not_found);
  EXPECT_EQ(locks_->grant(1ms).code(), errc::invalid_ttl);
}

TEST_F(lock_client_test, run_locked_serialises_fenced_read_modify_writes) {
  ASSERT_TRUE(kv_->put("counter", "0"));
  constexpr int threads = 8;
  constexpr int rounds = 10;
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      locked_options opts;
      opts.ttl = 5s;
      opts.wait = 30s;
      for (int i = 0; i < rounds; ++i) {
        auto r = run_locked(*locks_, "counter.lock", opts,
                            [&](const lock::lock_info& hold) -> result<void> {
                              auto cur = kv_->get("counter");
                              if (!cur) {
                                return std::move(cur).err();
                              }
                              kv::put_cmd put;
                              put.key = "counter";
                              put.value = std::to_string(std::stoi(cur->value) + 1);
                              put.fence = kv::fence{"counter.lock", hold.fence};
                              auto w = kv_->put(put);
                              if (!w) {
                                return std::move(w).err();
                              }
                              return {};
                            });
        if (!r) {
          ++failures;
        }
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(kv_->get("counter")->value, std::to_string(threads * rounds));
}

TEST_F(lock_client_test, run_locked_reports_a_hold_lost_while_the_work_ran) {
  locked_options opts;
  opts.ttl = 5s;
  opts.wait = 0s;
  auto r = run_locked(*locks_, "k", opts, [&](const lock::lock_info& hold) -> result<void> {
    // Somebody else ends the hold (an operator, here the work itself).
    EXPECT_TRUE(locks_->release("k", hold.owner_token));
    return {};
  });
  EXPECT_EQ(r.code(), errc::lock_expired);
  // The work's own error comes back as is, and the lock is released.
  auto failed = run_locked(*locks_, "k", opts, [](const lock::lock_info&) -> result<void> {
    return fail(errc::invalid_argument, "bad job");
  });
  EXPECT_EQ(failed.code(), errc::invalid_argument);
  EXPECT_FALSE(locks_->get("k")->held);
}

} // namespace
} // namespace shoal
