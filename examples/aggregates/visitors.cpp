// Web analytics on an embedded node: unique visitors per page per hour
// (hll) and the top pages of the hour (topk), fed by page-view events that
// a flaky collector delivers more than once. Every event carries its id,
// so redeliveries count once. An on-merge hook counts the views as they
// become durable.

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "actors/agg_client.hpp"
#include "actors/node.hpp"

using namespace std::chrono_literals;

namespace {

struct page_view {
  std::string id;
  std::string visitor;
  std::string page;
};

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
  auto& node = **n;
  shoal::agg_client aggs{node};
  for (auto def : {shoal::agg::definition{.name = "visitors", .k = shoal::agg::kind::hll,
                                          .window = 1h, .retention = 30 * 24h},
                   shoal::agg::definition{.name = "top.pages", .k = shoal::agg::kind::topk,
                                          .params = {.k = 10}, .window = 1h,
                                          .retention = 30 * 24h}}) {
    if (auto ok = aggs.define(def); !ok) {
      return fail("define", ok.err());
    }
  }
  std::atomic<int> durable_views{0};
  node.on_merge("top.pages", [&](const shoal::merge_event&) { ++durable_views; });

  // 600 views by 150 visitors over 5 pages; /home is the most viewed.
  const std::vector<std::string> pages{"/home", "/home", "/home", "/pricing",
                                       "/docs", "/docs", "/blog", "/about"};
  std::vector<page_view> views;
  for (int i = 0; i < 600; ++i) {
    views.push_back({"pv-" + std::to_string(i), "visitor-" + std::to_string(i % 150),
                     pages[(i * 7) % pages.size()]});
  }
  // The collector delivers every event, then redelivers a third of them.
  auto deliver = [&](size_t step) -> shoal::result<int> {
    std::vector<shoal::agg::merge_cmd> batch;
    for (size_t i = 0; i < views.size(); i += step) {
      const auto& v = views[i];
      shoal::merge_options opts{.event_id = v.id};
      auto who = aggs.delta("visitors", std::vector<std::string>{v.visitor});
      auto what = aggs.delta("top.pages", std::vector<std::string>{v.page});
      if (!who || !what) {
        return shoal::error{shoal::errc::invalid_argument, "bad delta"};
      }
      batch.push_back(shoal::agg_client::command("visitors", v.page, *who, opts));
      batch.push_back(shoal::agg_client::command("top.pages", "site", *what, opts));
    }
    auto r = aggs.merge(std::move(batch));
    if (!r) {
      return std::move(r).err();
    }
    int fresh = 0;
    for (const auto& o : *r) {
      if (o.code != 0) {
        return shoal::error{static_cast<shoal::errc>(o.code), o.message};
      }
      fresh += o.r.duplicate ? 0 : 1;
    }
    return fresh;
  };
  auto first = deliver(1);
  auto again = deliver(3);
  if (!first || !again) {
    return fail("merge", first ? again.err() : first.err());
  }
  std::printf("merged %d, redelivered and ignored: %d new\n", *first, *again);

  auto top = aggs.get("top.pages", "site");
  if (!top) {
    return fail("top pages", top.err());
  }
  const auto& summary = std::get<shoal::agg::topk>(top->v);
  std::printf("top pages this hour (%llu views):\n",
              static_cast<unsigned long long>(summary.total()));
  for (const auto& item : summary.top()) {
    std::printf("  %-10s %llu\n", item.key.c_str(),
                static_cast<unsigned long long>(item.count));
  }
  auto home = aggs.last("visitors", "/home", 24);
  if (!home) {
    return fail("visitors", home.err());
  }
  auto unique_home = std::get<shoal::agg::hll>(home->v).estimate();
  std::printf("unique visitors of /home, last 24 h: %llu\n",
              static_cast<unsigned long long>(unique_home));
  std::printf("views seen by the on-merge hook: %d\n", durable_views.load());

  // Each view counted once; /home leads; the estimate is within 2%.
  bool ok = *again == 0 && summary.total() == views.size()
            && !summary.top().empty() && summary.top().front().key == "/home"
            && durable_views.load() == static_cast<int>(views.size());
  std::set<std::string> home_visitors;
  for (const auto& v : views) {
    if (v.page == "/home") {
      home_visitors.insert(v.visitor);
    }
  }
  auto exact = static_cast<double>(home_visitors.size());
  ok = ok && std::abs(static_cast<double>(unique_home) - exact) <= 0.02 * exact;
  node.stop();
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
