// Two workers race for a job lock bound to their leases. The winner writes
// its report guarded by the lock's fence. Its lease is then revoked (as if
// it had stalled past its TTL); the other worker takes over, and the
// stalled worker's late write is refused with `fenced` instead of
// overwriting the newer report.

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "actors/kv_client.hpp"
#include "actors/lock_client.hpp"
#include "actors/node.hpp"

using namespace std::chrono_literals;

namespace {

// Writes `report` to the job's output, guarded by the hold's fence.
shoal::result<shoal::kv::write_result> write_report(shoal::kv_client& kv,
                                                    const shoal::lock::lock_info& hold,
                                                    const std::string& report) {
  shoal::kv::put_cmd put;
  put.key = "jobs.nightly.report";
  put.value = report;
  put.fence = shoal::kv::fence{hold.key, hold.fence};
  return kv.put(std::move(put));
}

int fail(const char* what, const shoal::error& e) {
  std::fprintf(stderr, "%s: %s\n", what, shoal::to_string(e).c_str());
  return EXIT_FAILURE;
}

} // namespace

int main() {
  shoal::node_config cfg;
  cfg.http_address.clear(); // embedded only
  auto n = shoal::node::start(cfg);
  if (!n) {
    return fail("start", n.err());
  }
  shoal::lock_client locks{**n};
  shoal::kv_client kv{**n};

  auto lease_a = locks.grant(10s);
  auto lease_b = locks.grant(10s);
  if (!lease_a || !lease_b) {
    return fail("grant", lease_a ? lease_b.err() : lease_a.err());
  }
  // Worker A gets the lock; worker B queues behind it.
  auto a = locks.acquire("jobs.nightly", 10s, 0s, lease_a->id);
  if (!a) {
    return fail("acquire a", a.err());
  }
  shoal::result<shoal::lock::lock_info> b = shoal::error{shoal::errc::internal};
  std::thread b_thread{[&] { b = locks.acquire("jobs.nightly", 10s, 30s, lease_b->id); }};

  if (auto w = write_report(kv, *a, "report by a"); !w) {
    return fail("a writes", w.err());
  }
  // A stalls; its lease ends. B is handed the lock with a higher fence.
  if (auto r = locks.revoke(lease_a->id); !r) {
    return fail("revoke a", r.err());
  }
  b_thread.join();
  if (!b) {
    return fail("acquire b", b.err());
  }
  std::printf("a held fence %llu, b holds fence %llu\n",
              static_cast<unsigned long long>(a->fence),
              static_cast<unsigned long long>(b->fence));
  if (auto w = write_report(kv, *b, "report by b"); !w) {
    return fail("b writes", w.err());
  }
  // A wakes up and writes late: refused.
  auto late = write_report(kv, *a, "late report by a");
  if (late || late.code() != shoal::errc::fenced) {
    std::fprintf(stderr, "the stale write was not fenced\n");
    return EXIT_FAILURE;
  }
  std::printf("a's late write: %s\n", shoal::to_string(late.err()).c_str());
  auto report = kv.get("jobs.nightly.report");
  if (!report || report->value != "report by b") {
    std::fprintf(stderr, "the report is not b's\n");
    return EXIT_FAILURE;
  }
  std::printf("report: %s\n", report->value.c_str());
  if (auto r = locks.release("jobs.nightly", b->owner_token); !r) {
    return fail("release b", r.err());
  }
  if (auto r = locks.revoke(lease_b->id); !r) {
    return fail("revoke b", r.err());
  }
  (*n)->stop();
  return EXIT_SUCCESS;
}
