// The embedding API of streams: appends with expectations and event ids,
// reads both ways, checkpoints, replay (from a checkpoint, saving more),
// tails (catch-up then live, compacted, lagged) and restart from RocksDB.

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

#include "actors/ask.hpp"
#include "actors/stream/stream_shard.hpp"
#include "actors/stream_client.hpp"
#include "tests/support/embedded_node.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

stream::event_data ev(std::string type, std::string payload = "{}",
                      std::string id = {}) {
  return stream::event_data{std::move(type), std::move(payload), "", std::move(id)};
}

// Collects what a tail delivers; `full` makes it refuse deliveries.
class recording_sink : public stream_tail_sink {
public:
  bool on_event(const stream::event& e) override {
    std::lock_guard guard{mtx_};
    if (full_) {
      return false;
    }
    seqs_.push_back(e.seq);
    cv_.notify_all();
    return true;
  }
  bool on_live(uint64_t seq) override {
    std::lock_guard guard{mtx_};
    live_at_ = seq;
    cv_.notify_all();
    return true;
  }
  bool on_progress(uint64_t) override {
    return true;
  }
  void on_lagged(uint64_t next) override {
    std::lock_guard guard{mtx_};
    lagged_ = next;
    cv_.notify_all();
  }
  void on_error(const error& e) override {
    std::lock_guard guard{mtx_};
    error_ = e;
    cv_.notify_all();
  }
  bool is_open() const override {
    return open_;
  }

  // Waits (with a deadline) until `pred` holds under the lock.
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, 10s, [&] { return pred(*this); });
  }

  void set_full(bool full) {
    std::lock_guard guard{mtx_};
    full_ = full;
  }

  std::vector<uint64_t> seqs_;
  std::optional<uint64_t> live_at_;
  std::optional<uint64_t> lagged_;
  std::optional<error> error_;
  std::atomic<bool> open_{true};

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool full_ = false;
};

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (auto s = from; s <= to; ++s) {
    out.push_back(s);
  }
  return out;
}

class stream_client_test : public test::embedded_client_test<stream_client> {
protected:
  void append_n(const std::string& stream, int n, const std::string& type = "inc") {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(client_->append(stream, {ev(type, std::to_string(i + 1))}));
    }
  }
};

TEST_F(stream_client_test, append_read_and_expectations) {
  auto a = client_->append("orders.7", {ev("created"), ev("paid")},
                           {stream::expect::no_stream, 0});
  ASSERT_TRUE(a) << to_string(a.err());
  EXPECT_EQ(a->seqs, (std::vector<uint64_t>{1, 2}));
  auto stale = client_->append("orders.7", {ev("x")}, stream::expectation::exactly(1));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.code(), errc::seq_mismatch);
  EXPECT_EQ(stale.err().current, 2u);
  ASSERT_TRUE(client_->append("orders.7", {ev("shipped")},
                              stream::expectation::exactly(2)));
  auto page = client_->read({"orders.7", 2, 10});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[0].type, "paid");
  EXPECT_EQ(page->events[1].type, "shipped");
  EXPECT_EQ(page->last_seq, 3u);
  EXPECT_EQ(page->next, 0u);
  auto back = client_->read({"orders.7", 0, 2, true});
  ASSERT_TRUE(back);
  ASSERT_EQ(back->events.size(), 2u);
  EXPECT_EQ(back->events[0].seq, 3u);
  EXPECT_EQ(back->events[1].seq, 2u);
  EXPECT_EQ(back->next, 1u);
  auto first = client_->read({"orders.7", 1, 1});
  EXPECT_EQ(first->next, 2u);
  EXPECT_EQ(client_->read({"nope", 1, 10}).code(), errc::not_found);
  EXPECT_EQ(client_->read({"orders.7", 1, 0}).code(), errc::invalid_argument);
  EXPECT_EQ(client_->info("orders.7")->last_seq, 3u);
  EXPECT_EQ(client_->append("$entity.x", {ev("set")}).code(), errc::invalid_key);
}

