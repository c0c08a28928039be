#include "runtime/stream/stream_table.hpp"

#include <map>

#include <gtest/gtest.h>

#include "tests/support/manual_clock.hpp"
#include "tests/support/machine_checks.hpp"
#include "tests/support/record_store.hpp"

namespace shoal::stream {
namespace {

using namespace std::chrono_literals;

// The context of a command applied at `t`.
apply_ctx at(time_point t) {
  return apply_ctx{t, 0, 3};
}

class stream_table_test : public testing::Test {
protected:
  stream_table table_{3, stream_config{}};
  test::manual_clock clock_;
  std::map<std::string, std::string> store_;

  void persist(const effects& fx) {
    for (const auto& r : fx.records) {
      if (!r.range_end.empty()) {
        store_.erase(store_.lower_bound(r.key), store_.lower_bound(r.range_end));
      } else if (r.value) {
        store_[r.key] = *r.value;
      } else {
        store_.erase(r.key);
      }
    }
  }

  static event_data ev(std::string type, std::string id = {}) {
    return event_data{std::move(type), "{}", "", std::move(id)};
  }

  result<append_result> append(const std::string& stream,
                               std::vector<event_data> events,
                               expectation want = {}) {
    effects fx;
    auto r = table_.apply(append_cmd{stream, std::move(events), want},
                           at(clock_.now()), fx);
    if (!r) {
      EXPECT_TRUE(fx.records.empty());
    }
    persist(fx);
    return r;
  }

  // The seqs of `stream`'s events in the store, in key order.
  std::vector<uint64_t> stored(const std::string& stream) {
    std::vector<uint64_t> out;
    auto first = stream_table::event_key(stream, 0);
    auto last = stream_table::event_key(stream, UINT64_MAX);
    for (auto it = store_.lower_bound(first);
         it != store_.end() && it->first <= last; ++it) {
      out.push_back(stream_table::seq_of(it->first));
    }
    return out;
  }

  stream_table restored() {
    stream_table t{3, stream_config{}};
    auto pre = stream_table::prefix(3);
    for (const auto& [k, v] : store_) {
      if (k.compare(0, pre.size(), pre) == 0) {
        EXPECT_TRUE(t.restore(k, v));
      }
    }
    return t;
  }
};

TEST_F(stream_table_test, seqs_start_at_one_and_are_contiguous) {
  auto a = append("orders.1", {ev("created"), ev("paid")});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->seqs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(a->last_seq, 2u);
  EXPECT_EQ(a->appended(), 2u);
  auto b = append("orders.1", {ev("shipped")});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->seqs, (std::vector<uint64_t>{3}));
  EXPECT_EQ(stored("orders.1"), (std::vector<uint64_t>{1, 2, 3}));
  auto info = table_.info("orders.1");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->first_seq, 1u);
  EXPECT_EQ(info->last_seq, 3u);
  EXPECT_EQ(info->count(), 3u);
  EXPECT_EQ(info->created, clock_.now());
}

TEST_F(stream_table_test, stored_events_round_trip) {
  effects fx;
  auto r = table_.apply(
    append_cmd{"s",
               {event_data{"t", "pay\0load", "{\"m\":1}", "id-1",
                           payload_format::json}},
               {}},
    at(clock_.now()), fx);
  ASSERT_TRUE(r);
  ASSERT_EQ(fx.events.size(), 1u);
  auto key = stream_table::event_key("s", 1);
  auto it = std::find_if(fx.records.begin(), fx.records.end(),
                         [&](const record& w) { return w.key == key; });
  ASSERT_NE(it, fx.records.end());
  auto back = stream_table::decode_event("s", 1, *it->value);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, "t");
  EXPECT_EQ(back->payload, std::string("pay\0load"));
  EXPECT_EQ(back->metadata, "{\"m\":1}");
  EXPECT_EQ(back->event_id, "id-1");
  EXPECT_EQ(back->format, payload_format::json);
  EXPECT_EQ(back->time, clock_.now());
  EXPECT_FALSE(stream_table::decode_event("s", 1, it->value->substr(1)));
}

