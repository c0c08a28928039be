// The shard host in real shard actors, driven without threads of their own
// (CAF's test coordinator) against a committer whose writes the test holds
// back or fails.

#include "actors/shard/shard_host.hpp"

#include <optional>
#include <string>
#include <vector>

#include <caf/send.hpp>
#include <gtest/gtest.h>

#include "actors/idempotency/idem_shard.hpp"
#include "actors/lease/lease_shard.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/controlled_engine.hpp"
#include "tests/support/manual_clock.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

class shard_host_test : public testing::Test {
protected:
  explicit shard_host_test(int fail_at = 0) : store_(fail_at) {
  }

  ~shard_host_test() override {
    store_.release();
    committer_.stop();
  }

  shard_env env() {
    return shard_env{&store_, &committer_, &clock_, &registry_, 1h};
  }

  // A `reply_to` that records its answer (on the shard's thread).
  template <class T>
  reply_to<T> recorder(std::optional<result<T>>& out) {
    return reply_to<T>{[&out](result<T> r) { out.emplace(std::move(r)); }, false};
  }

  test::controlled_engine store_;
  storage::committer committer_{store_, storage::sync_mode::none};
  test::manual_clock clock_;
  metrics::registry registry_;
  test::actor_fixture actors_;
};

TEST_F(shard_host_test, a_command_is_answered_only_once_its_records_are_durable) {
  auto shard = actors_.keep(
    spawn_idem_shard(actors_.system(), idem::idempotency_table{0, idem::idem_config{}}, env()));
  actors_.run();
  store_.hold();
  std::optional<result<idem::begin_result>> begun;
  caf::anon_send(shard, begin_atom_v, idem::begin_cmd{"pay-1", 30s},
                 recorder<idem::begin_result>(begun));
  actors_.run();
  // Applied, its record handed to the committer, whose write waits.
  EXPECT_FALSE(begun);
  // A read of the key waits behind the pending write too.
  std::optional<result<idem::record>> read;
  caf::anon_send(shard, get_atom_v, std::string{"pay-1"}, recorder<idem::record>(read));
  actors_.run();
  EXPECT_FALSE(read);
  store_.release();
  ASSERT_TRUE(actors_.run_until([&] { return begun && read; }));
  ASSERT_TRUE(*begun);
  EXPECT_TRUE((*begun)->fresh);
  EXPECT_EQ((*begun)->rec.owner_token.size(), 32u); // drawn by the shell
  ASSERT_TRUE(*read);
  EXPECT_EQ((*read)->owner_token, (*begun)->rec.owner_token);
  EXPECT_TRUE(store_.get(storage::column::idempotency,
                         idem::idempotency_table::record_key(0, "pay-1"))
                ->has_value());
}

class failing_shard_host_test : public shard_host_test {
protected:
  failing_shard_host_test() : shard_host_test(1) {
  }
};

TEST_F(failing_shard_host_test, a_failed_commit_stops_the_shard) {
  auto shard = actors_.keep(
    spawn_idem_shard(actors_.system(), idem::idempotency_table{0, idem::idem_config{}}, env()));
  std::optional<result<idem::begin_result>> first;
  caf::anon_send(shard, begin_atom_v, idem::begin_cmd{"a", 30s},
                 recorder<idem::begin_result>(first));
  ASSERT_TRUE(actors_.run_until([&] { return first.has_value(); }));
  ASSERT_FALSE(*first);
  EXPECT_EQ(first->code(), errc::storage_error);
  // Memory is ahead of the disk now: every later command is refused at
  // once, without reaching storage.
  std::optional<result<idem::begin_result>> second;
  caf::anon_send(shard, begin_atom_v, idem::begin_cmd{"b", 30s},
                 recorder<idem::begin_result>(second));
  actors_.run();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->code(), errc::storage_error);
  EXPECT_EQ(store_.writes(), 1);
  EXPECT_EQ(registry_.add_counter("shoal_idempotency_commit_failures_total", "").value(), 1);
}

TEST_F(shard_host_test, events_are_published_before_the_command_is_answered) {
  std::vector<std::string> seen;
  lease_shard_env lenv;
  lenv.shard = env();
  lenv.on_end = [&seen](uint64_t id, bool expired) {
    seen.push_back("end " + std::to_string(id) + (expired ? " expired" : " revoked"));
  };
  auto shard = actors_.keep(
    spawn_lease_shard(actors_.system(), lease::lease_table{0, lease::lease_config{}}, lenv));
  std::optional<result<lease::lease_info>> granted;
  caf::anon_send(shard, grant_atom_v, duration{10s}, recorder<lease::lease_info>(granted));
  ASSERT_TRUE(actors_.run_until([&] { return granted.has_value(); }));
  ASSERT_TRUE(*granted);
  auto id = (*granted)->id;
  caf::anon_send(shard, revoke_atom_v, id,
                 reply_to<lease::lease_info>{[&seen](result<lease::lease_info> r) {
                                               seen.push_back(r ? "revoked" : "error");
                                             },
                                             false});
  ASSERT_TRUE(actors_.run_until([&] { return seen.size() == 2; }));
  EXPECT_EQ(seen, (std::vector<std::string>{"end " + std::to_string(id) + " revoked",
                                            "revoked"}));
}

} // namespace
} // namespace shoal