TEST_F(stream_client_test, retried_appends_with_event_ids_are_not_duplicated) {
  auto a = client_->append("pay", {ev("charged", "{}", "req-1")});
  ASSERT_TRUE(a);
  auto again = client_->append("pay", {ev("charged", "{}", "req-1")},
                               stream::expectation::exactly(0));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->seqs, a->seqs);
  EXPECT_EQ(again->appended(), 0u);
  EXPECT_EQ(client_->info("pay")->last_seq, 1u);
}

TEST_F(stream_client_test, concurrent_optimistic_appends_serialize) {
  // 8 writers each append 20 events with exact expectations, retrying on
  // seq_mismatch: the stream ends with exactly 160 events, no holes.
  std::vector<std::thread> writers;
  std::atomic<int> mismatches{0};
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 20;) {
        auto info = client_->info("counter");
        uint64_t last = info ? info->last_seq : 0;
        auto r = client_->append("counter", {ev("inc", std::to_string(w))},
                                 stream::expectation::exactly(last));
        if (r) {
          ++i;
        } else {
          ASSERT_EQ(r.code(), errc::seq_mismatch);
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : writers) {
    t.join();
  }
  auto page = client_->read({"counter", 1, 1000});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 160u);
  for (size_t i = 0; i < page->events.size(); ++i) {
    EXPECT_EQ(page->events[i].seq, i + 1);
  }
}

TEST_F(stream_client_test, replay_folds_from_the_newest_checkpoint) {
  append_n("acct", 100);
  auto apply = [](int64_t sum, const stream::event& e) {
    return sum + std::stoll(e.payload);
  };
  state_codec<int64_t> codec{
    [](const int64_t& s) { return std::to_string(s); },
    [](std::string_view b) -> result<int64_t> { return std::stoll(std::string{b}); }};
  auto full = replay<int64_t>(*client_, "acct", 0, 0, apply);
  ASSERT_TRUE(full) << to_string(full.err());
  EXPECT_EQ(full->state, 5050);
  EXPECT_EQ(full->seq, 100u);
  EXPECT_EQ(full->applied, 100u);
  // Saving a checkpoint every 30 events on the way.
  auto at60 = replay<int64_t>(*client_, "acct", 60, 0, apply,
                              {.batch_size = 7, .checkpoint_every = 30}, &codec);
  ASSERT_TRUE(at60);
  EXPECT_EQ(at60->state, 60 * 61 / 2);
  EXPECT_EQ(at60->from_checkpoint, 0u);
  EXPECT_EQ(client_->load_checkpoint("acct", 0)->seq, 60u);
  EXPECT_EQ(client_->load_checkpoint("acct", 59)->seq, 30u);
  EXPECT_EQ(client_->load_checkpoint("acct", 29).code(), errc::not_found);
  // Later replays start at the newest usable checkpoint.
  auto at75 = replay<int64_t>(*client_, "acct", 75, 0, apply, {}, &codec);
  ASSERT_TRUE(at75);
  EXPECT_EQ(at75->state, 75 * 76 / 2);
  EXPECT_EQ(at75->from_checkpoint, 60u);
  EXPECT_EQ(at75->applied, 15u);
  auto at45 = replay<int64_t>(*client_, "acct", 45, 0, apply, {}, &codec);
  EXPECT_EQ(at45->state, 45 * 46 / 2);
  EXPECT_EQ(at45->from_checkpoint, 30u);
  auto at60again = replay<int64_t>(*client_, "acct", 60, 0, apply, {}, &codec);
  EXPECT_EQ(at60again->applied, 0u);
  EXPECT_EQ(at60again->state, 60 * 61 / 2);
  EXPECT_EQ(replay<int64_t>(*client_, "acct", 101, 0, apply).code(),
            errc::invalid_argument);
  EXPECT_EQ(replay<int64_t>(*client_, "none", 0, 0, apply).code(), errc::not_found);
}