TEST_F(stream_table_test, expectations) {
  // no_stream: only while nothing was appended.
  ASSERT_TRUE(append("s", {ev("a")}, {expect::no_stream, 0}));
  auto again = append("s", {ev("b")}, {expect::no_stream, 0});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), errc::seq_mismatch);
  EXPECT_EQ(again.err().current, 1u);
  // exact: the current last seq.
  auto stale = append("s", {ev("b")}, expectation::exactly(0));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.err().current, 1u);
  auto ahead = append("s", {ev("b")}, expectation::exactly(5));
  ASSERT_FALSE(ahead);
  EXPECT_EQ(ahead.code(), errc::seq_mismatch);
  auto exact = append("s", {ev("b"), ev("c")}, expectation::exactly(1));
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->last_seq, 3u);
  // exact 0 on an absent stream is no_stream.
  EXPECT_TRUE(append("t", {ev("a")}, expectation::exactly(0)));
  // any: always.
  EXPECT_TRUE(append("s", {ev("d")}, {}));
  EXPECT_EQ(table_.info("s")->last_seq, 4u);
  // A failed expectation appends nothing.
  EXPECT_EQ(stored("s"), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(stream_table_test, invalid_appends_change_nothing) {
  EXPECT_EQ(append("bad key", {ev("a")}).code(), errc::invalid_key);
  EXPECT_EQ(append("s", {}).code(), errc::invalid_argument);
  EXPECT_EQ(append("s", {ev("")}).code(), errc::invalid_argument);
  EXPECT_EQ(append("s", {ev("a", std::string(200, 'x'))}).code(),
            errc::invalid_argument);
  auto big = ev("a");
  big.payload.assign(stream_config{}.max_event_bytes + 1, 'x');
  EXPECT_EQ(append("s", {ev("ok"), big}).code(), errc::too_large);
  std::vector<event_data> many(stream_config{}.max_batch_events + 1, ev("a"));
  EXPECT_EQ(append("s", many).code(), errc::too_large);
  EXPECT_FALSE(table_.info("s"));
  EXPECT_TRUE(store_.empty());
}

TEST_F(stream_table_test, a_known_event_id_returns_its_first_seq) {
  auto first = append("s", {ev("a", "e1"), ev("b", "e2")});
  ASSERT_TRUE(first);
  // The whole batch again (a retry): same seqs, nothing appended, even with
  // an expectation that no longer holds.
  auto retry = append("s", {ev("a", "e1"), ev("b", "e2")},
                      {expect::no_stream, 0});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->seqs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(retry->appended(), 0u);
  EXPECT_EQ(table_.info("s")->last_seq, 2u);
  // A mixed batch appends only the new ones.
  auto mixed = append("s", {ev("b", "e2"), ev("c", "e3"), ev("d")});
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->seqs, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(mixed->duplicate, (std::vector<uint8_t>{1, 0, 0}));
  // The same id twice in one batch is one event.
  auto twice = append("s", {ev("x", "e9"), ev("x", "e9")});
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->seqs, (std::vector<uint64_t>{5, 5}));
  EXPECT_EQ(stored("s"), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  // Ids are per stream.
  auto other = append("t", {ev("a", "e1")});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->appended(), 1u);
}

TEST_F(stream_table_test, event_ids_are_forgotten_after_the_window) {
  ASSERT_TRUE(append("s", {ev("a", "e1")}));
  clock_.advance(stream_config{}.dedup_window - 1s);
  EXPECT_EQ(append("s", {ev("a", "e1")})->appended(), 0u);
  clock_.advance(1s);
  // Expired but not yet swept: already forgotten.
  EXPECT_EQ(table_.dedup_marks(), 1u);
  auto late = append("s", {ev("a", "e1")});
  ASSERT_TRUE(late);
  EXPECT_EQ(late->seqs, (std::vector<uint64_t>{2}));
  clock_.advance(stream_config{}.dedup_window);
  effects fx;
  EXPECT_EQ(*table_.apply(sweep_cmd{}, at(clock_.now()), fx), 1u);
  persist(fx);
  EXPECT_EQ(table_.dedup_marks(), 0u);
  EXPECT_EQ(restored().dedup_marks(), 0u);
}

