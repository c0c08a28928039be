// The aggregate shard's state machine with an injected clock: buckets and
// windows, retention and sweeps, dedup atomic with the merge, MarkSeen,
// definitions and restart from the written records.

#include "runtime/aggregate/aggregate_table.hpp"

#include <map>

#include <gtest/gtest.h>

#include "tests/support/manual_clock.hpp"
#include "tests/support/machine_checks.hpp"
#include "tests/support/record_store.hpp"

namespace shoal::agg {
namespace {

using namespace std::chrono_literals;

// The context of a command applied at `t`.
apply_ctx applied_at(time_point t) {
  return apply_ctx{t, 0, 2};
}

class aggregate_table_test : public testing::Test {
protected:
  // An hour-aligned start, so bucket arithmetic reads plainly.
  test::manual_clock clock_{from_unix_nanos(1'700'002'800'000'000'000)};
  aggregate_table table_{2};
  std::map<std::string, std::string> store_;
  effects last_;

  void SetUp() override {
    ASSERT_TRUE(table_.define(views()));
    ASSERT_TRUE(table_.define(definition{.name = "visitors", .k = kind::hll}));
  }

  static definition views() {
    return definition{.name = "views", .k = kind::sum, .window = 1h, .retention = 2h,
                      .dedup_retention = 10min};
  }

  result<merge_result> merge(const std::string& entity, int64_t n,
                             std::string event_id = {},
                             std::optional<time_point> at = std::nullopt) {
    merge_cmd cmd;
    cmd.name = "views";
    cmd.entity = entity;
    cmd.delta = int64_t{n};
    cmd.event_id = std::move(event_id);
    cmd.event_time = at;
    effects fx;
    auto r = table_.apply(cmd, applied_at(clock_.now()), fx);
    test::apply_writes(store_, fx.records);
    last_ = fx;
    return r;
  }

  int64_t sum_now(const std::string& entity) {
    auto c = table_.get("views", entity, std::nullopt, clock_.now());
    EXPECT_TRUE(c);
    return std::get<int64_t>(c->v);
  }

