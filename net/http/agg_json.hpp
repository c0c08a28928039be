#pragma once

// Aggregate definitions, deltas and values in JSON: the one mapping the
// HTTP routes, the merge stream and shoalctl share.

#include <string>

#include "net/http/json.hpp"
#include "runtime/aggregate/aggregate_table.hpp"

namespace shoal::http {

/// `{"name","kind","window","retention","dedup_retention"}` plus the
/// parameters of the kind (`k`; `capacity`, `fp_rate`; `max_elements`).
json definition_json(const agg::definition& def);

/// A definition from a PUT body (`kind` required; durations as "1h").
result<agg::definition> parse_definition(std::string name, const json& body);

/// A value by kind: sum and count a number; min and max a number or null;
/// first and last `{"value","at"}` or null; hll `{"estimate"}`; topk
/// `{"items":[{"element","count","error"}],"total"}`; bloom
/// `{"bits_set","bits"}`; set `{"elements":[...],"truncated"}`.
json value_json(const agg::value& v);

/// A delta for aggregate kind `m` from JSON: a number (sum, count, min,
/// max); a string (first, last: the value, at `at`); a string or an array
/// of strings (hll, bloom, set, topk), or for topk an object of element →
/// weight.
result<agg::value> parse_delta(const agg::monoid& m, const json& delta, time_point at);

/// The bucket boundaries of [from, to) as RFC 3339 times, for windowed
/// aggregates.
void add_span_times(json& out, const agg::definition& def, int64_t from, int64_t to);

} // namespace shoal::http