TEST_F(stream_table_test, sweep_is_bounded_and_keeps_live_marks) {
  stream_config cfg;
  cfg.max_sweep = 2;
  stream_table t{3, cfg};
  effects fx;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(t.apply(append_cmd{"s", {ev("a", "id" + std::to_string(i))}, {}},
                         at(clock_.now()), fx));
  }
  clock_.advance(cfg.dedup_window);
  ASSERT_TRUE(t.apply(append_cmd{"s", {ev("a", "late")}, {}}, at(clock_.now()), fx));
  EXPECT_EQ(*t.apply(sweep_cmd{}, at(clock_.now()), fx), 2u);
  EXPECT_EQ(*t.apply(sweep_cmd{}, at(clock_.now()), fx), 2u);
  EXPECT_EQ(*t.apply(sweep_cmd{}, at(clock_.now()), fx), 1u);
  EXPECT_EQ(*t.apply(sweep_cmd{}, at(clock_.now()), fx), 0u);
  EXPECT_EQ(t.dedup_marks(), 1u);
}

TEST_F(stream_table_test, max_count_keeps_the_newest_events) {
  ASSERT_TRUE(append("s", {ev("a"), ev("b"), ev("c")}));
  auto info = [&] {
    effects fx;
    auto r = table_.apply(configure_cmd{"s", 2, std::nullopt, std::nullopt},
                              at(clock_.now()), fx);
    persist(fx);
    return r;
  }();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->first_seq, 2u);
  EXPECT_EQ(stored("s"), (std::vector<uint64_t>{2, 3}));
  ASSERT_TRUE(append("s", {ev("d"), ev("e"), ev("f")}));
  EXPECT_EQ(stored("s"), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(table_.info("s")->first_seq, 5u);
  EXPECT_EQ(table_.info("s")->count(), 2u);
  // Sequences keep counting.
  EXPECT_EQ(append("s", {ev("g")})->seqs, (std::vector<uint64_t>{7}));
}

TEST_F(stream_table_test, truncate_before_removes_and_never_moves_back) {
  ASSERT_TRUE(append("s", {ev("a"), ev("b"), ev("c"), ev("d")}));
  auto configure = [&](uint64_t before) {
    effects fx;
    auto r = table_.apply(configure_cmd{"s", std::nullopt, std::nullopt, before},
                              at(clock_.now()), fx);
    persist(fx);
    return r;
  };
  ASSERT_TRUE(configure(3));
  EXPECT_EQ(stored("s"), (std::vector<uint64_t>{3, 4}));
  ASSERT_TRUE(configure(2));
  EXPECT_EQ(table_.info("s")->first_seq, 3u);
  EXPECT_EQ(table_.info("s")->truncate_before, 3u);
  EXPECT_EQ(configure(6).code(), errc::invalid_argument);
  ASSERT_TRUE(configure(5));
  EXPECT_TRUE(stored("s").empty());
  EXPECT_EQ(table_.info("s")->count(), 0u);
  EXPECT_EQ(append("s", {ev("e")})->seqs, (std::vector<uint64_t>{5}));
}

TEST_F(stream_table_test, configure_creates_an_empty_stream) {
  effects fx;
  auto r = table_.apply(configure_cmd{"s", 10, 1h, std::nullopt},
                            at(clock_.now()), fx);
  ASSERT_TRUE(r);
  persist(fx);
  EXPECT_EQ(r->last_seq, 0u);
  EXPECT_EQ(r->keep, (retention{10, 1h}));
  // Still "no stream" for appends: nothing was appended.
  EXPECT_TRUE(append("s", {ev("a")}, {expect::no_stream, 0}));
  EXPECT_EQ(table_.apply(configure_cmd{"s", std::nullopt, -1s, std::nullopt},
                             at(clock_.now()), fx)
              .code(),
            errc::invalid_argument);
}

