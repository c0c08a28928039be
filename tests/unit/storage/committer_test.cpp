#include "runtime/storage/committer.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

namespace shoal::storage {
namespace {

/// Wraps the memory engine; the first write (or, with `gate_sync`, the first
/// sync) blocks until the test opens the gate, so batches submitted
/// meanwhile pile up in the committer. It records which writes each sync
/// covered, so that a test can check that no batch is acknowledged before
/// a sync that started after its write.
class gated_engine final : public engine {
public:
  explicit gated_engine(bool gate_sync = false)
    : inner_(make_memory_engine()), gate_sync_(gate_sync) {
  }

  std::future<void> entered() {
    return entered_.get_future();
  }

  void open_gate() {
    gate_.set_value();
  }

  result<std::optional<std::string>> get(column cf,
                                         std::string_view key) const override {
    return inner_->get(cf, key);
  }

  result<void> scan(column cf, std::string_view b, std::string_view e,
                    const scan_fn& fn, direction dir) const override {
    return inner_->scan(cf, b, e, fn, dir);
  }

  result<void> write(const write_batch& batch, durability d) override {
    if (!gate_sync_) {
      wait_at_gate();
    }
    auto res = inner_->write(batch, d);
    std::lock_guard guard{mtx_};
    durabilities.push_back(d);
    ++writes_;
    written_cv_.notify_all();
    for (const auto& op : batch.ops()) {
      written_by_[op.key] = writes_;
    }
    if (d == durability::sync) {
      synced_up_to_ = writes_;
    }
    return res;
  }

  result<void> sync() override {
    uint64_t covered = 0;
    {
      std::lock_guard guard{mtx_};
      ++syncs;
      covered = writes_;
    }
    if (gate_sync_) {
      wait_at_gate();
    }
    if (fail_syncs) {
      return fail(errc::storage_error, "sync failed (test)");
    }
    auto res = inner_->sync();
    std::lock_guard guard{mtx_};
    synced_up_to_ = std::max(synced_up_to_, covered);
    return res;
  }

  /// Whether the write that carried `key` is covered by a finished sync.
  bool durable(const std::string& key) {
    std::lock_guard guard{mtx_};
    auto it = written_by_.find(key);
    return it != written_by_.end() && it->second <= synced_up_to_;
  }

  uint64_t writes() {
    std::lock_guard guard{mtx_};
    return writes_;
  }

  /// Waits (up to `timeout`) until `n` writes have returned.
  bool wait_for_writes(uint64_t n, std::chrono::seconds timeout) {
    std::unique_lock guard{mtx_};
    return written_cv_.wait_for(guard, timeout, [&] { return writes_ >= n; });
  }

  std::unique_ptr<snapshot> make_snapshot() const override {
    return inner_->make_snapshot();
  }

  result<void> flush() override {
    return {};
  }

  void close() override {
    inner_->close();
  }

  bool is_persistent() const override {
    return false;
  }

  engine_stats stats() const override {
    return inner_->stats();
  }

  std::mutex mtx_;
  std::vector<durability> durabilities;
  int syncs = 0;
  std::atomic<bool> fail_syncs{false};

private:
  void wait_at_gate() {
    if (first_.exchange(false)) {
      entered_.set_value();
      gate_future_.wait();
    }
  }

  std::unique_ptr<engine> inner_;
  bool gate_sync_;
  std::promise<void> entered_;
  std::promise<void> gate_;
  std::shared_future<void> gate_future_ = gate_.get_future().share();
  std::atomic<bool> first_{true};
  uint64_t writes_ = 0;
  uint64_t synced_up_to_ = 0;
  std::unordered_map<std::string, uint64_t> written_by_;
  std::condition_variable written_cv_;
};

/// A batch that puts "k<i>".
write_batch put_of(int i) {
  write_batch b;
  b.put(column::kv, "k" + std::to_string(i), "v");
  return b;
}

/// Submits `put_of(i)`; `on_ack` runs in its callback, and the returned
/// future is ready after it.
std::future<void> submit_put(committer& c, int i,
                             std::function<void(result<void>)> on_ack) {
  auto done = std::make_shared<std::promise<void>>();
  auto acked = done->get_future();
  c.submit(put_of(i), [done, on_ack = std::move(on_ack)](result<void> r) {
    on_ack(std::move(r));
    done->set_value();
  });
  return acked;
}

struct run_result {
  committer::counters stats;
  std::vector<int> order;
  std::vector<durability> durabilities;
  int syncs = 0;
  int failures = 0;
  int acked_before_durable = 0;
};

run_result submit_while_blocked(sync_mode mode, int n) {
  gated_engine store;
  auto entered = store.entered();
  committer c{store, mode};
  std::mutex mtx;
  run_result out;
  std::vector<std::future<void>> acks;
  auto submit = [&](int i) {
    acks.push_back(submit_put(c, i, [&, i](result<void> r) {
      auto durable = store.durable("k" + std::to_string(i));
      std::lock_guard guard{mtx};
      out.order.push_back(i);
      out.failures += r ? 0 : 1;
      out.acked_before_durable += durable ? 0 : 1;
    }));
  };
  submit(0);
  entered.wait();
  for (int i = 1; i < n; ++i) {
    submit(i);
  }
  store.open_gate();
  for (auto& a : acks) {
    a.wait();
  }
  out.stats = c.stats();
  c.stop();
  out.durabilities = store.durabilities;
  out.syncs = store.syncs;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(*store.get(column::kv, "k" + std::to_string(i)));
  }
  return out;
}

std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(i);
  }
  return v;
}

