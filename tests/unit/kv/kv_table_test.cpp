#include "runtime/kv/kv_table.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "runtime/codec.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/machine_checks.hpp"

namespace shoal::kv {
namespace {

using namespace std::chrono_literals;

// The context of a command applied at `t`.
apply_ctx at(time_point t) {
  return apply_ctx{t, 0, 3};
}

class kv_table_test : public testing::Test {
protected:
  kv_table table_{3, kv_config{}};
  test::manual_clock clock_;
  // Every record the table asked to persist, applied to a map as a store
  // would: a restart test rebuilds a table from it.
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

  result<write_result> put(std::string key, std::string value,
                           duration ttl = 0s, uint64_t if_rev = any_revision) {
    effects fx;
    auto r = table_.apply(put_cmd{std::move(key), std::move(value), ttl, if_rev},
                          at(clock_.now()), fx);
    persist(fx);
    last_ = fx;
    return r;
  }

  result<write_result> del(std::string key, uint64_t if_rev = any_revision) {
    effects fx;
    auto r = table_.apply(delete_cmd{std::move(key), if_rev}, at(clock_.now()), fx);
    persist(fx);
    last_ = fx;
    return r;
  }

  std::vector<std::string> keys(const std::string& pattern,
                                const std::string& after = "",
                                uint32_t limit = 100) {
    auto page = table_.list(list_query{pattern, after, limit, false},
                            clock_.now());
    EXPECT_TRUE(page);
    std::vector<std::string> out;
    for (auto& e : page->items) {
      out.push_back(e.key);
    }
    return out;
  }

  effects last_;
};

using strings = std::vector<std::string>;

TEST_F(kv_table_test, put_then_get_returns_value_and_metadata) {
  auto r = put("a.b", "v1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->revision, 1u);
  EXPECT_EQ(r->prev_revision, 0u);
  EXPECT_TRUE(r->changed);
  auto e = table_.get("a.b", clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value, "v1");
  EXPECT_EQ(e->revision, 1u);
  EXPECT_EQ(e->create_revision, 1u);
  EXPECT_EQ(e->version, 1u);
  EXPECT_EQ(e->created, clock_.now());
  EXPECT_EQ(e->modified, clock_.now());
  EXPECT_FALSE(e->has_expiry());
}

TEST_F(kv_table_test, overwrite_bumps_revision_and_version_keeps_creation) {
  auto created = clock_.now();
  ASSERT_TRUE(put("k", "1"));
  ASSERT_TRUE(put("other", "x"));
  clock_.advance(5s);
  auto r = put("k", "2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->revision, 3u);
  EXPECT_EQ(r->prev_revision, 1u);
  auto e = table_.get("k", clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value, "2");
  EXPECT_EQ(e->version, 2u);
  EXPECT_EQ(e->create_revision, 1u);
  EXPECT_EQ(e->created, created);
  EXPECT_EQ(e->modified, clock_.now());
}

TEST_F(kv_table_test, every_change_emits_one_event_with_prev_revision) {
  ASSERT_TRUE(put("k", "1"));
  ASSERT_EQ(last_.events.size(), 1u);
  EXPECT_EQ(last_.events[0].op, operation::put);
  EXPECT_EQ(last_.events[0].value, "1");
  EXPECT_EQ(last_.events[0].prev_revision, 0u);
  EXPECT_EQ(last_.events[0].shard, 3);
  ASSERT_TRUE(put("k", "2"));
  EXPECT_EQ(last_.events[0].prev_revision, 1u);
  ASSERT_TRUE(del("k"));
  ASSERT_EQ(last_.events.size(), 1u);
  EXPECT_EQ(last_.events[0].op, operation::del);
  EXPECT_EQ(last_.events[0].revision, 3u);
  EXPECT_EQ(last_.events[0].prev_revision, 2u);
  EXPECT_TRUE(last_.events[0].value.empty());
}

TEST_F(kv_table_test, get_of_absent_key_is_not_found) {
  auto e = table_.get("nope", clock_.now());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.code(), errc::not_found);
}

TEST_F(kv_table_test, invalid_keys_are_rejected_without_effects) {
  for (auto key : {"", ".a", "a..b", "a b", "a*"}) {
    auto r = put(key, "v");
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.code(), errc::invalid_key);
    EXPECT_TRUE(last_.empty());
    EXPECT_EQ(del(key).code(), errc::invalid_key);
    EXPECT_EQ(table_.get(key, clock_.now()).code(), errc::invalid_key);
  }
  EXPECT_EQ(table_.revision(), 0u);
}

TEST_F(kv_table_test, ttl_rules) {
  auto neg = put("k", "v", -1s);
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.code(), errc::invalid_ttl);
  auto absurd = put("k", "v", std::chrono::hours{24 * 365 * 11});
  ASSERT_FALSE(absurd);
  EXPECT_EQ(absurd.code(), errc::invalid_ttl);
  EXPECT_TRUE(last_.empty());
  ASSERT_TRUE(put("k", "v", 0s));
  EXPECT_FALSE(table_.get("k", clock_.now())->has_expiry());
}

TEST_F(kv_table_test, value_size_limit) {
  kv_config cfg;
  cfg.max_value_bytes = 10;
  kv_table small{0, cfg};
  effects fx;
  EXPECT_TRUE(small.apply(put_cmd{"k", std::string(10, 'x')}, at(clock_.now()), fx));
  auto r = small.apply(put_cmd{"k", std::string(11, 'x')}, at(clock_.now()), fx);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), errc::too_large);
}