  int64_t current_bucket() const {
    return aggregate_table::bucket_of(views(), clock_.now());
  }
};

TEST_F(aggregate_table_test, merges_land_in_the_bucket_of_their_event_time) {
  ASSERT_TRUE(merge("home", 3));
  ASSERT_TRUE(merge("home", 4));
  EXPECT_EQ(sum_now("home"), 7);
  auto earlier = merge("home", 10, {}, clock_.now() - 1h);
  ASSERT_TRUE(earlier);
  EXPECT_EQ(earlier->bucket, current_bucket() - 1);
  EXPECT_EQ(sum_now("home"), 7);
  auto prev = table_.get("views", "home", current_bucket() - 1, clock_.now());
  EXPECT_TRUE(prev->found);
  EXPECT_EQ(std::get<int64_t>(prev->v), 10);
  // An unknown entity reads as the identity, not found.
  auto none = table_.get("views", "about", std::nullopt, clock_.now());
  EXPECT_FALSE(none->found);
  EXPECT_EQ(std::get<int64_t>(none->v), 0);
  // Buckets floor towards the past, also before the epoch.
  EXPECT_EQ(aggregate_table::bucket_of(views(), from_unix_nanos(-1)), -1);
  EXPECT_EQ(aggregate_table::bucket_of(views(), from_unix_nanos(0)), 0);
}

TEST_F(aggregate_table_test, windows_merge_ranges_and_the_last_n_buckets) {
  auto b = current_bucket();
  for (int h = 0; h < 5; ++h) {
    merge_cmd cmd{"views", "home", b - h, std::nullopt, int64_t{h + 1}};
    effects fx;
    auto r = table_.apply(cmd, applied_at(clock_.now()), fx);
    // Bucket b-3 ended 2h ago: its retention of 2h is over.
    EXPECT_EQ(static_cast<bool>(r), h <= 2) << h;
  }
  // Buckets b-2 .. b hold 3, 2, 1.
  EXPECT_EQ(std::get<int64_t>(*table_.window("views", "home", b - 2, b + 1, clock_.now())),
            1 + 2 + 3);
  EXPECT_EQ(std::get<int64_t>(*table_.last("views", "home", 2, clock_.now())), 1 + 2);
  EXPECT_EQ(std::get<int64_t>(*table_.window("views", "home", b, b, clock_.now())), 0);
  EXPECT_FALSE(table_.window("views", "home", b, b - 1, clock_.now()));
  EXPECT_FALSE(table_.window("views", "home", 0, 1'000'000, clock_.now()));
  EXPECT_FALSE(table_.last("views", "home", 0, clock_.now()));
}

TEST_F(aggregate_table_test, buckets_expire_after_their_retention_and_are_swept) {
  ASSERT_TRUE(merge("home", 5));
  auto b = current_bucket();
  // The bucket ends in 1h; it lives 2h more.
  clock_.advance(2h + 59min);
  EXPECT_TRUE(table_.get("views", "home", b, clock_.now())->found);
  clock_.advance(1min);
  EXPECT_FALSE(table_.get("views", "home", b, clock_.now())->found);
  // A merge into a bucket past its retention is refused.
  EXPECT_EQ(merge("home", 1, {}, clock_.now() - 4h).code(), errc::invalid_argument);
  effects fx;
  EXPECT_EQ(*table_.apply(sweep_cmd{}, applied_at(clock_.now()), fx), 1u);
  test::apply_writes(store_, fx.records);
  EXPECT_EQ(table_.cells(), 0u);
  EXPECT_TRUE(store_.empty());
}

TEST_F(aggregate_table_test, an_event_id_counts_once_and_its_mark_is_written_with_the_merge) {
  auto first = merge("home", 1, "evt-1");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->duplicate);
  // The mark and the cell: one batch.
  EXPECT_EQ(last_.records.size(), 2u);
  auto again = merge("home", 1, "evt-1");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_TRUE(last_.records.empty());
  EXPECT_EQ(sum_now("home"), 1);
  // Another aggregate's event ids are its own.
  merge_cmd other{"visitors", "home", std::nullopt, std::nullopt,
                  hll{}, 0s, "evt-1"};
  effects fx;
  EXPECT_FALSE(table_.apply(other, applied_at(clock_.now()), fx)->duplicate);
  // So are another entity's: one event may count for a page and a user.
  EXPECT_FALSE(merge("blog", 1, "evt-1")->duplicate);
  // Past the dedup retention the id counts again.
  clock_.advance(10min);
  EXPECT_FALSE(merge("home", 1, "evt-1")->duplicate);
  EXPECT_EQ(sum_now("home"), 2);
}

TEST_F(aggregate_table_test, a_failed_merge_writes_neither_mark_nor_cell) {
  ASSERT_TRUE(merge("home", INT64_MAX));
  EXPECT_EQ(merge("home", 1, "evt-9").code(), errc::invalid_argument);
  EXPECT_TRUE(last_.records.empty());
  EXPECT_EQ(sum_now("home"), INT64_MAX);
  // The id was not consumed: a later valid merge with it counts.
  EXPECT_FALSE(merge("home", -1, "evt-9")->duplicate);
  merge_cmd wrong{"views", "home", std::nullopt, std::nullopt, uint64_t{1}};
  effects fx;
  EXPECT_EQ(table_.apply(wrong, applied_at(clock_.now()), fx).code(), errc::invalid_argument);
  EXPECT_TRUE(fx.records.empty());
  wrong.name = "nope";
  EXPECT_EQ(table_.apply(wrong, applied_at(clock_.now()), fx).code(), errc::not_found);
  wrong.name = "views";
  wrong.entity = "";
  EXPECT_EQ(table_.apply(wrong, applied_at(clock_.now()), fx).code(), errc::invalid_key);
}

TEST_F(aggregate_table_test, mark_seen_is_true_once_per_retention) {
  effects fx;
  EXPECT_EQ(*table_.apply(seen_cmd{"payments", "tx-1", 1h}, applied_at(clock_.now()), fx), true);
  EXPECT_EQ(fx.records.size(), 1u);
  EXPECT_EQ(*table_.apply(seen_cmd{"payments", "tx-1", 1h}, applied_at(clock_.now()), fx), false);
  EXPECT_EQ(*table_.apply(seen_cmd{"refunds", "tx-1", 1h}, applied_at(clock_.now()), fx), true);
  clock_.advance(1h);
  EXPECT_EQ(*table_.apply(seen_cmd{"payments", "tx-1", 1h}, applied_at(clock_.now()), fx), true);
  EXPECT_FALSE(table_.apply(seen_cmd{"a..b", "tx", 1h}, applied_at(clock_.now()), fx));
  EXPECT_FALSE(table_.apply(seen_cmd{"payments", "", 1h}, applied_at(clock_.now()), fx));
  EXPECT_FALSE(table_.apply(seen_cmd{"payments", "tx", 0s}, applied_at(clock_.now()), fx));
  effects swept;
  clock_.advance(1h);
  EXPECT_EQ(*table_.apply(sweep_cmd{}, applied_at(clock_.now()), swept), 2u);
  EXPECT_EQ(table_.marks(), 0u);
}

TEST_F(aggregate_table_test, a_ttl_sets_or_extends_a_cells_expiry) {
  ASSERT_TRUE(table_.define(definition{.name = "totals", .k = kind::count}));
  merge_cmd cmd{"totals", "all", std::nullopt, std::nullopt, uint64_t{1}, 10min};
  effects fx;
  ASSERT_TRUE(table_.apply(cmd, applied_at(clock_.now()), fx));
  EXPECT_EQ(table_.get("totals", "all", std::nullopt, clock_.now())->expires_at,
            clock_.now() + 10min);
  clock_.advance(5min);
  cmd.ttl = 1min; // shorter: no change
  ASSERT_TRUE(table_.apply(cmd, applied_at(clock_.now()), fx));
  EXPECT_EQ(table_.get("totals", "all", std::nullopt, clock_.now())->expires_at,
            clock_.now() + 5min);
  cmd.ttl = 0s; // none: keeps it
  ASSERT_TRUE(table_.apply(cmd, applied_at(clock_.now()), fx));
  clock_.advance(5min);
  EXPECT_FALSE(table_.get("totals", "all", std::nullopt, clock_.now())->found);
  // After expiry a merge starts from the identity.
  ASSERT_TRUE(table_.apply(cmd, applied_at(clock_.now()), fx));
  EXPECT_EQ(std::get<uint64_t>(table_.get("totals", "all", std::nullopt, clock_.now())->v), 1u);
  cmd.bucket = 3;
  EXPECT_EQ(table_.apply(cmd, applied_at(clock_.now()), fx).code(), errc::invalid_argument);
}

TEST_F(aggregate_table_test, restart_restores_cells_and_marks_and_sets_orphans_aside) {
  ASSERT_TRUE(merge("home", 2, "e1"));
  ASSERT_TRUE(merge("blog", 5, "e2", clock_.now() - 1h));
  merge_cmd v{"visitors", "home", std::nullopt, std::nullopt, hll{}};
  std::get<hll>(v.delta).add("alice");
  effects fx;
  ASSERT_TRUE(table_.apply(v, applied_at(clock_.now()), fx));
  test::apply_writes(store_, fx.records);

  aggregate_table again{2};
  ASSERT_TRUE(again.define(views())); // "visitors" was dropped meanwhile
  for (const auto& [k, val] : store_) {
    ASSERT_TRUE(again.restore(k, val));
  }
  EXPECT_EQ(std::get<int64_t>(again.get("views", "home", std::nullopt, clock_.now())->v), 2);
  EXPECT_EQ(std::get<int64_t>(*again.last("views", "blog", 2, clock_.now())), 5);
  EXPECT_EQ(again.take_orphans().size(), 1u);
  // Dedup marks survive: the replay is a duplicate.
  merge_cmd replay{"views", "home", std::nullopt, std::nullopt, int64_t{2}, 0s, "e1"};
  effects rfx;
  EXPECT_TRUE(again.apply(replay, applied_at(clock_.now()), rfx)->duplicate);
  // Corrupt records are refused.
  EXPECT_FALSE(again.restore(aggregate_table::prefix(2) + "x", "\x01\x00"));
  EXPECT_FALSE(again.restore(aggregate_table::prefix(3) + "c", ""));
  EXPECT_FALSE(again.restore(store_.begin()->first, "junk"));
}

TEST_F(aggregate_table_test, definitions_are_fixed_while_values_exist_and_drop_deletes) {
  ASSERT_TRUE(merge("home", 1, "e1"));
  auto changed = views();
  changed.k = kind::max;
  EXPECT_EQ(table_.define(changed).code(), errc::invalid_argument);
  auto longer = views();
  longer.retention = 24h; // retention may change
  EXPECT_TRUE(table_.define(longer));
  EXPECT_FALSE(table_.define(definition{.name = "a..b"}));
  EXPECT_FALSE(table_.define(definition{.name = "neg", .window = -1s}));
  EXPECT_FALSE(table_.define(definition{.name = "t", .k = kind::topk, .params = {.k = 0}}));
  effects fx;
  (void) table_.apply(drop_cmd{"views"}, applied_at(clock_.now()), fx);
  test::apply_writes(store_, fx.records);
  EXPECT_EQ(table_.cells(), 0u);
  // Its event ids go with it; the other aggregate's records stay.
  EXPECT_EQ(table_.marks(), 0u);
  EXPECT_TRUE(store_.empty());
  EXPECT_EQ(table_.find("views"), nullptr);
  EXPECT_EQ(table_.get("views", "home", std::nullopt, clock_.now()).code(), errc::not_found);
  EXPECT_TRUE(table_.define(changed)); // a new kind once the values are gone
}

TEST_F(aggregate_table_test, read_reports_the_buckets_covered_and_the_earliest_expiry) {
  auto b = current_bucket();
  ASSERT_TRUE(merge("home", 4, {}, clock_.now() - 1h));
  ASSERT_TRUE(merge("home", 1));
  read_query q{"views", "home", read_query::mode::last, 0, 0, 0, 3};
  auto r = table_.read(q, clock_.now());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->found);
  EXPECT_EQ(r->entity, "home");
  EXPECT_EQ(r->from, b - 2);
  EXPECT_EQ(r->to, b + 1);
  EXPECT_EQ(std::get<int64_t>(r->v), 5);
  // Bucket b-1 ends at the current bucket's start: it expires first.
  EXPECT_EQ(r->expires_at, from_unix_nanos(b * 3'600'000'000'000) + 2h);
  q.how = read_query::mode::bucket;
  q.bucket = b - 5;
  r = table_.read(q, clock_.now());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->found);
  EXPECT_EQ(std::get<int64_t>(r->v), 0);
  q.how = read_query::mode::current;
  EXPECT_EQ(std::get<int64_t>(table_.read(q, clock_.now())->v), 1);
  q.how = read_query::mode::bucket;
  q.bucket = INT64_MAX;
  EXPECT_EQ(table_.read(q, clock_.now()).code(), errc::invalid_argument);
  q.how = read_query::mode::last;
  q.n = 100'001;
  EXPECT_EQ(table_.read(q, clock_.now()).code(), errc::invalid_argument);
  merge_cmd far{"views", "home", INT64_MAX / 2, std::nullopt, int64_t{1}};
  effects fx;
  EXPECT_EQ(table_.apply(far, applied_at(clock_.now()), fx).code(), errc::invalid_argument);
}

