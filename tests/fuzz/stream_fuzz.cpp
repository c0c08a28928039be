// Fuzz target: bytes → the stream and entity parsers: an append body
// (events, expectation) and an entity change through the gateway's JSON
// mapping (a parsed change must encode and decode back to itself and fold),
// and the stored decoders (events, metadata, checkpoints, changes,
// projection snapshots, stored JSON rendered back). Any input must give a value or a clear error,
// never a crash.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/json.hpp"
#include "net/http/stream_json.hpp"
#include "runtime/stream/entity.hpp"

const std::vector<std::string>& fuzz_seeds() {
  static const std::vector<std::string> s{
    R"({"events":[{"type":"a","data":{"x":1},"metadata":{"m":2},"id":"e1"}],"expected":3})",
    R"({"type":"b","data_base64":"AAEC","expected":"no_stream"})",
    R"({"op":"merge","attributes":{"a":1,"b":null,"c":[1,2]},"by":"w","id":"c1"})",
    R"({"op":"set","attributes":{"a":"x"}})",
    R"({"op":"delete"})",
    std::string{"SHSN\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 14},
    std::string{"\x01\x02\x01w\x01\x01a\x01\x01\x31", 10},
  };
  return s;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  http::request req;
  req.body = std::string{bytes};
  if (auto body = http::parse_json_object(req)) {
    if (body->contains("expected")) {
      (void) http::parse_expectation((*body)["expected"]);
    }
    auto copy = *body;
    copy.erase("expected");
    if (auto events = http::parse_events(copy)) {
      for (const auto& e : *events) {
        stream::event ev{"s", 1, {}, e.type, e.payload, e.metadata, e.event_id, e.format};
        if (auto j = http::event_json(ev)) {
          (void) http::to_text(*j);
        }
      }
    }
    std::string id;
    if (auto c = http::parse_change(*body, id)) {
      auto back = stream::decode_change(stream::encode_change(*c));
      if (!back || back->attributes != c->attributes || back->op != c->op) {
        __builtin_trap();
      }
      auto ev = stream::event{stream::entity_stream("x"), 1, {}, "merge",
                              stream::encode_change(*c), "", "", stream::payload_format::binary};
      auto m = stream::apply_entity_event({}, "x", ev);
      if (!m) {
        __builtin_trap();
      }
      if (const auto* s = m->find("x")) {
        if (auto j = http::entity_json(*s)) {
          (void) http::to_text(*j);
        }
      }
    }
  }
  // The bytes as stored JSON read back (a data dir of an older shoal may
  // hold anything): a value or an error, never a crash.
  {
    stream::event ev{"s", 1, {}, "t", std::string{bytes}, std::string{bytes}, "",
                     stream::payload_format::json};
    if (auto j = http::event_json(ev)) {
      (void) http::to_text(*j);
    }
    stream::checkpoint cp{"s", 1, {}, std::string{bytes}, stream::payload_format::json};
    if (auto j = http::checkpoint_json(cp)) {
      (void) http::to_text(*j);
    }
  }
  (void) stream::decode_change(bytes);
  (void) stream::decode_snapshot(bytes);
  (void) stream::stream_table::decode_info(bytes);
  (void) stream::stream_table::decode_event("s", 1, bytes);
  (void) stream::stream_table::decode_checkpoint("s", 1, bytes);
  return 0;
}