TEST_F(kv_table_test, expired_key_is_invisible_at_once_and_swept_with_event) {
  ASSERT_TRUE(put("k", "v", 10s));
  EXPECT_EQ(table_.next_expiry(), clock_.now() + 10s);
  clock_.advance(9s);
  EXPECT_TRUE(table_.get("k", clock_.now()));
  clock_.advance(1s); // exactly at the deadline: gone
  EXPECT_EQ(table_.get("k", clock_.now()).code(), errc::not_found);
  EXPECT_EQ(keys("*"), strings{});
  effects fx;
  EXPECT_EQ(*table_.apply(expire_cmd{}, at(clock_.now()), fx), 1u);
  persist(fx);
  ASSERT_EQ(fx.events.size(), 1u);
  EXPECT_EQ(fx.events[0].op, operation::expire);
  EXPECT_EQ(fx.events[0].key, "k");
  EXPECT_EQ(fx.events[0].prev_revision, 1u);
  EXPECT_EQ(fx.events[0].revision, 2u);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_FALSE(table_.next_expiry());
  effects again;
  EXPECT_EQ(*table_.apply(expire_cmd{}, at(clock_.now()), again), 0u);
  EXPECT_TRUE(again.empty());
}

TEST_F(kv_table_test, sweep_is_bounded_per_step) {
  kv_config cfg;
  cfg.max_expire_per_sweep = 2;
  kv_table t{0, cfg};
  effects fx;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(t.apply(put_cmd{"k" + std::to_string(i), "v", 1s}, at(clock_.now()), fx));
  }
  clock_.advance(1s);
  effects sweep;
  EXPECT_EQ(*t.apply(expire_cmd{}, at(clock_.now()), sweep), 2u);
  EXPECT_EQ(*t.apply(expire_cmd{}, at(clock_.now()), sweep), 2u);
  EXPECT_EQ(*t.apply(expire_cmd{}, at(clock_.now()), sweep), 1u);
  EXPECT_EQ(sweep.events.size(), 5u);
}

TEST_F(kv_table_test, overwrite_without_ttl_clears_expiry) {
  ASSERT_TRUE(put("k", "v", 5s));
  ASSERT_TRUE(put("k", "v2"));
  clock_.advance(1h);
  EXPECT_TRUE(table_.get("k", clock_.now()));
  effects fx;
  EXPECT_EQ(*table_.apply(expire_cmd{}, at(clock_.now()), fx), 0u);
}

TEST_F(kv_table_test, put_over_an_unswept_expired_key_records_the_expiry_first) {
  ASSERT_TRUE(put("k", "old", 1s));
  clock_.advance(2s);
  auto r = put("k", "new", 0s, 0); // "only if absent" holds: it expired
  ASSERT_TRUE(r) << to_string(r.err());
  ASSERT_EQ(last_.events.size(), 2u);
  EXPECT_EQ(last_.events[0].op, operation::expire);
  EXPECT_EQ(last_.events[1].op, operation::put);
  EXPECT_EQ(last_.events[1].prev_revision, 0u);
  auto e = table_.get("k", clock_.now());
  EXPECT_EQ(e->version, 1u); // a new incarnation
  EXPECT_EQ(e->create_revision, 3u);
}

