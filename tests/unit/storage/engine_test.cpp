// One typed suite for every storage engine: the in-memory engine must behave
// exactly like RocksDB.

#include "runtime/storage/engine.hpp"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.hpp"

namespace shoal::storage {
namespace {

struct memory_factory {
  std::unique_ptr<engine> open() {
    return make_memory_engine();
  }
  bool persistent() const {
    return false;
  }
};

struct rocksdb_factory {
  test::temp_dir dir{"shoal-engine"};
  std::unique_ptr<engine> open() {
    auto r = open_rocksdb_engine(rocksdb_options{dir / "db"});
    if (!r) {
      ADD_FAILURE() << to_string(r.err());
      return nullptr;
    }
    return std::move(r).value();
  }
  bool persistent() const {
    return true;
  }
};

template <class Factory>
class engine_test : public testing::Test {
protected:
  void SetUp() override {
    store_ = factory_.open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    if (store_) {
      store_->close();
    }
  }

  void put(column cf, std::string k, std::string v) {
    write_batch b;
    b.put(cf, std::move(k), std::move(v));
    ASSERT_TRUE(store_->write(b, durability::sync));
  }

  std::optional<std::string> get(column cf, std::string_view k) {
    auto r = store_->get(cf, k);
    EXPECT_TRUE(r);
    return r ? *r : std::nullopt;
  }

  std::vector<std::string> keys(const read_view& v, column cf,
                                std::string_view begin, std::string_view end,
                                direction dir = direction::forward) {
    std::vector<std::string> out;
    auto r = v.scan(cf, begin, end,
                    [&](std::string_view k, std::string_view) {
                      out.emplace_back(k);
                      return true;
                    },
                    dir);
    EXPECT_TRUE(r);
    return out;
  }

