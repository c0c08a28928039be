#include "net/http/stream_json.hpp"

#include "runtime/base64.hpp"

namespace shoal::http {

namespace {

// A JSON value stored by shoal, parsed back: nullopt when `bytes` is not
// JSON (a corrupt value, shown as base64); an error when it breaks the
// limits every JSON input is held to (a value written by an older shoal
// that nests too deep could not be serialised safely).
result<std::optional<json>> stored_json(std::string_view bytes, const char* what) {
  if (auto ok = check_json_limits(bytes); !ok) {
    return fail(errc::internal, std::string{"the stored "} + what
                                  + " cannot be served: " + ok.err().message);
  }
  auto parsed = json::parse(bytes, nullptr, false);
  if (parsed.is_discarded()) {
    return std::optional<json>{};
  }
  return std::optional<json>{std::move(parsed)};
}

// Puts `bytes` in `out[name]` as JSON when it is, else `out[name_base64]`.
result<void> put_payload(json& out, const char* name, const std::string& bytes,
                         stream::payload_format format) {
  if (format == stream::payload_format::json) {
    auto parsed = stored_json(bytes, name);
    if (!parsed) {
      return std::move(parsed).err();
    }
    if (*parsed) {
      out[name] = std::move(**parsed);
      return {};
    }
  }
  out[std::string{name} + "_base64"] = base64_encode(bytes);
  return {};
}

// Attribute values are JSON texts; a corrupt one shows as a string.
result<json> attribute_value(const std::string& text) {
  auto v = stored_json(text, "attribute value");
  if (!v) {
    return std::move(v).err();
  }
  return *v ? std::move(**v) : json(text);
}

result<json> attributes_json(
  const std::vector<std::pair<std::string, std::optional<std::string>>>& attrs) {
  json out = json::object();
  for (const auto& [name, value] : attrs) {
    if (!value) {
      out[name] = nullptr;
      continue;
    }
    auto v = attribute_value(*value);
    if (!v) {
      return v;
    }
    out[name] = std::move(*v);
  }
  return out;
}

} // namespace

result<json> event_json(const stream::event& e) {
  json j{{"seq", e.seq}, {"type", e.type}, {"time", format_rfc3339(e.time)}};
  auto change = e.stream.starts_with(stream::entity_prefix)
                  ? stream::decode_change(e.payload)
                  : result<stream::entity_change>{error{errc::not_found}};
  if (change) {
    auto attrs = attributes_json(change->attributes);
    if (!attrs) {
      return attrs;
    }
    j["data"] = {{"attributes", std::move(*attrs)}, {"by", change->by}};
  } else if (auto ok = put_payload(j, "data", e.payload, e.format); !ok) {
    return std::move(ok).err();
  }
  if (!e.metadata.empty()) {
    auto meta = stored_json(e.metadata, "metadata");
    if (!meta) {
      return std::move(meta).err();
    }
    if (*meta) {
      j["metadata"] = std::move(**meta);
    } else {
      j["metadata_base64"] = base64_encode(e.metadata);
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

result<json> checkpoint_json(const stream::checkpoint& c) {
  json j{{"stream", c.stream}, {"seq", c.seq}, {"saved", format_rfc3339(c.saved)}};
  if (auto ok = put_payload(j, "state", c.state, c.format); !ok) {
    return std::move(ok).err();
  }
  return j;
}

result<json> entity_json(const stream::entity_state& s) {
  json attrs = json::object();
  for (const auto& [name, value] : s.attributes) {
    auto v = attribute_value(value);
    if (!v) {
      return v;
    }
    attrs[name] = std::move(*v);
  }
  return json{{"id", s.id},
              {"attributes", std::move(attrs)},
              {"updated_at", format_rfc3339(s.updated_at)},
              {"updated_by", s.updated_by},
              {"seq", s.seq}};
}

result<stream::entity_change> parse_change(const json& j, std::string& event_id) {
  if (!j.is_object()) {
    return fail(errc::invalid_argument, "a change must be a JSON object");
  }
  if (auto ok = check_fields(j, {"op", "attributes", "by", "id"}); !ok) {
    return std::move(ok).err();
  }
  stream::entity_change c;
  auto op = string_field(j, "op", false, "merge");
  if (!op) {
    return std::move(op).err();
  }
  auto parsed = stream::entity_op_from_string(*op);
  if (!parsed) {
    return fail(errc::invalid_argument, "op must be set, merge or delete");
  }
  c.op = *parsed;
  auto by = string_field(j, "by", false);
  auto id = string_field(j, "id", false);
  if (!by || !id) {
    return !by ? std::move(by).err() : std::move(id).err();
  }
  c.by = std::move(*by);
  event_id = std::move(*id);
  if (auto attrs = j.find("attributes"); attrs != j.end()) {
    if (!attrs->is_object()) {
      return fail(errc::invalid_argument, "attributes must be a JSON object");
    }
    for (const auto& [name, value] : attrs->items()) {
      c.attributes.emplace_back(name, value.is_null()
                                        ? std::nullopt
                                        : std::optional<std::string>{to_text(value)});
    }
  } else if (c.op != stream::entity_op::remove) {
    return fail(errc::invalid_argument, "a set or merge needs attributes");
  }
  if (auto ok = stream::validate_change(c); !ok) {
    return std::move(ok).err();
  }
  return c;
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
