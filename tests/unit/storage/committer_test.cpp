#include "runtime/storage/committer.hpp"

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace shoal::storage {
namespace {

/// Wraps the memory engine; the first write blocks until the test opens the
/// gate, so batches submitted meanwhile pile up in the committer's queue.
class gated_engine final : public engine {
public:
  gated_engine() : inner_(make_memory_engine()) {
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
    if (first_) {
      first_ = false;
      entered_.set_value();
      gate_future_.wait();
    }
    {
      std::lock_guard guard{mtx_};
      durabilities.push_back(d);
    }
    return inner_->write(batch, d);
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

private:
  std::unique_ptr<engine> inner_;
  std::promise<void> entered_;
  std::promise<void> gate_;
  std::shared_future<void> gate_future_ = gate_.get_future().share();
  bool first_ = true;
};

struct run_result {
  committer::counters stats;
  std::vector<int> order;
  std::vector<durability> durabilities;
  int failures = 0;
};

run_result submit_while_blocked(sync_mode mode, int n) {
  gated_engine store;
  auto entered = store.entered();
  committer c{store, mode};
  std::mutex mtx;
  run_result out;
  std::vector<std::future<void>> acks;
  auto submit = [&](int i) {
    auto done = std::make_shared<std::promise<void>>();
    acks.push_back(done->get_future());
    write_batch b;
    b.put(column::kv, "k" + std::to_string(i), "v");
    c.submit(std::move(b), [&, i, done](result<void> r) {
      {
        std::lock_guard guard{mtx};
        out.order.push_back(i);
        out.failures += r ? 0 : 1;
      }
      done->set_value();
    });
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
  EXPECT_EQ(r.stats.commits, 2u); // the blocked one, then all 49 together
  EXPECT_EQ(r.order, iota(50));
  EXPECT_EQ(r.failures, 0);
  for (auto d : r.durabilities) {
    EXPECT_EQ(d, durability::sync);
  }
}

TEST(committer, always_mode_syncs_every_batch_on_its_own) {
  auto r = submit_while_blocked(sync_mode::always, 20);
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
    write_batch b;
    b.put(column::kv, "k" + std::to_string(i), "v");
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
