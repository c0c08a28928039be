// Fuzz target: raw bytes → HTTP request parsing → target decoding →
// routing → the parameter parsers routes use (keys, patterns, durations,
// watch cursors, base64) and the JSON body parser with its limits.
// Any input must yield a request or an error, never a crash or a hang.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/json.hpp"
#include "net/http/router.hpp"
#include "net/http/server.hpp"
#include "net/http/target.hpp"
#include "runtime/base64.hpp"
#include "runtime/key.hpp"
#include "runtime/kv/cursor.hpp"
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
    out.add(method::post, "/v1/idempotency/{key}/begin", noop);
    out.add_ws("/v1/watch", {});
    return out;
  }();
  return r;
}

// A cursor that decodes encodes back to a token that decodes the same.
void check_cursor(std::string_view token) {
  for (uint32_t shards : {1u, 64u}) {
    if (auto c = shoal::kv::decode_cursor(token, shards)) {
      auto again = shoal::kv::decode_cursor(shoal::kv::encode_cursor(*c), shards);
      if (!again || *again != *c || c->size() != shards) {
        __builtin_trap();
      }
    }
  }
}

// Base64 that decodes is the one canonical text of its bytes.
void check_base64(std::string_view text) {
  using shoal::base64_alphabet;
  for (auto alphabet : {base64_alphabet::standard, base64_alphabet::url}) {
    if (auto bytes = shoal::base64_decode(text, alphabet)) {
      if (shoal::base64_encode(*bytes, alphabet) != text) {
        __builtin_trap();
      }
    }
  }
}

} // namespace

const std::vector<std::string>& fuzz_seeds() {
  static const std::vector<std::string> s{
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "PUT /v1/kv/a.b.c?ttl=30s&if_revision=3 HTTP/1.1\r\nHost: x\r\n"
    "Content-Length: 5\r\n\r\nhello",
    "GET /v1/kv/a%2Fb%zz HTTP/1.1\r\n\r\n",
    "POST /v1/locks/k/refresh HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n0\r\n\r\n",
    "GET /v1/watch?pattern=a.>&cursor=1 HTTP/1.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n\r\n",
    "GET /v1/kv/x?pattern=conf*&ttl=1h30m HTTP/1.0\r\n\r\n",
    "DELETE /nope HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "POST /v1/idempotency/v1:acme:pay:ab12/begin HTTP/1.1\r\n"
    "Content-Length: 20\r\n\r\n{\"lease_ttl\":\"30s\"}",
    std::string{"\x16\x03\x01\x00\xa5\x01\x00\x00", 8},
    shoal::kv::encode_cursor(shoal::kv::cursor(64, 0)),
    shoal::kv::encode_cursor(shoal::kv::cursor{1ull << 63}),
    "GET /v1/watch?pattern=>&cursor=" + shoal::kv::encode_cursor({7, 0, 300})
      + " HTTP/1.1\r\n\r\n",
    "POST /v1/locks/k/refresh HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
    "5\r\nhello\r\n0\r\n\r\n",
    "PUT /v1/kv/history?if_revision=18446744073709551615 HTTP/1.1\r\n"
    "Content-Length: 29\r\n\r\n{\"a\":[[[[1]]]],\"n\":1e999999}",
    "POST /v1/idempotency/k/begin HTTP/1.1\r\nContent-Length: 40\r\n\r\n"
    "{\"parts\":[18446744073709551616],\"r\":\"YQ\"}",
    std::string{"{\"ttl\":\"1s\"}\0{\"garbage", 22},
  };
  return s;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  shoal::http::server_config cfg;
  cfg.max_body_bytes = 64 * 1024;
  cfg.max_header_bytes = 8 * 1024;
  auto req = shoal::http::parse_request_bytes(bytes, routes(), cfg);
  if (req) {
    // A request that parses may carry any body: JSON is held to its limits
    // before it is parsed, so this never runs off the stack.
    if (auto body = shoal::http::parse_json(req->body)) {
      (void) shoal::http::to_text(*body);
    }
    for (const auto& [name, value] : req->params) {
      (void) shoal::validate_key(value);
      (void) shoal::key_pattern::parse(value);
    }
    for (const auto& [name, value] : req->query) {
      (void) shoal::parse_duration(value);
      (void) shoal::key_pattern::parse(value);
      check_cursor(value);
      check_base64(value);
    }
  }
  (void) shoal::http::parse_target(bytes);
  (void) shoal::http::percent_decode(bytes, true);
  (void) shoal::parse_duration(bytes);
  check_cursor(bytes);
  check_base64(bytes);
  if (auto json = shoal::http::parse_json(bytes)) {
    (void) shoal::http::to_text(*json);
  }
  if (auto p = shoal::key_pattern::parse(bytes)) {
    (void) p->matches(bytes);
  }
  return 0;
}