TEST_F(stream_table_test, age_retention_drops_before_the_given_seq) {
  effects fx;
  ASSERT_TRUE(table_.apply(configure_cmd{"s", std::nullopt, 1h, std::nullopt},
                               at(clock_.now()), fx));
  persist(fx);
  ASSERT_TRUE(append("s", {ev("a"), ev("b")}));
  clock_.advance(30min);
  ASSERT_TRUE(append("s", {ev("c")}));
  auto aged = table_.aged();
  ASSERT_EQ(aged.size(), 1u);
  EXPECT_EQ(std::get<0>(aged[0]), "s");
  EXPECT_EQ(std::get<1>(aged[0]), 1h);
  EXPECT_EQ(std::get<2>(aged[0]), 1u);
  effects drop;
  EXPECT_EQ(*table_.apply(truncate_cmd{"s", 3}, at(clock_.now()), drop), 2u);
  persist(drop);
  EXPECT_EQ(stored("s"), (std::vector<uint64_t>{3}));
  EXPECT_EQ(*table_.apply(truncate_cmd{"s", 3}, at(clock_.now()), drop), 0u);
  EXPECT_EQ(*table_.apply(truncate_cmd{"s", 99}, at(clock_.now()), drop), 1u);
  EXPECT_EQ(table_.info("s")->first_seq, 4u);
  EXPECT_EQ(*table_.apply(truncate_cmd{"nope", 3}, at(clock_.now()), drop), 0u);
}

TEST_F(stream_table_test, append_times_never_go_back) {
  ASSERT_TRUE(append("s", {ev("a")}));
  auto t1 = table_.info("s")->updated;
  clock_.advance(-5s);
  auto r = append("s", {ev("b")});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->time, t1);
}

TEST_F(stream_table_test, checkpoints) {
  effects fx;
  EXPECT_EQ(table_.apply(save_checkpoint_cmd{checkpoint{"s", 1, {}, "x"}}, at(clock_.now()), fx)
              .code(),
            errc::not_found);
  ASSERT_TRUE(append("s", {ev("a"), ev("b"), ev("c"), ev("d")}));
  auto save = [&](uint64_t seq, std::string state) {
    effects out;
    auto r = table_.apply(save_checkpoint_cmd{checkpoint{"s", seq, {}, std::move(state)}},
                                    at(clock_.now()), out);
    persist(out);
    return r;
  };
  EXPECT_EQ(save(0, "x").code(), errc::invalid_argument);
  EXPECT_EQ(save(5, "x").code(), errc::invalid_argument);
  ASSERT_TRUE(save(2, "two"));
  ASSERT_TRUE(save(4, "four"));
  EXPECT_EQ(table_.checkpoint_at_or_before("s", 1), std::nullopt);
  EXPECT_EQ(table_.checkpoint_at_or_before("s", 3), 2u);
  EXPECT_EQ(table_.checkpoint_at_or_before("s", 4), 4u);
  EXPECT_EQ(table_.checkpoint_at_or_before("s", UINT64_MAX), 4u);
  auto cp = stream_table::decode_checkpoint(
    "s", 2, store_.at(stream_table::checkpoint_key("s", 2)));
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->state, "two");
  EXPECT_EQ(cp->saved, clock_.now());
  EXPECT_EQ(restored().checkpoints("s"), (std::vector<uint64_t>{2, 4}));
}