TEST_F(kv_table_test, compare_and_swap_on_revision) {
  auto created = put("k", "1", 0s, 0);
  ASSERT_TRUE(created);
  auto again = put("k", "x", 0s, 0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), errc::conflict);
  EXPECT_EQ(again.err().current, 1u);
  EXPECT_TRUE(last_.empty());
  auto stale = put("k", "x", 0s, 7);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.err().current, 1u);
  auto swapped = put("k", "2", 0s, 1);
  ASSERT_TRUE(swapped);
  EXPECT_EQ(table_.get("k", clock_.now())->value, "2");
  auto absent = put("missing", "v", 0s, 5);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.err().current, 0u);
}

TEST_F(kv_table_test, delete_rules) {
  auto absent = del("nope");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->changed);
  EXPECT_TRUE(last_.empty());
  EXPECT_EQ(table_.revision(), 0u);
  auto cond_absent = del("nope", 3);
  ASSERT_FALSE(cond_absent);
  EXPECT_EQ(cond_absent.code(), errc::conflict);
  EXPECT_EQ(cond_absent.err().current, 0u);
  ASSERT_TRUE(put("k", "v"));
  auto wrong = del("k", 9);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.err().current, 1u);
  auto right = del("k", 1);
  ASSERT_TRUE(right);
  EXPECT_TRUE(right->changed);
  EXPECT_EQ(right->prev_revision, 1u);
  EXPECT_EQ(table_.get("k", clock_.now()).code(), errc::not_found);
}

TEST_F(kv_table_test, list_by_pattern_is_sorted_and_paginated) {
  for (auto k : {"svc.web.2", "svc.web.1", "svc.db", "svc.web", "svcx",
                 "other", "svc.web.1.health"}) {
    ASSERT_TRUE(put(k, "v"));
  }
  EXPECT_EQ(keys("svc.*"),
            (strings{"svc.db", "svc.web", "svc.web.1", "svc.web.1.health",
                     "svc.web.2"}));
  EXPECT_EQ(keys("svc.web.>"),
            (strings{"svc.web", "svc.web.1", "svc.web.1.health", "svc.web.2"}));
  EXPECT_EQ(keys("svc*"), (strings{"svc.db", "svc.web", "svc.web.1",
                                   "svc.web.1.health", "svc.web.2", "svcx"}));
  EXPECT_EQ(keys("other"), strings{"other"});
  EXPECT_EQ(keys(">").size(), 7u);
  // Pages of two, each continuing after the last key of the previous one.
  auto p1 = table_.list(list_query{"svc.*", "", 2, false}, clock_.now());
  ASSERT_TRUE(p1);
  EXPECT_TRUE(p1->more);
  ASSERT_EQ(p1->items.size(), 2u);
  EXPECT_EQ(keys("svc.*", p1->items.back().key, 2),
            (strings{"svc.web.1", "svc.web.1.health"}));
  auto last = table_.list(list_query{"svc.*", "svc.web.1.health", 2, false},
                          clock_.now());
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->more);
  EXPECT_EQ(last->items.size(), 1u);
}

TEST_F(kv_table_test, list_rejects_bad_patterns_and_zero_limit_and_keys_only) {
  auto bad = table_.list(list_query{"a*b", "", 10, false}, clock_.now());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.code(), errc::invalid_key);
  auto zero = table_.list(list_query{"*", "", 0, false}, clock_.now());
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.code(), errc::invalid_argument);
  ASSERT_TRUE(put("k", "value"));
  auto ko = table_.list(list_query{"*", "", 10, true}, clock_.now());
  ASSERT_TRUE(ko);
  EXPECT_TRUE(ko->items[0].value.empty());
}

// Reads the stored history of `key` the way the shard does.
std::vector<version_record>
stored_history(const std::map<std::string, std::string>& store, uint16_t shard,
               const std::string& key) {
  std::vector<version_record> out;
  auto pfx = kv_table::history_prefix(shard, key);
  for (auto it = store.lower_bound(pfx);
       it != store.end() && it->first.starts_with(pfx); ++it) {
    out.push_back(*kv_table::decode_version(it->second));
  }
  return out;
}

