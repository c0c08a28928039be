// The embedding API of aggregates against an in-process node: the catalog,
// batched merges across shards, reads and the window cache, dedup of event
// ids and the MarkSeen race, on-merge hooks, and restart from RocksDB
// (values, definitions and dedup marks kept; cells of an aggregate whose
// definition went are deleted).

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "actors/agg_client.hpp"
#include "actors/node.hpp"
#include "tests/support/embedded_node.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

agg::definition views() {
  return agg::definition{.name = "page.views", .k = agg::kind::sum, .window = 1h,
                         .retention = 48h};
}

agg::definition visitors() {
  return agg::definition{.name = "visitors", .k = agg::kind::hll, .window = 1h};
}

class agg_client_test : public testing::Test {
protected:
  void SetUp() override {
    node_ = test::start_embedded_node();
    ASSERT_NE(node_, nullptr);
    aggs_.emplace(*node_);
    ASSERT_EQ(*aggs_->define(views()), true);
    ASSERT_EQ(*aggs_->define(visitors()), true);
  }

  void TearDown() override {
    aggs_.reset();
    if (node_) {
      node_->stop();
    }
  }

  int64_t views_now(const std::string& entity) {
    auto r = aggs_->get("page.views", entity);
    EXPECT_TRUE(r) << to_string(r.err());
    return r ? std::get<int64_t>(r->v) : -1;
  }

  std::unique_ptr<node> node_;
  std::optional<agg_client> aggs_;
};

TEST_F(agg_client_test, the_catalog_fixes_shapes_and_lets_retention_change) {
  EXPECT_EQ(*aggs_->define(views()), false);
  auto longer = views();
  longer.retention = 72h;
  EXPECT_EQ(*aggs_->define(longer), false);
  EXPECT_EQ(aggs_->describe("page.views")->retention, 72h);
  auto other = views();
  other.k = agg::kind::max;
  EXPECT_EQ(aggs_->define(other).code(), errc::conflict);
  EXPECT_EQ(aggs_->define(agg::definition{.name = "bad..name"}).code(), errc::invalid_key);
  EXPECT_EQ(aggs_->define(agg::definition{.name = "t", .k = agg::kind::topk,
                                          .params = {.k = 0}})
              .code(),
            errc::invalid_argument);
  EXPECT_EQ(node_->aggregates().list().size(), 2u);
  ASSERT_TRUE(aggs_->add("page.views", "/home", 3));
  EXPECT_EQ(*aggs_->drop("page.views"), true);
  EXPECT_EQ(*aggs_->drop("page.views"), false);
  EXPECT_EQ(aggs_->get("page.views", "/home").code(), errc::not_found);
  EXPECT_EQ(aggs_->add("page.views", "/home", 1).code(), errc::not_found);
  // Gone with its values: a new kind under the same name starts empty.
  ASSERT_EQ(*aggs_->define(other), true);
  auto r = aggs_->get("page.views", "/home");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->found);
}

TEST_F(agg_client_test, batches_spread_over_shards_and_answer_in_order) {
  std::vector<agg::merge_cmd> batch;
  for (int i = 0; i < 200; ++i) {
    auto entity = "/p" + std::to_string(i % 20);
    batch.push_back(agg_client::command("page.views", entity, int64_t{1}));
  }
  // A bad item in the middle is refused alone.
  batch.insert(batch.begin() + 100,
               agg_client::command("page.views", "/p0", uint64_t{1}));
  batch.insert(batch.begin() + 50, agg_client::command("nope", "/p0", int64_t{1}));
  auto r = aggs_->merge(batch);
  ASSERT_TRUE(r) << to_string(r.err());
  ASSERT_EQ(r->size(), 202u);
  EXPECT_EQ((*r)[50].code, static_cast<uint8_t>(errc::not_found));
  EXPECT_EQ((*r)[101].code, static_cast<uint8_t>(errc::invalid_argument));
  size_t ok = 0;
  for (const auto& o : *r) {
    ok += o.code == 0 ? 1 : 0;
  }
  EXPECT_EQ(ok, 200u);
  std::vector<std::string> entities;
  for (int i = 19; i >= 0; --i) {
    entities.push_back("/p" + std::to_string(i));
  }
  entities.push_back("/never");
  auto many = aggs_->get_many("page.views", entities);
  ASSERT_TRUE(many);
  ASSERT_EQ(many->size(), 21u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ((*many)[i].r.entity, entities[i]);
    EXPECT_TRUE((*many)[i].r.found);
    EXPECT_EQ(std::get<int64_t>((*many)[i].r.v), 10);
  }
  EXPECT_FALSE((*many)[20].r.found);
}