TEST_F(stream_table_test, only_the_newest_checkpoints_are_kept) {
  stream_config cfg;
  cfg.max_checkpoints = 2;
  stream_table t{3, cfg};
  effects fx;
  ASSERT_TRUE(t.apply(append_cmd{"s", {ev("a"), ev("b"), ev("c")}, {}},
                       at(clock_.now()), fx));
  for (uint64_t seq : {1, 2, 3}) {
    ASSERT_TRUE(t.apply(save_checkpoint_cmd{checkpoint{"s", seq, {}, "x"}}, at(clock_.now()), fx));
  }
  persist(fx);
  EXPECT_EQ(t.checkpoints("s"), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(store_.count(stream_table::checkpoint_key("s", 1)), 0u);
  EXPECT_EQ(store_.count(stream_table::checkpoint_key("s", 3)), 1u);
  auto big = std::string(cfg.max_checkpoint_bytes + 1, 'x');
  EXPECT_EQ(t.apply(save_checkpoint_cmd{checkpoint{"s", 3, {}, big}}, at(clock_.now()), fx).code(),
            errc::too_large);
}

TEST_F(stream_table_test, restart_restores_streams_and_dedup_marks) {
  effects fx;
  ASSERT_TRUE(table_.apply(configure_cmd{"a", 100, 2h, std::nullopt},
                               at(clock_.now()), fx));
  persist(fx);
  ASSERT_TRUE(append("a", {ev("x", "id-1"), ev("y")}));
  ASSERT_TRUE(append("b", {ev("x")}));
  auto t = restored();
  EXPECT_EQ(t.size(), 2u);
  auto a = t.info("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->last_seq, 2u);
  EXPECT_EQ(a->keep, (retention{100, 2h}));
  EXPECT_EQ(a->created, table_.info("a")->created);
  effects out;
  auto retry = t.apply(append_cmd{"a", {ev("x", "id-1")}, {}}, at(clock_.now()), out);
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->seqs, (std::vector<uint64_t>{1}));
  EXPECT_EQ(retry->appended(), 0u);
  EXPECT_FALSE(t.restore(stream_table::prefix(3) + "m" + "c", "junk"));
  EXPECT_FALSE(t.restore("zz", "junk"));
}

TEST_F(stream_table_test, names_by_prefix_paginate) {
  for (auto name : {"a.1", "a.2", "a.3", "b.1"}) {
    ASSERT_TRUE(append(name, {ev("x")}));
  }
  EXPECT_EQ(table_.names("a.", "", 2), (std::vector<std::string>{"a.1", "a.2"}));
  EXPECT_EQ(table_.names("a.", "a.2", 10), (std::vector<std::string>{"a.3"}));
  EXPECT_EQ(table_.names("", "", 10).size(), 4u);
}

} // namespace
} // namespace shoal::stream

namespace shoal::stream {
namespace {

using namespace std::chrono_literals;

std::vector<command> sample_stream_commands() {
  event_data a{"created", "{\"n\":1}", "{\"m\":2}", "e1", payload_format::json};
  event_data b{"paid", std::string{"\x00\x01", 2}, "", "", payload_format::binary};
  return {append_cmd{"orders.1", {a, b}, {expect::no_stream, 0}},
          append_cmd{"orders.1", {a}, expectation::exactly(2)},
          append_cmd{"orders.1", {b, b, b}, {}},
          configure_cmd{"orders.1", 3, std::nullopt, std::nullopt},
          configure_cmd{"orders.1", std::nullopt, 1h, 2},
          save_checkpoint_cmd{checkpoint{"orders.1", 4, {}, "state", payload_format::binary}},
          truncate_cmd{"orders.1", 5},
          sweep_cmd{}};
}

TEST(stream_commands, every_command_round_trips_and_every_prefix_is_refused) {
  test::expect_exact_encodings(sample_stream_commands());
}

// The same commands with the same contexts on two fresh machines give
// byte-identical records, the same events and the same answers.
TEST(stream_commands, applying_the_same_sequence_twice_is_deterministic) {
  test::expect_deterministic(
    [] { return stream_table{6, stream_config{}}; }, sample_stream_commands(), 6, 90s,
    [](codec::writer& w, const auto& e) {
      w.bytes(stream_table::encode(e));
    },
    200u);
}

} // namespace
} // namespace shoal::stream