TEST_F(kv_table_test, history_keeps_the_last_n_versions_including_deletes) {
  kv_config cfg;
  cfg.history_depth = 3;
  table_ = kv_table{3, cfg};
  ASSERT_TRUE(put("k", "1"));
  ASSERT_TRUE(put("k", "2"));
  ASSERT_TRUE(del("k"));
  ASSERT_TRUE(put("k", "3"));
  ASSERT_TRUE(put("k.sub", "other key"));
  auto h = stored_history(store_, 3, "k");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].value, "2");
  EXPECT_EQ(h[1].op, operation::del);
  EXPECT_EQ(h[2].value, "3");
  EXPECT_EQ(h[2].version, 1u);
  EXPECT_LT(h[0].revision, h[1].revision);
}

TEST_F(kv_table_test, change_log_is_retained_by_count_and_age) {
  kv_config cfg;
  cfg.log_max_count = 3;
  cfg.log_max_age = 1min;
  table_ = kv_table{3, cfg};
  EXPECT_EQ(table_.oldest_log_revision(), 1u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(put("k", std::to_string(i)));
  }
  EXPECT_EQ(table_.oldest_log_revision(), 3u);
  size_t logged = 0;
  auto pfx = kv_table::prefix(3) + "l";
  for (auto& [k, v] : store_) {
    logged += k.starts_with(pfx) ? 1 : 0;
  }
  EXPECT_EQ(logged, 3u);
  clock_.advance(2min);
  effects fx;
  (void) table_.apply(trim_log_cmd{}, at(clock_.now()), fx);
  persist(fx);
  EXPECT_EQ(table_.oldest_log_revision(), 6u); // empty: revision + 1
  logged = 0;
  for (auto& [k, v] : store_) {
    logged += k.starts_with(pfx) ? 1 : 0;
  }
  EXPECT_EQ(logged, 0u);
}

TEST_F(kv_table_test, a_full_change_log_is_cut_back_in_chunks) {
  kv_config cfg;
  cfg.log_max_count = 32; // may run over by 32 / 16 = 2
  table_ = kv_table{3, cfg};
  auto pfx = kv_table::prefix(3) + "l";
  auto logged = [&] {
    size_t n = 0;
    for (auto& [k, v] : store_) {
      n += k.starts_with(pfx) ? 1 : 0;
    }
    return n;
  };
  for (int i = 0; i < 34; ++i) {
    ASSERT_TRUE(put("k" + std::to_string(i % 5), "v"));
  }
  EXPECT_EQ(logged(), 34u);
  EXPECT_EQ(table_.oldest_log_revision(), 1u);
  ASSERT_TRUE(put("k", "v")); // 35 > 34: back to 32 with one range delete
  EXPECT_EQ(logged(), 32u);
  EXPECT_EQ(table_.oldest_log_revision(), 4u);
  // The shard's revision travels in the newest log record, not in a record
  // of its own per change.
  EXPECT_EQ(store_.count(kv_table::prefix(3) + "m"), 0u);
  kv_table restored{3, cfg};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  EXPECT_EQ(restored.revision(), 35u);
  EXPECT_EQ(restored.oldest_log_revision(), 4u);
}

TEST_F(kv_table_test, restore_rebuilds_keys_revisions_deadlines_and_log) {
  ASSERT_TRUE(put("a", "1", 30s));
  ASSERT_TRUE(put("b", "2"));
  ASSERT_TRUE(put("b", "3"));
  ASSERT_TRUE(del("a"));
  ASSERT_TRUE(put("c", "4", 10s));
  kv_table restored{3, kv_config{}};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  EXPECT_EQ(restored.revision(), table_.revision());
  EXPECT_EQ(restored.oldest_log_revision(), table_.oldest_log_revision());
  auto b = restored.get("b", clock_.now());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->value, "3");
  EXPECT_EQ(b->version, 2u);
  EXPECT_EQ(restored.get("a", clock_.now()).code(), errc::not_found);
  EXPECT_EQ(restored.next_expiry(), clock_.now() + 10s);
  // The next change continues the revision sequence.
  effects fx;
  auto r = restored.apply(put_cmd{"d", "5"}, at(clock_.now()), fx);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->revision, table_.revision() + 1);
}

TEST_F(kv_table_test, restore_keeps_the_revision_after_everything_was_trimmed) {
  ASSERT_TRUE(put("a", "1"));
  ASSERT_TRUE(del("a"));
  clock_.advance(48h);
  effects fx;
  (void) table_.apply(trim_log_cmd{}, at(clock_.now()), fx);
  persist(fx);
  kv_table restored{3, kv_config{}};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  EXPECT_EQ(restored.revision(), 2u);
  EXPECT_EQ(restored.oldest_log_revision(), 3u);
}

