#pragma once

// Stream events, metadata and checkpoints in JSON: the one mapping the HTTP
// routes, the tail WebSocket and shoalctl share.

#include <optional>
#include <string>
#include <vector>

#include "net/http/json.hpp"
#include "runtime/stream/entity.hpp"
#include "runtime/stream/stream_table.hpp"

namespace shoal::http {

/// `{"seq","type","time","data"|"data_base64"[,"metadata"][,"id"]}`: JSON
/// payloads inline as `data`, binary ones as `data_base64`. Events of
/// entity streams show their change as `data` (`{"attributes","by"}`).
/// Stored JSON that breaks the limits of `check_json_limits` (written by an
/// older shoal) fails with `internal`, here and in the two below.
result<json> event_json(const stream::event& e);

/// `{"name","created","updated","first_seq","last_seq","count",
/// "retention":{"max_count","max_age"},"truncate_before"}`.
json stream_info_json(const stream::stream_info& s);

/// `{"stream","seq","saved","state"|"state_base64"}`.
result<json> checkpoint_json(const stream::checkpoint& c);

/// One event of an append body: `{"type", "data" (any JSON) or
/// "data_base64", "metadata" (object), "id"}`.
result<stream::event_data> parse_event(const json& j);

/// The events of an append body: `{"events":[...]}` or one event object.
result<std::vector<stream::event_data>> parse_events(const json& body);

/// `{"id","attributes":{name: value},"updated_at","updated_by","seq"}`.
result<json> entity_json(const stream::entity_state& s);

/// One entity change: `{"op":"merge"|"set"|"delete","attributes":{…},
/// "by","id"}` (`op` defaults to merge; in a merge a null value removes the
/// attribute). `event_id` receives `id`.
result<stream::entity_change> parse_change(const json& j, std::string& event_id);

/// An expectation: `"any"`, `"no_stream"` or a seq (number or digits).
result<stream::expectation> parse_expectation(const json& j);

} // namespace shoal::http