  Factory factory_;
  std::unique_ptr<engine> store_;
};

using factories = testing::Types<memory_factory, rocksdb_factory>;
TYPED_TEST_SUITE(engine_test, factories);

using strings = std::vector<std::string>;

TYPED_TEST(engine_test, get_returns_what_was_put_and_nothing_else) {
  this->put(column::kv, "a", "1");
  EXPECT_EQ(this->get(column::kv, "a"), "1");
  EXPECT_EQ(this->get(column::kv, "b"), std::nullopt);
}

TYPED_TEST(engine_test, columns_are_separate_keyspaces) {
  this->put(column::kv, "k", "kv");
  this->put(column::lock, "k", "lock");
  EXPECT_EQ(this->get(column::kv, "k"), "kv");
  EXPECT_EQ(this->get(column::lock, "k"), "lock");
  EXPECT_EQ(this->get(column::stream, "k"), std::nullopt);
}

TYPED_TEST(engine_test, batch_applies_puts_and_deletes_in_order) {
  this->put(column::kv, "gone", "x");
  write_batch b;
  b.put(column::kv, "a", "1");
  b.put(column::kv, "a", "2");
  b.erase(column::kv, "gone");
  b.put(column::meta, "m", "meta");
  b.erase(column::kv, "never-there");
  ASSERT_TRUE(this->store_->write(b, durability::sync));
  EXPECT_EQ(this->get(column::kv, "a"), "2");
  EXPECT_EQ(this->get(column::kv, "gone"), std::nullopt);
  EXPECT_EQ(this->get(column::meta, "m"), "meta");
}

TYPED_TEST(engine_test, erase_range_removes_half_open_interval) {
  for (auto k : {"a", "b", "c", "d"}) {
    this->put(column::kv, k, k);
  }
  write_batch b;
  b.erase_range(column::kv, "b", "d");
  ASSERT_TRUE(this->store_->write(b, durability::sync));
  EXPECT_EQ(this->keys(*this->store_, column::kv, "", ""), (strings{"a", "d"}));
}

TYPED_TEST(engine_test, scans_are_ordered_bounded_and_reversible) {
  for (auto k : {"b", "a", "c/1", "c/2", "c0", "d"}) {
    this->put(column::kv, k, "v");
  }
  EXPECT_EQ(this->keys(*this->store_, column::kv, "", ""),
            (strings{"a", "b", "c/1", "c/2", "c0", "d"}));
  EXPECT_EQ(this->keys(*this->store_, column::kv, "b", "c0"),
            (strings{"b", "c/1", "c/2"}));
  EXPECT_EQ(this->keys(*this->store_, column::kv, "b", "c0",
                       direction::backward),
            (strings{"c/2", "c/1", "b"}));
  EXPECT_EQ(this->keys(*this->store_, column::kv, "", "", direction::backward),
            (strings{"d", "c0", "c/2", "c/1", "b", "a"}));
  strings prefixed;
  ASSERT_TRUE(this->store_->scan_prefix(column::kv, "c/",
                                        [&](std::string_view k,
                                            std::string_view) {
                                          prefixed.emplace_back(k);
                                          return true;
                                        }));
  EXPECT_EQ(prefixed, (strings{"c/1", "c/2"}));
}

TYPED_TEST(engine_test, scan_stops_when_the_visitor_says_so) {
  for (auto k : {"a", "b", "c"}) {
    this->put(column::kv, k, "v");
  }
  int seen = 0;
  ASSERT_TRUE(this->store_->scan(column::kv, "", "",
                                 [&](std::string_view, std::string_view) {
                                   return ++seen < 2;
                                 }));
  EXPECT_EQ(seen, 2);
}

TYPED_TEST(engine_test, binary_keys_and_values_survive) {
  std::string key{"k\0\xff\x01", 4};
  std::string value{"\0\0v\xfe", 4};
  this->put(column::stream, key, value);
  EXPECT_EQ(this->get(column::stream, key), value);
  std::string high_prefix{"\xff\xff", 2};
  this->put(column::stream, high_prefix + "z", "top");
  strings found;
  ASSERT_TRUE(this->store_->scan_prefix(column::stream, high_prefix,
                                        [&](std::string_view k,
                                            std::string_view) {
                                          found.emplace_back(k);
                                          return true;
                                        }));
  EXPECT_EQ(found, (strings{high_prefix + "z"}));
}

TYPED_TEST(engine_test, snapshot_sees_the_state_when_it_was_taken) {
  this->put(column::kv, "a", "old");
  this->put(column::kv, "b", "b");
  auto snap = this->store_->make_snapshot();
  this->put(column::kv, "a", "new");
  this->put(column::kv, "c", "c");
  write_batch b;
  b.erase(column::kv, "b");
  ASSERT_TRUE(this->store_->write(b, durability::sync));

  auto old = snap->get(column::kv, "a");
  ASSERT_TRUE(old);
  EXPECT_EQ(*old, "old");
  EXPECT_EQ(this->keys(*snap, column::kv, "", ""), (strings{"a", "b"}));
  EXPECT_EQ(this->keys(*this->store_, column::kv, "", ""),
            (strings{"a", "c"}));
}

TYPED_TEST(engine_test, concurrent_writers_and_readers) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 200; ++i) {
        write_batch b;
        b.put(column::kv, "t" + std::to_string(t) + "/" + std::to_string(i),
              "v");
        EXPECT_TRUE(this->store_->write(b, durability::async));
        EXPECT_TRUE(this->store_->get(column::kv, "t0/0"));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(this->keys(*this->store_, column::kv, "", "").size(), 800u);
}

TYPED_TEST(engine_test, closed_engine_refuses_work) {
  this->store_->close();
  auto r = this->store_->get(column::kv, "a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), errc::shutting_down);
  write_batch b;
  b.put(column::kv, "a", "1");
  EXPECT_EQ(this->store_->write(b, durability::sync).code(),
            errc::shutting_down);
}

TYPED_TEST(engine_test, reopening_keeps_data_only_when_persistent) {
  this->put(column::idempotency, "k", "v");
  this->store_->close();
  this->store_.reset();
  this->store_ = this->factory_.open();
  ASSERT_NE(this->store_, nullptr);
  auto expected = this->factory_.persistent() ? std::optional<std::string>{"v"}
                                              : std::nullopt;
  EXPECT_EQ(this->get(column::idempotency, "k"), expected);
}

TEST(rocksdb_engine, second_open_of_the_same_directory_fails_cleanly) {
  test::temp_dir dir{"shoal-lock"};
  auto first = open_rocksdb_engine(rocksdb_options{dir / "db"});
  ASSERT_TRUE(first);
  auto second = open_rocksdb_engine(rocksdb_options{dir / "db"});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.code(), errc::storage_error);
}

TEST(sync_mode, parses_and_prints) {
  for (auto m : {sync_mode::always, sync_mode::batch, sync_mode::none}) {
    auto r = parse_sync_mode(to_string(m));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, m);
  }
  EXPECT_FALSE(parse_sync_mode("fsync"));
}

TEST(prefix_successor, increments_last_byte_and_drops_ff_bytes) {
  EXPECT_EQ(prefix_successor("ab"), "ac");
  EXPECT_EQ(prefix_successor(std::string{"a\xff", 2}), "b");
  EXPECT_EQ(prefix_successor(std::string{"\xff\xff", 2}), "");
  EXPECT_EQ(prefix_successor(""), "");
}

} // namespace
} // namespace shoal::storage
