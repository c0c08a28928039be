// The embedding API of idempotency: idem_client against an in-process node,
// and run_once (once per key, stored outcome on repeats, lease keep-alive).

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "actors/idem_client.hpp"
#include "actors/node.hpp"
#include "tests/support/embedded_node.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

using idem_client_test = test::embedded_client_test<idem_client>;

TEST_F(idem_client_test, begin_complete_get_erase) {
  auto b = client_->begin("job-1", 30s, "fp-1");
  ASSERT_TRUE(b) << to_string(b.err());
  ASSERT_TRUE(b->fresh);
  EXPECT_EQ(b->rec.owner_token.size(), 32u);
  EXPECT_EQ(client_->begin("job-1", 30s).code(), errc::conflict);
  ASSERT_TRUE(client_->touch("job-1", b->rec.owner_token, 1min));
  auto done = client_->complete("job-1", b->rec.owner_token, "42");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->st, idem::state::completed);
  auto again = client_->begin("job-1", 30s, "fp-1");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->fresh);
  EXPECT_EQ(again->rec.result, "42");
  EXPECT_EQ(client_->begin("job-1", 30s, "fp-2").code(),
            errc::fingerprint_mismatch);
  EXPECT_EQ(client_->get("job-1")->result, "42");
  EXPECT_EQ(*client_->erase("job-1"), true);
  EXPECT_EQ(client_->get("job-1").code(), errc::not_found);
  EXPECT_EQ(*client_->sweep(), 0u);
}

TEST_F(idem_client_test, run_once_runs_the_work_once_and_replays_its_result) {
  int runs = 0;
  auto work = [&]() -> result<std::string> {
    ++runs;
    return std::string{"receipt-" + std::to_string(runs)};
  };
  auto first = run_once(*client_, "pay-9", {}, work);
  ASSERT_TRUE(first) << to_string(first.err());
  EXPECT_TRUE(first->ran);
  EXPECT_EQ(first->rec.result, "receipt-1");
  auto second = run_once(*client_, "pay-9", {}, work);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->ran);
  EXPECT_EQ(second->rec.result, "receipt-1");
  EXPECT_EQ(runs, 1);
}

TEST_F(idem_client_test, run_once_stores_a_failure_as_the_outcome) {
  int runs = 0;
  auto work = [&]() -> result<std::string> {
    ++runs;
    return fail(errc::invalid_argument, "card declined");
  };
  auto first = run_once(*client_, "pay-10", {}, work);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->rec.st, idem::state::failed);
  EXPECT_EQ(first->rec.error_code, "invalid_argument");
  EXPECT_EQ(first->rec.error_message, "card declined");
  auto second = run_once(*client_, "pay-10", {}, work);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->ran);
  EXPECT_EQ(second->rec.st, idem::state::failed);
  EXPECT_EQ(runs, 1);
}

TEST_F(idem_client_test, concurrent_run_once_runs_the_work_exactly_once) {
  std::atomic<int> runs{0};
  std::atomic<int> conflicts{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto r = run_once(*client_, "shared", {}, [&]() -> result<std::string> {
        ++runs;
        while (!release) {
          std::this_thread::yield();
        }
        return std::string{"done"};
      });
      if (!r) {
        EXPECT_EQ(r.code(), errc::conflict);
        ++conflicts;
      }
    });
  }
  // Every caller but the one running the work sees a conflict.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (conflicts < 15 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms); // polling the count, with a deadline
  }
  release = true;
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(conflicts.load(), 15);
  EXPECT_EQ(client_->get("shared")->result, "done");
}

TEST_F(idem_client_test, keep_alive_holds_the_lease_through_long_work) {
  once_options opts;
  opts.lease_ttl = 300ms;
  auto r = run_once(*client_, "long", opts, [&]() -> result<std::string> {
    // Work lasting three leases; without keep-alive the lease would lapse
    // and another caller could take over.
    auto until = std::chrono::steady_clock::now() + 900ms;
    while (std::chrono::steady_clock::now() < until) {
      EXPECT_EQ(client_->begin("long", 300ms).code(), errc::conflict);
      std::this_thread::sleep_for(50ms); // probe again until the work's end
    }
    return std::string{"ok"};
  });
  ASSERT_TRUE(r) << to_string(r.err());
  EXPECT_TRUE(r->ran);
  EXPECT_EQ(r->rec.result, "ok");
}

} // namespace
} // namespace shoal
