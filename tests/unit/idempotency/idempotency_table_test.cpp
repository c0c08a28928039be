#include "runtime/idempotency/idempotency_table.hpp"

#include <map>

#include <gtest/gtest.h>

#include "runtime/sha256.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/machine_checks.hpp"
#include "tests/support/record_store.hpp"

namespace shoal::idem {
namespace {

using namespace std::chrono_literals;

class idem_table_test : public testing::Test {
protected:
  idempotency_table table_{2, idem_config{}};
  test::manual_clock clock_;
  std::map<std::string, std::string> store_;
  effects last_;
  int tokens_ = 0;
  uint64_t index_ = 0;

  // The context of the next command: the clock's time, the next index.
  apply_ctx ctx() {
    return apply_ctx{clock_.now(), ++index_, 2};
  }

  void persist(const effects& fx) {
    test::apply_writes(store_, fx.records);
    last_ = fx;
  }

  result<begin_result> begin(const std::string& key, duration ttl = 30s,
                             const std::string& fp = {}) {
    effects fx;
    auto token = "token-" + std::to_string(++tokens_);
    auto r = table_.apply(begin_cmd{key, ttl, fp, token}, ctx(), fx);
    persist(fx);
    return r;
  }

  result<record> complete(const std::string& key, const std::string& token,
                          const std::string& result, duration keep = 0s) {
    effects fx;
    auto r = table_.apply(complete_cmd{key, token, result, keep}, ctx(), fx);
    persist(fx);
    return r;
  }

  result<record> failed(const std::string& key, const std::string& token,
                        const std::string& code = "card_declined") {
    effects fx;
    auto r = table_.apply(fail_cmd{key, token, code, "declined", 0s},
                          ctx(), fx);
    persist(fx);
    return r;
  }

  result<record> touch(const std::string& key, const std::string& token,
                       duration ttl = 30s) {
    effects fx;
    auto r = table_.apply(touch_cmd{key, token, ttl}, ctx(), fx);
    persist(fx);
    return r;
  }
};

TEST_F(idem_table_test, first_begin_is_fresh_with_a_lease) {
  auto r = begin("pay-1");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->fresh);
  EXPECT_EQ(r->rec.st, state::in_progress);
  EXPECT_EQ(r->rec.owner_token, "token-1");
  EXPECT_EQ(r->rec.expires_at, clock_.now() + 30s);
  EXPECT_EQ(last_.records.size(), 1u);
  EXPECT_TRUE(table_.get("pay-1", clock_.now()));
}

TEST_F(idem_table_test, begin_during_a_live_lease_conflicts_without_effects) {
  ASSERT_TRUE(begin("k"));
  clock_.advance(29s);
  auto again = begin("k");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), errc::conflict);
  EXPECT_TRUE(last_.records.empty());
}

TEST_F(idem_table_test, completed_key_returns_the_stored_result_not_fresh) {
  auto first = begin("k");
  auto done = complete("k", first->rec.owner_token, "receipt-42");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->st, state::completed);
  EXPECT_EQ(done->result_hash, sha256::hex("receipt-42"));
  EXPECT_EQ(done->expires_at, clock_.now() + 24h);
  clock_.advance(1h);
  auto repeat = begin("k");
  ASSERT_TRUE(repeat);
  EXPECT_FALSE(repeat->fresh);
  EXPECT_EQ(repeat->rec.result, "receipt-42");
  EXPECT_TRUE(last_.records.empty());
}

TEST_F(idem_table_test, failed_key_returns_the_failure_not_fresh) {
  auto first = begin("k");
  auto f = failed("k", first->rec.owner_token);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st, state::failed);
  auto repeat = begin("k");
  ASSERT_TRUE(repeat);
  EXPECT_FALSE(repeat->fresh);
  EXPECT_EQ(repeat->rec.error_code, "card_declined");
}

TEST_F(idem_table_test, expired_lease_is_taken_over_and_the_old_token_is_void) {
  auto first = begin("k", 10s);
  auto old_token = first->rec.owner_token;
  clock_.advance(10s);
  // Before a takeover, the old owner learns its lease ran out.
  EXPECT_EQ(touch("k", old_token).code(), errc::lease_expired);
  EXPECT_EQ(complete("k", old_token, "late").code(), errc::lease_expired);
  auto second = begin("k", 10s);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->fresh);
  EXPECT_NE(second->rec.owner_token, old_token);
  // After it, the old token is simply not the owner.
  EXPECT_EQ(complete("k", old_token, "late").code(), errc::not_owner);
  EXPECT_TRUE(complete("k", second->rec.owner_token, "ok"));
}

