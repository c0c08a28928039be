// Fuzz target: bytes → the idempotency key builder's inputs (a JSON body
// through the gateway's strict parser, then the type-tagged encoding and
// SHA-256), built-key parsing, key validation, and the stored record
// decoder. Any input must yield a key or a clear error, never a crash.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/idem_keys.hpp"
#include "net/http/json.hpp"
#include "runtime/idempotency/idempotency_table.hpp"
#include "runtime/idempotency/key_builder.hpp"

const std::vector<std::string>& fuzz_seeds() {
  static const std::vector<std::string> s{
    R"({"tenant":"acme","scope":"payments","parts":["order-42",1999,1.5,true,null]})",
    R"({"tenant":"t","scope":"s","inputs":{"b":2,"A":1,"a":[1,{"x":"y"}]}})",
    R"({"tenant":"t","scope":"s","parts":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
    R"({"tenant":"t","scope":"s","parts":[18446744073709551615,-9223372036854775808,1e308,-0.0]})",
    R"({"tenant":"t","scope":"s","inputs":{"k":1,"k":2}})",
    "v1:acme:payments:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  };
  return s;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  shoal::http::request req;
  req.body = std::string{bytes};
  if (auto body = shoal::http::parse_json_object(req)) {
    if (auto key = shoal::http::build_key_from_json(*body)) {
      // A built key always parses back and is a valid record key.
      auto parsed = shoal::idem::parse_key(*key);
      auto valid = shoal::idem::validate_record_key(*key);
      if (!parsed || !valid) {
        __builtin_trap();
      }
    }
  }
  (void) shoal::idem::parse_key(bytes);
  (void) shoal::idem::validate_record_key(bytes);
  (void) shoal::idem::idempotency_table::decode(bytes);
  return 0;
}