TEST(committer, batch_mode_shares_one_fsync_among_queued_batches) {
  auto r = submit_while_blocked(sync_mode::batch, 50);
  EXPECT_EQ(r.stats.batches, 50u);
  // The blocked batch and the 49 queued meanwhile are two writes; one sync
  // may cover both, or each gets its own.
  EXPECT_GE(r.stats.commits, 1u);
  EXPECT_LE(r.stats.commits, 2u);
  EXPECT_EQ(r.syncs, static_cast<int>(r.stats.commits));
  EXPECT_EQ(r.order, iota(50));
  EXPECT_EQ(r.failures, 0);
  EXPECT_EQ(r.acked_before_durable, 0);
  ASSERT_EQ(r.durabilities.size(), 2u);
  for (auto d : r.durabilities) {
    EXPECT_EQ(d, durability::async); // made durable by the sync
  }
}

TEST(committer, batch_mode_writes_the_next_group_while_a_sync_runs) {
  gated_engine store{true};
  auto entered = store.entered();
  committer c{store, sync_mode::batch};
  std::mutex mtx;
  std::vector<int> acked;
  std::vector<std::future<void>> acks;
  auto submit = [&](int i) {
    acks.push_back(submit_put(c, i, [&, i](result<void> r) {
      EXPECT_TRUE(r);
      EXPECT_TRUE(store.durable("k" + std::to_string(i)));
      std::lock_guard guard{mtx};
      acked.push_back(i);
    }));
  };
  submit(0);
  // Batch 0 is written; its sync is blocked.
  ASSERT_EQ(entered.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  for (int i = 1; i < 10; ++i) {
    submit(i);
  }
  // The writer does not wait for the blocked sync.
  EXPECT_TRUE(store.wait_for_writes(2, std::chrono::seconds{10}));
  {
    std::lock_guard guard{mtx};
    EXPECT_TRUE(acked.empty()); // nothing is acknowledged before its sync
  }
  store.open_gate();
  for (auto& a : acks) {
    a.wait();
  }
  EXPECT_EQ(acked, iota(10));
  auto stats = c.stats();
  c.stop();
  EXPECT_EQ(stats.batches, 10u);
  EXPECT_EQ(stats.commits, 2u); // the blocked sync, then one for the rest
}

TEST(committer, batch_mode_reports_a_failed_sync_to_every_batch_it_covers) {
  gated_engine store;
  store.fail_syncs = true;
  store.open_gate();
  committer c{store, sync_mode::batch};
  std::vector<std::future<errc>> codes;
  for (int i = 0; i < 5; ++i) {
    auto code = std::make_shared<std::promise<errc>>();
    codes.push_back(code->get_future());
    auto b = put_of(i);
    c.submit(std::move(b), [code](result<void> r) { code->set_value(r.code()); });
  }
  for (auto& code : codes) {
    EXPECT_EQ(code.get(), errc::storage_error);
  }
  c.stop();
  EXPECT_EQ(store.writes(), store.durabilities.size());
  EXPECT_GE(store.syncs, 1);
}

TEST(committer, always_mode_syncs_every_batch_on_its_own) {
  auto r = submit_while_blocked(sync_mode::always, 20);
  EXPECT_EQ(r.acked_before_durable, 0);
  EXPECT_EQ(r.stats.batches, 20u);
  EXPECT_EQ(r.stats.commits, 20u);
  EXPECT_EQ(r.order, iota(20));
  for (auto d : r.durabilities) {
    EXPECT_EQ(d, durability::sync);
  }
}

TEST(committer, none_mode_groups_without_waiting_for_the_disk) {
  auto r = submit_while_blocked(sync_mode::none, 10);
  EXPECT_EQ(r.stats.commits, 2u);
  for (auto d : r.durabilities) {
    EXPECT_EQ(d, durability::async);
  }
}

TEST(committer, stop_drains_queue_and_later_submits_fail_fast) {
  auto store = make_memory_engine();
  metrics::registry reg;
  committer c{*store, sync_mode::batch, &reg};
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    auto b = put_of(i);
    c.submit(std::move(b), [&](result<void> r) { ok += r ? 1 : 0; });
  }
  c.stop();
  EXPECT_EQ(ok.load(), 100);
  std::optional<errc> late;
  write_batch b;
  b.put(column::kv, "late", "v");
  c.submit(std::move(b), [&](result<void> r) { late = r.code(); });
  EXPECT_EQ(late, errc::shutting_down);
  EXPECT_FALSE(*store->get(column::kv, "late"));
  auto text = reg.render();
  EXPECT_NE(text.find("shoal_storage_batches_total{sync=\"batch\"} 100"),
            std::string::npos)
    << text;
}

TEST(committer, failed_write_reports_the_error_to_every_batch_of_the_group) {
  auto store = make_memory_engine();
  store->close();
  committer c{*store, sync_mode::batch};
  std::promise<errc> code;
  write_batch b;
  b.put(column::kv, "k", "v");
  c.submit(std::move(b), [&](result<void> r) { code.set_value(r.code()); });
  EXPECT_EQ(code.get_future().get(), errc::shutting_down);
}

} // namespace
} // namespace shoal::storage