TEST_F(idem_table_test, touch_extends_only_a_live_lease_of_its_owner) {
  auto first = begin("k", 10s);
  auto token = first->rec.owner_token;
  clock_.advance(8s);
  auto t = touch("k", token, 10s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->expires_at, clock_.now() + 10s);
  clock_.advance(8s); // past the first deadline, within the extended one
  EXPECT_FALSE(begin("k"));
  EXPECT_EQ(touch("k", "someone-else").code(), errc::not_owner);
  EXPECT_EQ(touch("nope", token).code(), errc::not_found);
  EXPECT_EQ(touch("k", token, 0s).code(), errc::invalid_ttl);
  EXPECT_EQ(touch("k", token, 48h).code(), errc::invalid_ttl);
  ASSERT_TRUE(complete("k", token, "r"));
  EXPECT_EQ(touch("k", token).code(), errc::conflict);
}

TEST_F(idem_table_test, complete_and_fail_need_the_owner_and_happen_once) {
  auto first = begin("k");
  auto token = first->rec.owner_token;
  EXPECT_EQ(complete("k", "wrong", "r").code(), errc::not_owner);
  EXPECT_EQ(failed("k", "wrong").code(), errc::not_owner);
  ASSERT_TRUE(complete("k", token, "r"));
  EXPECT_EQ(complete("k", token, "again").code(), errc::conflict);
  EXPECT_EQ(failed("k", token).code(), errc::conflict);
  EXPECT_EQ(table_.get("k", clock_.now())->result, "r");
}

TEST_F(idem_table_test, input_limits) {
  EXPECT_EQ(begin("").code(), errc::invalid_key);
  EXPECT_EQ(begin(std::string(257, 'k')).code(), errc::invalid_key);
  EXPECT_EQ(begin("has space").code(), errc::invalid_key);
  EXPECT_EQ(begin("k", 0s).code(), errc::invalid_ttl);
  EXPECT_EQ(begin("k", -1s).code(), errc::invalid_ttl);
  EXPECT_EQ(begin("k", 25h).code(), errc::invalid_ttl);
  EXPECT_EQ(begin("k", 1s, std::string(300, 'f')).code(), errc::too_large);
  auto first = begin("k");
  auto token = first->rec.owner_token;
  EXPECT_EQ(complete("k", token, std::string(1024 * 1024 + 1, 'r')).code(),
            errc::too_large);
  EXPECT_EQ(complete("k", token, "r", -1s).code(), errc::invalid_ttl);
  EXPECT_EQ(failed("k", token, "").code(), errc::invalid_argument);
  EXPECT_EQ(failed("k", token, std::string(65, 'c')).code(),
            errc::invalid_argument);
  effects fx;
  EXPECT_EQ(table_
              .apply(fail_cmd{"k", token, "c", std::string(513, 'm'), 0s},
                     ctx(), fx)
              .code(),
            errc::too_large);
  EXPECT_TRUE(fx.records.empty());
  EXPECT_EQ(table_.get("k", clock_.now())->st, state::in_progress);
}

TEST_F(idem_table_test, fingerprint_mismatch_on_a_live_record) {
  auto first = begin("k", 10s, "fp-a");
  EXPECT_EQ(begin("k", 10s, "fp-b").code(), errc::fingerprint_mismatch);
  ASSERT_TRUE(complete("k", first->rec.owner_token, "r"));
  EXPECT_EQ(begin("k", 10s, "fp-b").code(), errc::fingerprint_mismatch);
  auto same = begin("k", 10s, "fp-a");
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->fresh);
  // No fingerprint given: no comparison.
  EXPECT_TRUE(begin("k", 10s));
}

TEST_F(idem_table_test, retention_is_per_call_and_records_vanish_after_it) {
  auto first = begin("k");
  ASSERT_TRUE(complete("k", first->rec.owner_token, "r", 1h));
  clock_.advance(59min);
  EXPECT_TRUE(table_.get("k", clock_.now()));
  clock_.advance(1min);
  EXPECT_EQ(table_.get("k", clock_.now()).code(), errc::not_found);
  // A dead record is replaced by a fresh begin (a new attempt).
  auto again = begin("k");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->fresh);
}

TEST_F(idem_table_test, sweep_removes_dead_records_deterministically) {
  auto a = begin("a", 5s);
  auto b = begin("b", 50s);
  auto c = begin("c", 5s);
  ASSERT_TRUE(complete("c", c->rec.owner_token, "r", 10s));
  clock_.advance(6s);
  effects fx;
  EXPECT_EQ(*table_.apply(sweep_cmd{}, ctx(), fx), 1u); // a's lease
  persist(fx);
  EXPECT_EQ(table_.size(), 2u);
  clock_.advance(10s);
  effects fx2;
  EXPECT_EQ(*table_.apply(sweep_cmd{}, ctx(), fx2), 1u); // c's retention
  persist(fx2);
  EXPECT_TRUE(table_.get("b", clock_.now()));
  EXPECT_EQ(store_.size(), 1u);
  (void) a;
  (void) b;
}

