#include "actors/durable_gate.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace shoal {
namespace {

TEST(durable_gate, runs_at_once_when_nothing_is_pending) {
  durable_gate gate;
  bool ran = false;
  gate.after_durable([&](const error* e) {
    EXPECT_EQ(e, nullptr);
    ran = true;
  });
  EXPECT_TRUE(ran);
}

TEST(durable_gate, waiters_run_in_order_once_their_changes_are_durable) {
  durable_gate gate;
  std::vector<std::string> log;
  auto s1 = gate.advance();
  gate.after_durable([&](const error*) { log.push_back("w1"); });
  gate.after_durable([&](const error*) { log.push_back("r1"); });
  auto s2 = gate.advance();
  gate.after_durable([&](const error*) { log.push_back("w2"); });
  EXPECT_TRUE(log.empty());
  gate.committed(s1, nullptr);
  EXPECT_EQ(log, (std::vector<std::string>{"w1", "r1"}));
  // A read now still waits for s2: it may have seen s2's change.
  gate.after_durable([&](const error*) { log.push_back("r2"); });
  gate.committed(s2, nullptr);
  EXPECT_EQ(log, (std::vector<std::string>{"w1", "r1", "w2", "r2"}));
  EXPECT_EQ(gate.durable(), 2u);
}

TEST(durable_gate, a_failed_commit_fails_every_waiter_and_stays_failed) {
  durable_gate gate;
  auto s1 = gate.advance();
  std::vector<errc> seen;
  gate.after_durable([&](const error* e) { seen.push_back(e ? e->code : errc::internal); });
  gate.advance();
  gate.after_durable([&](const error* e) { seen.push_back(e ? e->code : errc::internal); });
  auto boom = error{errc::storage_error, "disk full"};
  gate.committed(s1, &boom);
  EXPECT_EQ(seen, (std::vector<errc>{errc::storage_error, errc::storage_error}));
  EXPECT_TRUE(gate.failed());
  bool ran = false;
  gate.after_durable([&](const error* e) {
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, errc::storage_error);
    ran = true;
  });
  EXPECT_TRUE(ran);
}

TEST(durable_gate, a_commit_callback_acknowledges_only_while_no_commit_failed) {
  durable_gate gate;
  auto& failed = *gate.commit_failed();
  std::vector<std::string> seen;
  auto record = [&](const error* e) { seen.push_back(e ? e->message : "ok"); };
  acknowledge_commit(failed, {}, record);
  // A failure without a waiter still counts.
  acknowledge_commit(failed, fail(errc::storage_error, "disk full"), {});
  acknowledge_commit(failed, {}, record);
  acknowledge_commit(failed, fail(errc::storage_error, "still full"), record);
  EXPECT_EQ(seen, (std::vector<std::string>{"ok", durable_gate::stopped_error().message,
                                             "still full"}));
}

} // namespace
} // namespace shoal
