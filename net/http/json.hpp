#pragma once

#include <nlohmann/json.hpp>

#include "net/http/types.hpp"
#include "runtime/result.hpp"

namespace shoal::http {

using json = nlohmann::json;

/// A JSON response with `status`.
response json_response(unsigned status, const json& body);

/// Parses the request body as a JSON object. An empty body is `{}` when
/// `allow_empty`. Fails with `invalid_argument` and the parser's position.
result<json> parse_json_object(const request& req, bool allow_empty = false);

} // namespace shoal::http