TEST(aggregate_flush, a_batch_writes_each_cell_once_with_its_last_value) {
  auto now = from_unix_nanos(1'700'000'000'000'000'000);
  auto run = [&](bool defer, std::map<std::string, std::string>& store) {
    aggregate_table t{1};
    EXPECT_TRUE(t.define(definition{.name = "s", .k = kind::sum}));
    effects fx;
    merge_batch_cmd batch;
    for (int i = 0; i < 20; ++i) {
      merge_cmd cmd{"s", "e" + std::to_string(i % 3), std::nullopt, std::nullopt,
                    int64_t{i}, std::chrono::seconds{0}, "id" + std::to_string(i % 5)};
      if (defer) {
        batch.merges.push_back(cmd);
      } else {
        EXPECT_TRUE(t.apply(cmd, applied_at(now), fx));
      }
    }
    if (defer) {
      auto out = t.apply(batch, applied_at(now), fx);
      EXPECT_TRUE(out && out->size() == 20u);
    }
    test::apply_writes(store, fx.records);
    return fx.records.size();
  };
  std::map<std::string, std::string> each;
  std::map<std::string, std::string> deferred;
  // (entity, id) repeats from i = 15: 15 merges, each writing its cell and
  // its mark; deferred, the 3 cells once each and the 15 marks.
  EXPECT_EQ(run(false, each), 15u + 15u);
  EXPECT_EQ(run(true, deferred), 3u + 15u);
  EXPECT_EQ(each, deferred);
}