TEST_F(stream_client_test, replay_past_retention_needs_a_checkpoint) {
  append_n("short", 10);
  ASSERT_TRUE(client_->configure({"short", 4, std::nullopt, std::nullopt}));
  auto apply = [](int64_t n, const stream::event&) { return n + 1; };
  state_codec<int64_t> codec{
    [](const int64_t& s) { return std::to_string(s); },
    [](std::string_view b) -> result<int64_t> { return std::stoll(std::string{b}); }};
  auto r = replay<int64_t>(*client_, "short", 0, 0, apply, {}, &codec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), errc::compacted);
  EXPECT_EQ(r.err().current, 7u);
  ASSERT_TRUE(client_->save_checkpoint("short", 8, "8"));
  auto ok = replay<int64_t>(*client_, "short", 0, 0, apply, {}, &codec);
  ASSERT_TRUE(ok) << to_string(ok.err());
  EXPECT_EQ(ok->state, 10);
  EXPECT_EQ(ok->applied, 2u);
}

TEST_F(stream_client_test, tail_catches_up_then_follows_live) {
  append_n("feed", 300);
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(client_->tail("feed", 5, sink));
  ASSERT_TRUE(sink->wait([](auto& s) { return s.live_at_.has_value(); }));
  EXPECT_EQ(*sink->live_at_, 300u);
  append_n("feed", 20);
  ASSERT_TRUE(sink->wait([](auto& s) { return s.seqs_.size() == 316; }));
  EXPECT_EQ(sink->seqs_, range(5, 320));
  // A second tail from the start sees everything, in order, once.
  auto all = std::make_shared<recording_sink>();
  ASSERT_TRUE(client_->tail("feed", 1, all));
  ASSERT_TRUE(all->wait([](auto& s) { return s.seqs_.size() == 320; }));
  EXPECT_EQ(all->seqs_, range(1, 320));
  sink->open_ = false;
  all->open_ = false;
}

TEST_F(stream_client_test, tail_while_appending_has_no_gaps_or_repeats) {
  std::atomic<bool> stop{false};
  std::thread writer{[&] {
    for (int i = 0; i < 400 && !stop; ++i) {
      ASSERT_TRUE(client_->append("busy", {ev("e"), ev("e")}));
    }
  }};
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(client_->tail("busy", 1, sink));
  writer.join();
  ASSERT_TRUE(sink->wait([](auto& s) { return s.seqs_.size() >= 800; }));
  EXPECT_EQ(sink->seqs_, range(1, 800));
  sink->open_ = false;
}

TEST_F(stream_client_test, a_slow_tail_is_told_where_to_resume) {
  auto n = test::start_embedded_node({}, [](node_config& cfg) {
    cfg.streams.feeds.max_backlog_bytes = 4096;
  });
  ASSERT_NE(n, nullptr);
  stream_client c{*n};
  ASSERT_TRUE(c.append("s", {ev("e")}));
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(c.tail("s", 1, sink));
  ASSERT_TRUE(sink->wait([](auto& s) { return s.live_at_.has_value(); }));
  sink->set_full(true);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(c.append("s", {ev("e", std::string(100, 'x'))}));
  }
  ASSERT_TRUE(sink->wait([](auto& s) { return s.lagged_.has_value(); }));
  EXPECT_EQ(*sink->lagged_, 2u);
  // Resuming from there misses nothing.
  auto resumed = std::make_shared<recording_sink>();
  ASSERT_TRUE(c.tail("s", *sink->lagged_, resumed));
  ASSERT_TRUE(resumed->wait([](auto& s) { return s.seqs_.size() == 100; }));
  EXPECT_EQ(resumed->seqs_, range(2, 101));
  resumed->open_ = false;
  n->stop();
}

TEST_F(stream_client_test, tail_from_removed_events_is_compacted) {
  append_n("trim", 10);
  ASSERT_TRUE(client_->configure({"trim", std::nullopt, std::nullopt, 6}));
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(client_->tail("trim", 2, sink));
  ASSERT_TRUE(sink->wait([](auto& s) { return s.error_.has_value(); }));
  EXPECT_EQ(sink->error_->code, errc::compacted);
  EXPECT_EQ(sink->error_->current, 6u);
}

