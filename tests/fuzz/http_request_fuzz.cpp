// Fuzz target: raw bytes → HTTP request parsing → target decoding →
// routing → the parameter parsers routes use (keys, patterns, durations).
// Any input must yield a request or an error, never a crash or a hang.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/http/router.hpp"
#include "net/http/server.hpp"
#include "net/http/target.hpp"
#include "runtime/key.hpp"
#include "runtime/time.hpp"

namespace {

const shoal::http::router& routes() {
  static const auto r = [] {
    shoal::http::router out;
    auto noop = [](shoal::http::request&, shoal::http::respond_fn) {};
    using shoal::http::method;
    out.add(method::get, "/healthz", noop);
    out.add(method::get, "/v1/node", noop);
    out.add(method::get, "/v1/kv/{key...}", noop);
    out.add(method::put, "/v1/kv/{key...}", noop);
    out.add(method::post, "/v1/locks/{key}/refresh", noop);
    out.add_ws("/v1/watch", {});
    return out;
  }();
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  shoal::http::server_config cfg;
  cfg.max_body_bytes = 64 * 1024;
  cfg.max_header_bytes = 8 * 1024;
  auto req = shoal::http::parse_request_bytes(bytes, routes(), cfg);
  if (req) {
    for (const auto& [name, value] : req->params) {
      (void) shoal::validate_key(value);
      (void) shoal::key_pattern::parse(value);
    }
    for (const auto& [name, value] : req->query) {
      (void) shoal::parse_duration(value);
      (void) shoal::key_pattern::parse(value);
    }
  }
  (void) shoal::http::parse_target(bytes);
  (void) shoal::http::percent_decode(bytes, true);
  (void) shoal::parse_duration(bytes);
  if (auto p = shoal::key_pattern::parse(bytes)) {
    (void) p->matches(bytes);
  }
  return 0;
}