TEST_F(idem_table_test, erase_removes_live_or_dead_records) {
  ASSERT_TRUE(begin("k"));
  effects fx;
  EXPECT_EQ(*table_.apply(erase_cmd{"k"}, ctx(), fx), true);
  persist(fx);
  EXPECT_EQ(*table_.apply(erase_cmd{"k"}, ctx(), fx), false);
  EXPECT_EQ(table_.get("k", clock_.now()).code(), errc::not_found);
  EXPECT_TRUE(store_.empty());
  EXPECT_TRUE(begin("k")->fresh);
}

TEST_F(idem_table_test, a_superseded_lock_fence_is_refused) {
  effects fx;
  auto first = table_.apply(begin_cmd{"k", 10s, "", "t1", 7}, ctx(), fx);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->rec.fence, 7u);
  // Completing with an older fence: that caller's lock was superseded.
  auto old = table_.apply(complete_cmd{"k", "t1", "r", 0s, 6}, ctx(), fx);
  EXPECT_EQ(old.code(), errc::fenced);
  auto old_fail = table_.apply(fail_cmd{"k", "t1", "c", "m", 0s, 3}, ctx(), fx);
  EXPECT_EQ(old_fail.code(), errc::fenced);
  // The lease expires; a takeover with an older fence is refused too, one
  // with a newer fence (or none) takes over.
  clock_.advance(10s);
  fx = {};
  EXPECT_EQ(table_.apply(begin_cmd{"k", 10s, "", "t2", 5}, ctx(), fx).code(),
            errc::fenced);
  EXPECT_TRUE(fx.records.empty());
  auto second = table_.apply(begin_cmd{"k", 10s, "", "t3", 9}, ctx(), fx);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->fresh);
  // A newer fence than the one seen is accepted and remembered; no fence
  // (0) is not checked.
  auto done = table_.apply(complete_cmd{"k", "t3", "r", 0s, 11}, ctx(), fx);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->fence, 11u);
  ASSERT_TRUE(table_.apply(begin_cmd{"n", 10s, "", "t4", 0}, ctx(), fx));
  EXPECT_TRUE(table_.apply(complete_cmd{"n", "t4", "r", 0s, 0}, ctx(), fx));
}

TEST_F(idem_table_test, restore_keeps_records_owners_and_absolute_deadlines) {
  auto a = begin("a", 30s, "fp");
  auto b = begin("b");
  ASSERT_TRUE(complete("b", b->rec.owner_token, "receipt"));
  idempotency_table restored{2, idem_config{}};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  auto ra = restored.get("a", clock_.now());
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->owner_token, a->rec.owner_token);
  EXPECT_EQ(ra->expires_at, a->rec.expires_at);
  EXPECT_EQ(ra->fingerprint, "fp");
  EXPECT_EQ(restored.get("b", clock_.now())->result_hash, sha256::hex("receipt"));
  EXPECT_EQ(restored.get("b", clock_.now())->result, "receipt");
  clock_.advance(30s);
  EXPECT_EQ(restored.get("a", clock_.now()).code(), errc::not_found);
  EXPECT_FALSE(restored.restore(idempotency_table::record_key(3, "x"), store_.begin()->second));
  EXPECT_FALSE(restored.restore(idempotency_table::record_key(2, "x"), "junk"));
}

} // namespace
} // namespace shoal::idem

namespace shoal::idem {
namespace {

using namespace std::chrono_literals;

std::vector<command> sample_commands() {
  return {begin_cmd{"pay-1", 30s, "fp", "t1", 0},
          begin_cmd{"pay-2", 5s, "", "t2", 7},
          touch_cmd{"pay-1", "t1", 60s},
          complete_cmd{"pay-1", "t1", std::string{"r\0s", 3}, 1h, 0},
          fail_cmd{"pay-2", "t2", "declined", "card", 0s, 8},
          begin_cmd{"pay-2", 5s, "", "t3", 9},
          erase_cmd{"pay-1"},
          sweep_cmd{}};
}

TEST(idem_commands, every_command_round_trips_and_every_prefix_is_refused) {
  test::expect_exact_encodings(sample_commands());
  EXPECT_FALSE(decode_from_string<command>(std::string{"\x00", 1}));
  EXPECT_FALSE(decode_from_string<command>(std::string{"\x07", 1}));
}

// The same commands with the same contexts on two fresh machines give
// byte-identical records, the same events and the same answers.
TEST(idem_commands, applying_the_same_sequence_twice_is_deterministic) {
  test::expect_deterministic(
    [] { return idempotency_table{3, idem_config{}}; }, sample_commands(), 3, 3s,
    [](codec::writer&, const auto&) {}, // no events
    100u);
}

} // namespace
} // namespace shoal::idem
