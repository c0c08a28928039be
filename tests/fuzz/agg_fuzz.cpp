// Fuzz target: bytes → the aggregate parsers: a definition body and a
// delta of every kind through the gateway's JSON mapping (a parsed delta
// must combine, encode and decode back to itself), and the stored and
// wire decoders (definitions, values of every kind, the kind-free form).
// Any input must give a value or a clear error, never a crash.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/agg_json.hpp"
#include "net/http/json.hpp"
#include "runtime/aggregate/aggregate_table.hpp"

const std::vector<std::string>& fuzz_seeds() {
  static const std::vector<std::string> s{
    R"({"kind":"topk","k":5,"window":"1h","retention":"48h","delta":{"a":3,"b":1}})",
    R"({"kind":"bloom","capacity":1000,"fp_rate":0.001,"delta":["x","y"]})",
    R"({"kind":"sum","delta":9223372036854775807})",
    R"({"kind":"min","delta":-1.5e308})",
    R"({"kind":"set","max_elements":2,"delta":["c","b","a"]})",
    R"({"kind":"last","delta":"v","dedup_retention":"1s"})",
    R"({"kind":"hll","delta":"alice"})",
    std::string{"\x01\x07\x00", 3},
  };
  return s;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  http::request req;
  req.body = std::string{bytes};
  if (auto body = http::parse_json_object(req)) {
    auto delta = body->contains("delta") ? (*body)["delta"] : http::json{};
    body->erase("delta");
    (void) http::parse_definition("fuzz", *body);
    auto now = from_unix_nanos(1'700'000'000'000'000'000);
    for (uint8_t k = 1; k <= 10; ++k) {
      auto m = agg::monoid::make(static_cast<agg::kind>(k));
      auto d = http::parse_delta(*m, delta, now);
      if (!d) {
        continue;
      }
      auto v = m->identity();
      if (!m->combine(v, *d)) {
        continue; // a sum delta may overflow nothing here, but stay safe
      }
      auto back = m->decode(m->encode(v));
      auto any = agg::decode_any(agg::encode_any(v));
      if (!back || !(*back == v) || !any || !(*any == v)) {
        __builtin_trap();
      }
      (void) http::value_json(v).dump();
    }
  }
  (void) agg::decode_definition(bytes);
  (void) agg::decode_any(bytes);
  for (uint8_t k = 1; k <= 10; ++k) {
    (void) agg::monoid::make(static_cast<agg::kind>(k))->decode(bytes);
  }
  return 0;
}