TEST_F(agg_client_test, windows_merge_buckets_and_the_cache_never_serves_stale_values) {
  auto now = node_->clock().now();
  for (int h = 0; h < 5; ++h) {
    ASSERT_TRUE(aggs_->add("page.views", "/home", h + 1, {.at = now - h * 1h}));
  }
  auto w = aggs_->last("page.views", "/home", 3);
  ASSERT_TRUE(w);
  EXPECT_EQ(std::get<int64_t>(w->v), 1 + 2 + 3);
  EXPECT_EQ(w->to - w->from, 3);
  // Again: from the cache, the same.
  EXPECT_EQ(std::get<int64_t>(aggs_->last("page.views", "/home", 3)->v), 6);
  auto text = node_->metrics().render();
  EXPECT_NE(text.find("shoal_aggregate_cache_total{aggregate=\"page.views\",result=\"hit\"} 1"),
            std::string::npos)
    << text;
  // A merge into a covered bucket is seen at once.
  ASSERT_TRUE(aggs_->add("page.views", "/home", 100, {.at = now - 1h}));
  EXPECT_EQ(std::get<int64_t>(aggs_->last("page.views", "/home", 3)->v), 106);
  auto all = aggs_->window("page.views", "/home", w->to - 5, w->to);
  EXPECT_EQ(std::get<int64_t>(all->v), 1 + 2 + 3 + 4 + 5 + 100);
  EXPECT_EQ(aggs_->window("page.views", "/home", 5, 1).code(), errc::invalid_argument);
  text = node_->metrics().render();
  EXPECT_NE(text.find("shoal_aggregate_op_seconds_count{aggregate=\"page.views\",op=\"window\"} 5"),
            std::string::npos);
  EXPECT_NE(text.find("shoal_aggregate_op_errors_total{aggregate=\"page.views\",op=\"window\"} 1"),
            std::string::npos);
}

TEST_F(agg_client_test, distinct_elements_and_event_ids_count_once) {
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      auto user = "user-" + std::to_string(i);
      auto r = aggs_->add("visitors", "site", {user}, {.event_id = "visit-" + user});
      ASSERT_TRUE(r);
      EXPECT_EQ(r->duplicate, round > 0);
    }
  }
  auto r = aggs_->get("visitors", "site");
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<agg::hll>(r->v).estimate(), 100u);
  // A number is not an hll delta.
  EXPECT_EQ(aggs_->add("visitors", "site", 1).code(), errc::invalid_argument);
}

TEST_F(agg_client_test, sixteen_concurrent_mark_seen_calls_see_one_first) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> first{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, round] {
        auto r = aggs_->mark_seen("payments", "tx-" + std::to_string(round), 1h);
        if (!r) {
          ++failed;
        } else if (*r) {
          ++first;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(first.load(), 1) << "round " << round;
    EXPECT_EQ(failed.load(), 0);
  }
  EXPECT_EQ(aggs_->mark_seen("payments", "", 1h).code(), errc::invalid_argument);
}

TEST_F(agg_client_test, hooks_see_durable_merges_but_not_duplicates) {
  std::mutex mtx;
  std::vector<merge_event> seen;
  auto id = node_->on_merge("page.views", [&](const merge_event& ev) {
    std::lock_guard guard{mtx};
    seen.push_back(ev);
  });
  ASSERT_TRUE(aggs_->add("page.views", "/a", 2, {.event_id = "e1"}));
  ASSERT_TRUE(aggs_->add("page.views", "/a", 2, {.event_id = "e1"}));
  ASSERT_TRUE(aggs_->add("visitors", "/a", {"x"}));
  ASSERT_TRUE(aggs_->add("page.views", "/b", 5));
  // Hooks run before the answer: both are there.
  {
    std::lock_guard guard{mtx};
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].entity, "/a");
    EXPECT_EQ(seen[0].event_id, "e1");
    EXPECT_EQ(std::get<int64_t>(seen[0].delta), 2);
    EXPECT_EQ(seen[1].entity, "/b");
  }
  EXPECT_TRUE(node_->remove_merge_hook(id));
  EXPECT_FALSE(node_->remove_merge_hook(id));
  ASSERT_TRUE(aggs_->add("page.views", "/c", 1));
  std::lock_guard guard{mtx};
  EXPECT_EQ(seen.size(), 2u);
}

TEST(agg_restart, values_definitions_and_marks_survive_and_orphans_go) {
  test::temp_dir dir{"agg-restart"};
  auto start = [&] { return test::start_embedded_node(dir / "data"); };
  {
    auto n = start();
    ASSERT_NE(n, nullptr);
    agg_client c{*n};
    ASSERT_TRUE(c.define(views()));
    ASSERT_TRUE(c.define(visitors()));
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(c.add("page.views", "/e" + std::to_string(i % 5), 1,
                        {.event_id = "ev" + std::to_string(i)}));
      ASSERT_TRUE(c.add("visitors", "site", {"u" + std::to_string(i)}));
    }
  }
  {
    auto n = start();
    ASSERT_NE(n, nullptr);
    agg_client c{*n};
    EXPECT_EQ(c.describe("page.views")->retention, 48h);
    for (int e = 0; e < 5; ++e) {
      EXPECT_EQ(std::get<int64_t>(c.get("page.views", "/e" + std::to_string(e))->v), 10);
    }
    EXPECT_EQ(std::get<agg::hll>(c.get("visitors", "site")->v).estimate(), 50u);
    // Replays after the restart are duplicates.
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(c.add("page.views", "/e" + std::to_string(i % 5), 1,
                        {.event_id = "ev" + std::to_string(i)})
                    ->duplicate);
    }
    // The definition goes as if dropped during a crash: its cells stay on
    // disk until the next start.
    storage::write_batch b;
    b.erase(storage::column::meta, "aggregate/visitors");
    ASSERT_TRUE(n->store().write(b, storage::durability::sync));
  }
  {
    auto n = start();
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->aggregates().find("visitors"));
    size_t cells = 0;
    ASSERT_TRUE(n->store().scan(storage::column::aggregate, "", "",
                                [&](std::string_view k, std::string_view) {
                                  cells += k.size() > 2 && k[2] == 'c' ? 1 : 0;
                                  return true;
                                }));
    EXPECT_EQ(cells, 5u); // the page.views cells only
  }
}

} // namespace
} // namespace shoal