TEST(aggregate_definition, round_trips_and_refuses_junk) {
  definition def{.name = "top.pages", .k = kind::topk, .params = {.k = 25},
                 .window = std::chrono::hours{1}, .retention = std::chrono::hours{48},
                 .dedup_retention = std::chrono::minutes{30}};
  auto back = decode_definition(encode_definition(def));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, def.name);
  EXPECT_EQ(back->k, def.k);
  EXPECT_TRUE(back->params == def.params);
  EXPECT_EQ(back->window, def.window);
  EXPECT_EQ(back->retention, def.retention);
  EXPECT_EQ(back->dedup_retention, def.dedup_retention);
  EXPECT_TRUE(same_shape(def, *back));
  auto bytes = encode_definition(def);
  EXPECT_FALSE(decode_definition(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(decode_definition(bytes + "x"));
  EXPECT_FALSE(decode_definition(""));
  def.params.k = 0; // out of range
  EXPECT_FALSE(decode_definition(encode_definition(def)));
}

} // namespace
} // namespace shoal::agg

namespace shoal::agg {
namespace {

using namespace std::chrono_literals;

std::vector<command> sample_agg_commands() {
  merge_cmd plain{"s", "e1", std::nullopt, std::nullopt, int64_t{5}, 0s, ""};
  merge_cmd timed{"s", "e2", int64_t{3}, from_unix_nanos(1'700'000'000'000'000'000),
                  int64_t{-7}, 1h, "ev-1"};
  return {plain,
          timed,
          merge_batch_cmd{{plain, timed, plain}},
          seen_cmd{"pay", "tx-1", 1h},
          seen_cmd{"pay", "tx-1", 1h},
          drop_cmd{"other"},
          sweep_cmd{}};
}

TEST(agg_commands, every_command_round_trips_and_every_prefix_is_refused) {
  test::expect_exact_encodings(sample_agg_commands());
}

// The same commands with the same contexts on two fresh machines give
// byte-identical records, the same events and the same answers.
TEST(agg_commands, applying_the_same_sequence_twice_is_deterministic) {
  test::expect_deterministic(
    [] {
      aggregate_table t{4};
      EXPECT_TRUE(t.define(definition{.name = "s", .k = kind::sum}));
      return t;
    }, sample_agg_commands(), 4, 2s,
    [](codec::writer& w, const auto& e) {
      w.bytes(e.merge.entity);
      w.i64(*e.merge.bucket);
      w.i64(to_unix_nanos(e.at));
    },
    100u);
}

} // namespace
} // namespace shoal::agg
