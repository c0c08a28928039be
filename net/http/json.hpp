#pragma once

#include <initializer_list>
#include <string_view>

#include <nlohmann/json.hpp>

#include "net/http/types.hpp"
#include "runtime/error.hpp"
#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal::http {

using json = nlohmann::json;

/// Compact JSON text; invalid UTF-8 in strings becomes U+FFFD instead of
/// an exception.
std::string to_text(const json& j);

/// `{"error":{"code","message"[,"leader"][,"current"]}}`: the error body of
/// responses, as a value (WebSocket frames and batch results add fields).
json error_json(const error& e);

/// A JSON response with `status`.
response json_response(unsigned status, const json& body);

/// Parses the request body as a JSON object. An empty body is `{}` when
/// `allow_empty`. Fails with `invalid_argument` and the parser's position,
/// or when an object has a key twice (which JSON parsers disagree on).
result<json> parse_json_object(const request& req, bool allow_empty = false);

/// The same for any text (a WebSocket message): one JSON object, no
/// duplicate members.
result<json> parse_json_object(std::string_view text);

/// Refuses members of `body` not in `known` (typos do not pass silently).
result<void> check_fields(const json& body,
                          std::initializer_list<std::string_view> known);

/// `parse_json_object(req, allow_empty)`, then `check_fields` on it.
result<json> parse_json_fields(const request& req,
                               std::initializer_list<std::string_view> known,
                               bool allow_empty = true);

/// A string member; absent: `fallback` (or `invalid_argument` if required).
result<std::string> string_field(const json& body, const char* name,
                                 bool required, std::string fallback = {});

/// A duration member such as `"30s"` (see `parse_duration`); absent:
/// `fallback`. A malformed one fails with `bad_code`.
result<duration> duration_field(const json& body, const char* name,
                                duration fallback,
                                errc bad_code = errc::invalid_argument);

/// A non-negative integer member; absent: `fallback`.
result<uint64_t> u64_field(const json& body, const char* name,
                           uint64_t fallback = 0);

/// Decimal digits as a non-negative integer; fails with `invalid_argument`
/// naming `what`.
result<uint64_t> parse_u64(std::string_view text, const char* what);

/// A non-negative integer query parameter; absent: `fallback`.
result<uint64_t> u64_query(const request& req, const char* name,
                           uint64_t fallback = 0);

} // namespace shoal::http
