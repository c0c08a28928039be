#include "actors/commit.hpp"

#include <future>
#include <mutex>
#include <optional>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

#include "tests/support/controlled_engine.hpp"

namespace shoal {
namespace {

storage::write_batch one_put(const std::string& key) {
  storage::write_batch b;
  b.put(storage::column::kv, key, "v");
  return b;
}

/// One shard's side of committing: a scoped actor stands in for the shard
/// and receives its commit reports; write number `fail_at` fails.
struct commit_rig {
  explicit commit_rig(int fail_at) : store{fail_at} {
  }

  caf::actor handle() {
    return caf::actor_cast<caf::actor>(shard);
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor shard{sys};
  test::controlled_engine store;
  storage::committer committer{store, storage::sync_mode::always};
  durable_gate gate;
};

TEST(commit_async, acknowledges_from_the_commit_thread_and_never_after_a_failure) {
  commit_rig rig{2};

  std::mutex mtx;
  std::vector<std::string> acks;
  std::vector<std::thread::id> threads;
  auto ack = [&](const error* e) {
    std::lock_guard guard{mtx};
    acks.push_back(e == nullptr ? "ok" : e->message);
    threads.push_back(std::this_thread::get_id());
  };
  for (int i = 1; i <= 3; ++i) {
    commit_async(rig.gate, rig.committer, one_put("k" + std::to_string(i)),
                 rig.handle(), ack);
  }
  rig.committer.stop();

  // The second write failed; the third was written, but the shard's memory
  // is ahead of its disk since the second: it is not acknowledged either.
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0], "ok");
  EXPECT_EQ(acks[1], "write failed (test)");
  EXPECT_EQ(acks[2], durable_gate::stopped_error().message);
  for (auto id : threads) {
    EXPECT_NE(id, std::this_thread::get_id());
  }
  EXPECT_TRUE(rig.store.get(storage::column::kv, "k3").value().has_value());

  // The shard still hears of every commit, in order, with its outcome.
  std::vector<std::pair<uint64_t, uint8_t>> reports;
  for (int i = 0; i < 3; ++i) {
    rig.shard->receive([&](commit_atom, uint64_t seq, uint8_t code, const std::string&) {
      reports.emplace_back(seq, code);
    });
  }
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0], (std::pair<uint64_t, uint8_t>{1, 0}));
  EXPECT_EQ(reports[1].first, 2u);
  EXPECT_NE(reports[1].second, 0);
  EXPECT_EQ(reports[2], (std::pair<uint64_t, uint8_t>{3, 0}));
  EXPECT_EQ(rig.gate.applied(), 3u);
}

TEST(commit_async, a_failed_batch_without_an_answer_stops_later_answers_too) {
  commit_rig rig{1};

  // A change nobody waits for (a sweep, say) fails...
  storage::write_batch swept;
  swept.erase(storage::column::kv, "swept");
  commit_async(rig.gate, rig.committer, std::move(swept), rig.handle(), {});
  // ...so the next write of the shard is not acknowledged from the commit
  // thread, although its own batch is written.
  std::promise<std::string> answered;
  commit_async(rig.gate, rig.committer, one_put("k"), rig.handle(),
               [&](const error* e) { answered.set_value(e ? e->message : "ok"); });
  rig.committer.stop();
  EXPECT_EQ(answered.get_future().get(), durable_gate::stopped_error().message);
  EXPECT_TRUE(rig.store.get(storage::column::kv, "k").value().has_value());
}

} // namespace
} // namespace shoal