TEST_F(stream_client_test, age_retention_removes_old_events_on_the_shard_tick) {
  append_n("aged", 5);
  ASSERT_TRUE(client_->configure({"aged", std::nullopt, 1ms, std::nullopt}));
  // The shard's tick (every second) drops events older than the max age.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  uint64_t first = 1;
  while (std::chrono::steady_clock::now() < deadline) {
    first = client_->info("aged")->first_seq;
    if (first == 6) {
      break;
    }
    std::this_thread::sleep_for(50ms); // poll until the deadline
  }
  EXPECT_EQ(first, 6u);
  EXPECT_TRUE(client_->read({"aged", 1, 10})->events.empty());
  EXPECT_EQ(client_->append("aged", {ev("e")})->seqs, (std::vector<uint64_t>{6}));
}

TEST_F(stream_client_test, list_spans_shards) {
  for (auto name : {"a.3", "a.1", "b.1", "a.2"}) {
    ASSERT_TRUE(client_->append(name, {ev("x")}));
  }
  EXPECT_EQ(*client_->list("a.", "", 10),
            (std::vector<std::string>{"a.1", "a.2", "a.3"}));
  EXPECT_EQ(*client_->list("a.", "a.1", 1), (std::vector<std::string>{"a.2"}));
}

stream::entity_change merge(std::vector<std::pair<std::string, std::optional<std::string>>> a,
                            std::string by = "test") {
  return stream::entity_change{stream::entity_op::merge, std::move(a), std::move(by)};
}

TEST_F(stream_client_test, entity_changes_update_the_projection_inside_the_append) {
  ASSERT_TRUE(client_->append_entity("user.1", {merge({{"name", "\"ann\""}, {"age", "30"}})}));
  auto view = node_->streams().entities_of("user.1");
  auto u = client_->entity("user.1");
  ASSERT_TRUE(u) << to_string(u.err());
  EXPECT_EQ(u->attributes.at("age"), "30");
  EXPECT_EQ(u->seq, 1u);
  ASSERT_TRUE(client_->append_entity(
    "user.1", {merge({{"age", std::nullopt}, {"city", "\"oslo\""}}, "edit")},
    stream::expectation::exactly(1)));
  u = client_->entity("user.1");
  EXPECT_EQ(u->attributes.count("age"), 0u);
  EXPECT_EQ(u->attributes.at("city"), "\"oslo\"");
  EXPECT_EQ(u->updated_by, "edit");
  // A view taken earlier is unchanged by later writes.
  EXPECT_EQ(view->find("user.1")->attributes.at("age"), "30");
  // A refused append changes neither the stream nor the projection.
  EXPECT_EQ(client_->append_entity("user.1", {merge({{"x", "1"}})},
                                   stream::expectation::exactly(1)).code(),
            errc::seq_mismatch);
  EXPECT_EQ(client_->append_entity(
              "user.1", {stream::entity_change{stream::entity_op::set, {{"x", std::nullopt}}, ""}})
              .code(),
            errc::invalid_argument);
  EXPECT_EQ(client_->entity("user.1")->seq, 2u);
  // Raw events that are not changes are refused by the shard.
  stream::append_cmd raw{stream::entity_stream("user.1"), {ev("merge", "junk")}, {}};
  auto refused = wait_for<stream::append_result>([&](auto done) {
    call<stream::append_result>(node_->streams().shard_for(raw.stream), std::move(done),
                                append_atom_v, std::move(raw));
  });
  EXPECT_EQ(refused.code(), errc::invalid_argument);
  // Time travel: the entity as of seq 1; deleted later.
  ASSERT_TRUE(client_->append_entity(
    "user.1", {stream::entity_change{stream::entity_op::remove, {}, "gdpr"}}));
  EXPECT_EQ(client_->entity("user.1").code(), errc::not_found);
  auto then = client_->entity_at("user.1", 1);
  ASSERT_TRUE(then);
  EXPECT_EQ(then->attributes.at("age"), "30");
  EXPECT_EQ(client_->entity_at("user.1", 3).code(), errc::not_found);
  EXPECT_EQ(client_->entity_at("user.1", 4).code(), errc::invalid_argument);
  EXPECT_EQ(client_->entity_at("nobody", 1).code(), errc::not_found);
  // Retried changes with ids apply once.
  ASSERT_TRUE(client_->append_entity("acct.9", {merge({{"n", "1"}})}, {}, {"c-1"}));
  auto retry = client_->append_entity("acct.9", {merge({{"n", "2"}})}, {}, {"c-1"});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->appended(), 0u);
  EXPECT_EQ(client_->entity("acct.9")->attributes.at("n"), "1");
}


