#pragma once

#include "net/http/json.hpp"
#include "runtime/idempotency/key_builder.hpp"

namespace shoal::http {

/// A JSON value as an idempotency key input: null, bool, integer (1),
/// float (1.0), string, array and object keep their JSON types, so `"1"`,
/// `1` and `1.0` build different keys. Fails with `invalid_argument` for
/// integers beyond int64 and for nesting deeper than 32 levels.
result<idem::key_value> key_value_from_json(const json& j);

/// Builds the key of `{"tenant", "scope", "parts": [...]}` or
/// `{"tenant", "scope", "inputs": {...}}` (exactly one of the two).
result<std::string> build_key_from_json(const json& body);

} // namespace shoal::http