TEST_F(kv_table_test, fences_refuse_a_stale_token_per_lock_and_survive_delete) {
  auto fenced_put = [&](std::string key, std::string value, fence f) {
    effects fx;
    put_cmd cmd{std::move(key), std::move(value)};
    cmd.fence = std::move(f);
    auto r = table_.apply(cmd, at(clock_.now()), fx);
    persist(fx);
    return r;
  };
  auto fenced_del = [&](std::string key, fence f) {
    effects fx;
    delete_cmd cmd{std::move(key)};
    cmd.fence = std::move(f);
    auto r = table_.apply(cmd, at(clock_.now()), fx);
    persist(fx);
    return r;
  };
  ASSERT_TRUE(fenced_put("counter", "1", {"jobs.lock", 5}));
  // The same token again and a higher one pass.
  ASSERT_TRUE(fenced_put("counter", "2", {"jobs.lock", 5}));
  ASSERT_TRUE(fenced_put("counter", "3", {"jobs.lock", 7}));
  auto stale = fenced_put("counter", "stale", {"jobs.lock", 6});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.code(), errc::fenced);
  EXPECT_EQ(stale.err().current, 7u);
  EXPECT_EQ(table_.get("counter", clock_.now())->value, "3");
  // Another lock has its own counter; an unfenced write is not checked.
  ASSERT_TRUE(fenced_put("counter", "4", {"other.lock", 1}));
  ASSERT_TRUE(put("counter", "5"));
  // A stale delete is refused and changes nothing.
  auto stale_del = fenced_del("counter", {"jobs.lock", 2});
  ASSERT_FALSE(stale_del);
  EXPECT_EQ(stale_del.code(), errc::fenced);
  EXPECT_TRUE(table_.get("counter", clock_.now()));
  // The key's fences outlive the key and a restart.
  ASSERT_TRUE(fenced_del("counter", {"jobs.lock", 8}));
  EXPECT_EQ(fenced_put("counter", "late", {"jobs.lock", 7}).code(),
            errc::fenced);
  kv_table restored{3, kv_config{}};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  effects fx;
  put_cmd late{"counter", "late"};
  late.fence = {"jobs.lock", 7};
  EXPECT_EQ(restored.apply(late, at(clock_.now()), fx).code(), errc::fenced);
  EXPECT_TRUE(fx.empty());
  late.fence = {"jobs.lock", 9};
  EXPECT_TRUE(restored.apply(late, at(clock_.now()), fx));
}

TEST_F(kv_table_test, fence_checks_come_before_conditions_and_reject_bad_fences) {
  effects fx;
  put_cmd cmd{"k", "v"};
  cmd.fence = {"lock", 0};
  EXPECT_EQ(table_.apply(cmd, at(clock_.now()), fx).code(), errc::invalid_argument);
  cmd.fence = {"bad..lock", 1};
  EXPECT_EQ(table_.apply(cmd, at(clock_.now()), fx).code(), errc::invalid_argument);
  EXPECT_TRUE(fx.empty());
  cmd.fence = {"lock", 4};
  ASSERT_TRUE(table_.apply(cmd, at(clock_.now()), fx));
  // A stale fence with a wrong condition answers `fenced`, not `conflict`.
  cmd.fence = {"lock", 3};
  cmd.if_revision = 99;
  EXPECT_EQ(table_.apply(cmd, at(clock_.now()), fx).code(), errc::fenced);
  // A failed condition does not remember the fence.
  cmd.fence = {"lock", 10};
  EXPECT_EQ(table_.apply(cmd, at(clock_.now()), fx).code(), errc::conflict);
  cmd.fence = {"lock", 5};
  cmd.if_revision = any_revision;
  EXPECT_TRUE(table_.apply(cmd, at(clock_.now()), fx));
  // At most max_fences_per_key distinct locks per key.
  kv_config small;
  small.max_fences_per_key = 2;
  kv_table t{3, small};
  for (auto* lock : {"a", "b"}) {
    cmd.fence = {lock, 1};
    ASSERT_TRUE(t.apply(cmd, at(clock_.now()), fx));
  }
  cmd.fence = {"c", 1};
  EXPECT_EQ(t.apply(cmd, at(clock_.now()), fx).code(), errc::invalid_argument);
  cmd.fence = {"a", 2};
  EXPECT_TRUE(t.apply(cmd, at(clock_.now()), fx));
}