TEST_F(stream_client_test, entities_list_by_pattern_across_shards) {
  for (auto id : {"user.3", "user.1", "order.1", "user.2"}) {
    ASSERT_TRUE(client_->append_entity(id, {merge({{"k", "1"}})}));
  }
  auto users = client_->entities("user.>", "", 10);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].id, "user.1");
  EXPECT_EQ((*users)[2].id, "user.3");
  EXPECT_EQ(client_->entities(">", "user.1", 10)->size(), 2u);
  EXPECT_EQ(client_->entities("bad pattern", "", 10).code(), errc::invalid_key);
}

// Polls (with a deadline) until shard storage holds a projection snapshot.
bool wait_for_snapshots(node& n, size_t want) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    size_t found = 0;
    (void) n.store().scan_prefix(storage::column::stream, "P",
                                 [&](std::string_view, std::string_view) {
                                   ++found;
                                   return true;
                                 });
    if (found >= want) {
      return true;
    }
    std::this_thread::sleep_for(20ms); // poll until the deadline
  }
  return false;
}

TEST(entity_restart, projection_restores_from_snapshots_and_skips_a_corrupt_one) {
  test::temp_dir dir{"entity-restart"};
  auto start = [&] {
    return test::start_embedded_node(dir / "data", [](node_config& cfg) {
      cfg.shard_count = 1;
      cfg.streams.snapshots.every_events = 50;
    });
  };
  std::map<std::string, stream::entity_state> expected;
  {
    auto n = start();
    ASSERT_NE(n, nullptr);
    stream_client c{*n};
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 60; ++i) {
        ASSERT_TRUE(c.append_entity("e" + std::to_string(i),
                                    {merge({{"round", std::to_string(round)}})}));
      }
      ASSERT_TRUE(wait_for_snapshots(*n, std::min(round + 1, 2)));
    }
    // A tail after the last snapshot.
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(c.append_entity("e" + std::to_string(i), {merge({{"tail", "true"}})}));
    }
    ASSERT_TRUE(c.append_entity("e59", {stream::entity_change{stream::entity_op::remove, {}, ""}}));
    auto all = c.entities(">", "", 1000);
    ASSERT_TRUE(all);
    for (const auto& s : *all) {
      expected[s.id] = s;
    }
    ASSERT_EQ(expected.size(), 59u);
  }
  auto check = [&](node& n) {
    stream_client c{n};
    auto all = c.entities(">", "", 1000);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), expected.size());
    for (const auto& s : *all) {
      EXPECT_EQ(s, expected.at(s.id)) << s.id;
    }
  };
  {
    auto n = start();
    ASSERT_NE(n, nullptr);
    check(*n);
  }
  {
    // Corrupt the newest snapshot: the older one plus a longer tail.
    auto store = storage::open_rocksdb_engine({dir / "data"});
    ASSERT_TRUE(store);
    std::string newest;
    (void) (*store)->scan_prefix(storage::column::stream, "P",
                                 [&](std::string_view k, std::string_view) {
                                   newest = std::string{k};
                                   return true;
                                 });
    ASSERT_FALSE(newest.empty());
    storage::write_batch b;
    b.put(storage::column::stream, newest, "SHSN garbage");
    ASSERT_TRUE((*store)->write(b, storage::durability::sync));
  }
  auto n = start();
  ASSERT_NE(n, nullptr);
  check(*n);
}

