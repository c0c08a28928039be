#include "net/http/stream_json.hpp"

#include "runtime/base64.hpp"

namespace shoal::http {

namespace {

// Puts `bytes` in `out[name]` as JSON when it is, else `out[name_base64]`.
void put_payload(json& out, const char* name, const std::string& bytes,
                 stream::payload_format format) {
  if (format == stream::payload_format::json) {
    auto parsed = json::parse(bytes, nullptr, false);
    if (!parsed.is_discarded()) {
      out[name] = std::move(parsed);
      return;
    }
  }
  out[std::string{name} + "_base64"] = base64_encode(bytes);
}

} // namespace

json event_json(const stream::event& e) {
  json j{{"seq", e.seq}, {"type", e.type}, {"time", format_rfc3339(e.time)}};
  put_payload(j, "data", e.payload, e.format);
  if (!e.metadata.empty()) {
    auto meta = json::parse(e.metadata, nullptr, false);
    if (meta.is_discarded()) {
      j["metadata_base64"] = base64_encode(e.metadata);
    } else {
      j["metadata"] = std::move(meta);
    }
  }
  if (!e.event_id.empty()) {
    j["id"] = e.event_id;
  }
  return j;
}

json stream_info_json(const stream::stream_info& s) {
  return json{{"name", s.name},
              {"created", format_rfc3339(s.created)},
              {"updated", format_rfc3339(s.updated)},
              {"first_seq", s.first_seq},
              {"last_seq", s.last_seq},
              {"count", s.count()},
              {"retention",
               {{"max_count", s.keep.max_count},
                {"max_age", format_duration(s.keep.max_age)}}},
              {"truncate_before", s.truncate_before}};
}

json checkpoint_json(const stream::checkpoint& c) {
  json j{{"stream", c.stream}, {"seq", c.seq}, {"saved", format_rfc3339(c.saved)}};
  put_payload(j, "state", c.state, c.format);
  return j;
}

result<stream::event_data> parse_event(const json& j) {
  if (!j.is_object()) {
    return fail(errc::invalid_argument, "an event must be a JSON object");
  }
  if (auto ok = check_fields(j, {"type", "data", "data_base64", "metadata", "id"});
      !ok) {
    return std::move(ok).err();
  }
  stream::event_data out;
  auto type = string_field(j, "type", true);
  if (!type) {
    return std::move(type).err();
  }
  out.type = std::move(*type);
  auto id = string_field(j, "id", false);
  if (!id) {
    return std::move(id).err();
  }
  out.event_id = std::move(*id);
  auto data = j.find("data");
  auto raw = j.find("data_base64");
  if (data != j.end() && raw != j.end()) {
    return fail(errc::invalid_argument, "give data or data_base64, not both");
  }
  if (data != j.end()) {
    out.payload = to_text(*data);
    out.format = stream::payload_format::json;
  } else if (raw != j.end()) {
    if (!raw->is_string()) {
      return fail(errc::invalid_argument, "data_base64 must be a string");
    }
    auto bytes = base64_decode(raw->get<std::string>());
    if (!bytes) {
      return fail(errc::invalid_argument, "data_base64 is not valid base64");
    }
    out.payload = std::move(*bytes);
  } else {
    out.payload = "null";
    out.format = stream::payload_format::json;
  }
  if (auto meta = j.find("metadata"); meta != j.end()) {
    if (!meta->is_object()) {
      return fail(errc::invalid_argument, "metadata must be a JSON object");
    }
    out.metadata = to_text(*meta);
  }
  return out;
}

result<std::vector<stream::event_data>> parse_events(const json& body) {
  std::vector<stream::event_data> out;
  auto list = body.find("events");
  if (list == body.end()) {
    auto one = parse_event(body);
    if (!one) {
      return std::move(one).err();
    }
    out.push_back(std::move(*one));
    return out;
  }
  if (!list->is_array()) {
    return fail(errc::invalid_argument, "events must be an array");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    auto ev = parse_event((*list)[i]);
    if (!ev) {
      auto e = std::move(ev).err();
      e.message = "events[" + std::to_string(i) + "]: " + e.message;
      return e;
    }
    out.push_back(std::move(*ev));
  }
  return out;
}

result<stream::expectation> parse_expectation(const json& j) {
  if (j.is_number_unsigned()) {
    return stream::expectation::exactly(j.get<uint64_t>());
  }
  if (j.is_string()) {
    auto text = j.get<std::string>();
    if (text == "any") {
      return stream::expectation{};
    }
    if (text == "no_stream") {
      return stream::expectation{stream::expect::no_stream, 0};
    }
    if (auto seq = parse_u64(text, "expected")) {
      return stream::expectation::exactly(*seq);
    }
  }
  return fail(errc::invalid_argument,
              "expected must be \"any\", \"no_stream\" or a sequence number");
}

} // namespace shoal::http