TEST_F(kv_table_test, ending_a_lease_removes_its_keys_with_events) {
  auto leased_put = [&](std::string key, uint64_t lease, duration ttl = 0s) {
    effects fx;
    put_cmd cmd{std::move(key), "v", ttl};
    cmd.lease = lease;
    auto r = table_.apply(cmd, at(clock_.now()), fx);
    persist(fx);
    return r;
  };
  ASSERT_TRUE(leased_put("svc.a", 7));
  ASSERT_TRUE(leased_put("svc.b", 7, 1s));
  ASSERT_TRUE(leased_put("svc.c", 8));
  ASSERT_TRUE(leased_put("svc.d", 7));
  ASSERT_TRUE(leased_put("svc.d", 0)); // rebound: no longer on lease 7
  ASSERT_TRUE(put("plain", "v"));
  auto leases = table_.leases();
  std::sort(leases.begin(), leases.end());
  EXPECT_EQ(leases, (std::vector<uint64_t>{7, 8}));
  clock_.advance(2s);
  effects fx;
  EXPECT_EQ(*table_.apply(end_lease_cmd{7, operation::del}, at(clock_.now()), fx), 2u);
  persist(fx);
  ASSERT_EQ(fx.events.size(), 2u);
  EXPECT_EQ(fx.events[0].key, "svc.a");
  EXPECT_EQ(fx.events[0].op, operation::del);
  EXPECT_EQ(fx.events[1].op, operation::expire); // its own TTL had passed
  EXPECT_EQ(table_.get("svc.a", clock_.now()).code(), errc::not_found);
  EXPECT_TRUE(table_.get("svc.c", clock_.now()));
  EXPECT_TRUE(table_.get("svc.d", clock_.now()));
  effects none;
  EXPECT_EQ(*table_.apply(end_lease_cmd{7, operation::del}, at(clock_.now()), none), 0u);
  EXPECT_TRUE(none.empty());
  // Bindings come back with a restart.
  kv_table restored{3, kv_config{}};
  for (auto& [k, v] : store_) {
    ASSERT_TRUE(restored.restore(k, v));
  }
  EXPECT_EQ(restored.leases(), std::vector<uint64_t>{8});
  effects gone;
  EXPECT_EQ(*restored.apply(end_lease_cmd{8, operation::expire}, at(clock_.now()), gone), 1u);
  EXPECT_EQ(restored.get("svc.c", clock_.now()).code(), errc::not_found);
}

TEST_F(kv_table_test, corrupt_records_are_reported_not_trusted) {
  kv_table t{3, kv_config{}};
  auto r = t.restore(kv_table::entry_key(3, "k"), "\x09garbage");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), errc::storage_error);
  EXPECT_FALSE(t.restore(kv_table::entry_key(4, "k"), ""));
  EXPECT_FALSE(t.restore(kv_table::log_key(3, 1), ""));
}

TEST_F(kv_table_test, codecs_round_trip) {
  entry e{"k", std::string("v\0x", 3), 5, 2, 3, from_unix_nanos(1), from_unix_nanos(2),
          from_unix_nanos(3), 9};
  auto back = kv_table::decode_entry("k", kv_table::encode(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->value, e.value);
  EXPECT_EQ(back->revision, 5u);
  EXPECT_EQ(back->lease, 9u);
  EXPECT_EQ(back->expires_at, e.expires_at);
  event ev{"k", operation::expire, 7, 6, "", from_unix_nanos(-5), 0};
  auto ev2 = kv_table::decode_event(kv_table::encode(ev));
  ASSERT_TRUE(ev2);
  EXPECT_EQ(ev2->op, operation::expire);
  EXPECT_EQ(ev2->at, ev.at);
}

TEST(codec, varints_and_fixed_width_round_trip_and_detect_truncation) {
  std::string buf;
  codec::writer w{buf};
  w.varint(0);
  w.varint(300);
  w.varint(UINT64_MAX);
  w.i64(-1);
  w.i64(INT64_MIN);
  w.u16be(0xabcd);
  w.u64be(0x0102030405060708ULL);
  w.bytes("hello");
  codec::reader r{buf};
  EXPECT_EQ(r.varint(), 0u);
  EXPECT_EQ(r.varint(), 300u);
  EXPECT_EQ(r.varint(), UINT64_MAX);
  EXPECT_EQ(r.i64(), -1);
  EXPECT_EQ(r.i64(), INT64_MIN);
  EXPECT_EQ(r.u16be(), 0xabcd);
  EXPECT_EQ(r.u64be(), 0x0102030405060708ULL);
  EXPECT_EQ(r.bytes(), "hello");
  EXPECT_TRUE(r.done());
  codec::reader cut{std::string_view{buf}.substr(0, buf.size() - 2)};
  for (int i = 0; i < 7; ++i) {
    cut.varint();
  }
  cut.u64be();
  cut.bytes();
  EXPECT_FALSE(cut.good());
}

} // namespace
} // namespace shoal::kv

