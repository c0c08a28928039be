// In-process micro-benchmarks (Google Benchmark) of hot paths: key checks,
// pattern matching, request-target decoding, routing, metrics, storage.

#include <benchmark/benchmark.h>

#include "net/http/http_error.hpp"
#include "net/http/router.hpp"
#include "net/http/target.hpp"
#include "runtime/key.hpp"
#include "runtime/metrics.hpp"
#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"
#include "runtime/time.hpp"

namespace {

void bm_validate_key(benchmark::State& state) {
  std::string key = "services.web.eu-west-1.instance-0042.health";
  for (auto _ : state) {
    benchmark::DoNotOptimize(shoal::validate_key(key));
  }
}
BENCHMARK(bm_validate_key);

void bm_pattern_match(benchmark::State& state) {
  auto p = *shoal::key_pattern::parse("services.web.>");
  std::string key = "services.web.eu-west-1.instance-0042.health";
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.matches(key));
  }
}
BENCHMARK(bm_pattern_match);

void bm_parse_duration(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(shoal::parse_duration("1h30m15s"));
  }
}
BENCHMARK(bm_parse_duration);

void bm_parse_target(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(
      shoal::http::parse_target("/v1/kv/config.db%2Fhost?ttl=30s&if_revision=42"));
  }
}
BENCHMARK(bm_parse_target);

void bm_route_match(benchmark::State& state) {
  shoal::http::router r;
  auto noop = [](shoal::http::request&, shoal::http::respond_fn) {};
  using shoal::http::method;
  for (auto p : {"/healthz", "/readyz", "/metrics", "/v1/node", "/v1/kv",
                 "/v1/locks/{key}", "/v1/locks/{key}/refresh",
                 "/v1/streams/{stream}/events", "/v1/idempotency/{key}/begin"}) {
    r.add(method::get, p, noop);
  }
  r.add(method::get, "/v1/kv/{key...}", noop);
  for (auto _ : state) {
    benchmark::DoNotOptimize(r.match(method::get, "/v1/kv/config.db.host"));
  }
}
BENCHMARK(bm_route_match);

void bm_histogram_observe(benchmark::State& state) {
  shoal::metrics::histogram h{shoal::metrics::latency_buckets()};
  double v = 0.0001;
  for (auto _ : state) {
    h.observe(v);
    v = v < 5 ? v * 1.5 : 0.0001;
  }
}
BENCHMARK(bm_histogram_observe)->Threads(1)->Threads(2);

void bm_error_body(benchmark::State& state) {
  shoal::error e{shoal::errc::lock_held, "lock a.b is held until 12:00:00"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(shoal::http::error_body(e));
  }
}
BENCHMARK(bm_error_body);

void bm_memory_engine_write(benchmark::State& state) {
  auto e = shoal::storage::make_memory_engine();
  uint64_t i = 0;
  for (auto _ : state) {
    shoal::storage::write_batch b;
    b.put(shoal::storage::column::kv, "k" + std::to_string(i++ % 10000),
          std::string(256, 'v'));
    benchmark::DoNotOptimize(e->write(b, shoal::storage::durability::sync));
  }
}
BENCHMARK(bm_memory_engine_write);

} // namespace

BENCHMARK_MAIN();
