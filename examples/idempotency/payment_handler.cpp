// A payment handler that is safe to retry. The client's retries (sent
// concurrently, and again after the node restarted) charge the card once
// and all get the same receipt; reusing the order id for a different
// request is refused.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "actors/idem_client.hpp"
#include "actors/node.hpp"
#include "runtime/idempotency/key_builder.hpp"
#include "runtime/sha256.hpp"

using namespace std::chrono_literals;

namespace {

struct payment {
  std::string order_id;
  int64_t amount_cents;
  std::string currency;
};

// The card network: counts real charges.
std::mutex charges_mtx;
int charges = 0;

shoal::result<std::string> charge_card(const payment& p) {
  std::this_thread::sleep_for(50ms); // the network round trip
  std::lock_guard guard{charges_mtx};
  ++charges;
  return "receipt:" + p.order_id + ":" + std::to_string(p.amount_cents) + p.currency
         + ":#" + std::to_string(charges);
}

// The handler: one idempotency key per order, the whole request as the
// fingerprint. A concurrent duplicate gets `conflict` and retries shortly.
shoal::result<std::string> handle(shoal::idem_client& idem, const payment& p) {
  auto key = shoal::idem::build_key("shop", "payments", {p.order_id});
  if (!key) {
    return std::move(key).err();
  }
  shoal::once_options opts;
  opts.lease_ttl = 10s;
  opts.fingerprint = shoal::sha256::hex(p.order_id + "|" + std::to_string(p.amount_cents)
                                        + "|" + p.currency);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto r = shoal::run_once(idem, *key, opts, [&] { return charge_card(p); });
    if (!r && r.code() == shoal::errc::conflict) {
      std::this_thread::sleep_for(20ms); // someone is charging right now
      continue;
    }
    if (!r) {
      return std::move(r).err();
    }
    if (r->rec.st == shoal::idem::state::failed) {
      return shoal::fail(shoal::errc::conflict, r->rec.error_message);
    }
    return r->rec.result;
  }
  return shoal::fail(shoal::errc::timeout, "payment still in progress");
}

std::unique_ptr<shoal::node> start(const std::string& dir) {
  shoal::node_config cfg;
  cfg.data_dir = dir;
  cfg.http_address = "";
  cfg.worker_threads = 2;
  cfg.shard_count = 4;
  auto n = shoal::node::start(cfg);
  if (!n) {
    std::fprintf(stderr, "cannot start: %s\n", shoal::to_string(n.err()).c_str());
    std::exit(1);
  }
  return std::move(n).value();
}

} // namespace

int main() {
  char tmpl[] = "/tmp/shoal-payments-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return 1;
  }
  std::string dir = tmpl;
  payment p{"order-1001", 4999, "EUR"};
  std::vector<std::string> receipts(4);
  {
    auto node = start(dir);
    shoal::idem_client idem{*node};
    // 1. The client times out and retries: four copies of one request.
    std::vector<std::thread> retries;
    for (size_t i = 0; i < receipts.size(); ++i) {
      retries.emplace_back([&, i] {
        auto r = handle(idem, p);
        receipts[i] = r ? *r : "error: " + shoal::to_string(r.err());
      });
    }
    for (auto& t : retries) {
      t.join();
    }
    node->stop();
  }
  for (const auto& r : receipts) {
    std::printf("retry answered: %s\n", r.c_str());
  }
  // 2. The node restarts; one more retry still gets the stored receipt.
  auto node = start(dir);
  shoal::idem_client idem{*node};
  auto late = handle(idem, p);
  std::printf("after restart:  %s\n", late ? late->c_str() : "error");
  // 3. The same order id with another amount is a different request.
  auto other = handle(idem, payment{"order-1001", 1, "EUR"});
  std::printf("changed amount: %s\n",
              other ? other->c_str() : shoal::to_string(other.err()).c_str());
  node->stop();
  std::filesystem::remove_all(dir);

  bool same = late && *late == receipts[0];
  for (const auto& r : receipts) {
    same = same && r == receipts[0];
  }
  std::printf("card charged %d time(s)\n", charges);
  auto ok = charges == 1 && same && !other
            && other.code() == shoal::errc::fingerprint_mismatch;
  return ok ? 0 : 1;
}