#include "runtime/kv/cursor.hpp"

namespace shoal::kv {
namespace {

TEST(cursor, round_trips_and_rejects_foreign_or_broken_tokens) {
  cursor c{0, 5, 1'000'000, UINT64_MAX - 1};
  auto token = encode_cursor(c);
  EXPECT_TRUE(token.starts_with("c1."));
  auto back = decode_cursor(token, 4);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, c);
  EXPECT_EQ(decode_cursor(token, 8).code(), errc::invalid_argument);
  EXPECT_FALSE(decode_cursor("c1.", 4));
  EXPECT_FALSE(decode_cursor("x1.AAAA", 4));
  EXPECT_FALSE(decode_cursor(token + "A", 4));
  EXPECT_FALSE(decode_cursor("c1.!!!!", 4));
  // The largest revision means "from now" inside a node: a cursor that
  // holds it was not made by shoal.
  EXPECT_FALSE(decode_cursor(encode_cursor(cursor{0, UINT64_MAX}), 2));
  // Padding or the standard alphabet are not the token's encoding.
  EXPECT_FALSE(decode_cursor(token + "=", 4));
}

TEST(merge_pages, sorts_limits_and_reports_more) {
  auto page = [](std::vector<std::string> keys, bool more, uint64_t rev) {
    list_page p;
    for (auto& k : keys) {
      entry e;
      e.key = k;
      p.items.push_back(e);
    }
    p.more = more;
    p.revision = rev;
    return p;
  };
  auto m = merge_pages({page({"b", "d"}, false, 3), page({"a", "c"}, false, 9)}, 3);
  ASSERT_EQ(m.items.size(), 3u);
  EXPECT_EQ(m.items[0].key, "a");
  EXPECT_EQ(m.items[2].key, "c");
  EXPECT_TRUE(m.more);
  EXPECT_EQ(m.revision, 9u);
  auto all = merge_pages({page({"x"}, true, 1), page({}, false, 1)}, 10);
  EXPECT_EQ(all.items.size(), 1u);
  EXPECT_TRUE(all.more);
}

} // namespace
} // namespace shoal::kv

namespace shoal::kv {
namespace {

using namespace std::chrono_literals;

std::vector<command> sample_kv_commands() {
  return {put_cmd{"a", "1", 0s, any_revision, 0, {}},
          put_cmd{"b", std::string{"x\0y", 3}, 2s, any_revision, 7, {}},
          put_cmd{"a", "2", 0s, 1, 0, fence{"lock.a", 3}},
          delete_cmd{"a", any_revision, fence{"lock.a", 4}},
          put_cmd{"c", "3", 1s, 0, 0, {}},
          expire_cmd{},
          end_lease_cmd{7, operation::del},
          trim_log_cmd{},
          delete_cmd{"zz", 5, {}}};
}

TEST(kv_commands, every_command_round_trips_and_every_prefix_is_refused) {
  test::expect_exact_encodings(sample_kv_commands());
  // An end_lease with an operation that does not exist.
  EXPECT_FALSE(decode_from_string<command>(std::string{"\x05\x07\x09", 3}));
}

// The same commands with the same contexts on two fresh machines give
// byte-identical records, the same events and the same answers.
TEST(kv_commands, applying_the_same_sequence_twice_is_deterministic) {
  test::expect_deterministic(
    [] { return kv_table{5, kv_config{}}; }, sample_kv_commands(), 5, 1500ms,
    [](codec::writer& w, const auto& e) {
      w.bytes(kv_table::encode(e));
    },
    200u);
}

} // namespace
} // namespace shoal::kv