TEST(stream_restart, sequences_checkpoints_and_dedup_survive) {
  test::temp_dir dir{"stream-restart"};
  auto start = [&] { return test::start_embedded_node(dir / "data"); };
  {
    auto n = start();
    ASSERT_NE(n, nullptr);
    stream_client c{*n};
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(c.append("s." + std::to_string(i % 4),
                           {ev("e", "{}", "id-" + std::to_string(i))}));
    }
    ASSERT_TRUE(c.save_checkpoint("s.1", 3, "state-at-3"));
    ASSERT_TRUE(c.configure({"s.2", 3, std::nullopt, std::nullopt}));
  }
  auto n = start();
  ASSERT_NE(n, nullptr);
  stream_client c{*n};
  for (int s = 0; s < 4; ++s) {
    EXPECT_EQ(c.info("s." + std::to_string(s))->last_seq, 5u);
  }
  EXPECT_EQ(c.info("s.2")->first_seq, 3u);
  EXPECT_EQ(c.load_checkpoint("s.1")->state, "state-at-3");
  // A retry after the restart is still recognized.
  auto retry = c.append("s.0", {ev("e", "{}", "id-4")});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->seqs, (std::vector<uint64_t>{2}));
  EXPECT_EQ(retry->appended(), 0u);
  EXPECT_EQ(c.append("s.0", {ev("e")})->seqs, (std::vector<uint64_t>{6}));
}

TEST(stream_time_travel, folds_off_the_shard_thread) {
  // On RocksDB (the in-memory engine copies its tables on the first write
  // after a snapshot, which would hold writes up on its own). An entity
  // with a long history: 200,000 changes.
  test::temp_dir dir{"time-travel"};
  auto node = test::start_embedded_node(dir / "data");
  ASSERT_NE(node, nullptr);
  stream_client client{*node};
  for (int i = 0; i < 40; ++i) {
    std::vector<stream::entity_change> changes(5000, merge({{"n", std::to_string(i)}}));
    ASSERT_TRUE(client.append_entity("big.1", std::move(changes)));
  }
  const auto& streams = node->streams();
  auto shard = streams.shard_of(stream::entity_stream("big.1"));
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    if (streams.shard_of("s" + std::to_string(i)) == shard) {
      other = "s" + std::to_string(i);
    }
  }
  ASSERT_TRUE(client.append(other, {ev("x")}));
  // One sender, one shard: the shard gets two fold requests first, then a
  // read of another stream. The read's answer comes first: the shard
  // served it while the folds ran, one after the other. (Folded on the
  // shard's thread, the answers would come in the order asked.)
  std::vector<std::string> answers;
  std::vector<stream::entity_state> states;
  {
    caf::scoped_actor self{node->system()};
    const auto& target = streams.shards()[shard];
    self->send(target, get_atom_v, std::string{"big.1"}, uint64_t{200'000});
    self->send(target, get_atom_v, std::string{"big.1"}, uint64_t{5'000});
    self->send(target, info_atom_v, other);
    for (int i = 0; i < 3; ++i) {
      self->receive(
        [&](stream::entity_state& s) {
          answers.push_back("fold");
          states.push_back(std::move(s));
        },
        [&](stream::stream_info&) { answers.push_back("read"); },
        [&](caf::error& e) { answers.push_back(caf::to_string(e)); },
        caf::after(std::chrono::seconds{30}) >> [&] { answers.push_back("timeout"); });
    }
  }
  EXPECT_EQ(answers, (std::vector<std::string>{"read", "fold", "fold"}));
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].seq, 200'000u);
  EXPECT_EQ(states[0].attributes.at("n"), "39");
  EXPECT_EQ(states[1].seq, 5'000u);
  EXPECT_EQ(states[1].attributes.at("n"), "0");
  EXPECT_EQ(client.entity_at("big.1", 200'001).code(), errc::invalid_argument);
  node->stop();
}

} // namespace
} // namespace shoal
