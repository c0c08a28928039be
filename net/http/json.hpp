#pragma once

#include <initializer_list>
#include <string_view>
#include <vector>

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

/// Writes JSON text directly, for the responses on the hot paths (building
/// an nlohmann object and dumping it costs more than the rest of a kv put's
/// handling). Members come out in the order written: callers write them
/// sorted by name, as `to_text` would. Strings are escaped as `to_text`
/// escapes them.
class json_writer {
public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  /// The name of the next member.
  json_writer& key(std::string_view name);
  json_writer& value(std::string_view s);
  json_writer& value(const char* s) {
    return value(std::string_view{s});
  }
  json_writer& value(uint64_t n);
  json_writer& value(bool b);
  json_writer& null();
  /// A value that is already JSON text.
  json_writer& raw(std::string_view text);

  /// The text written so far.
  std::string take() {
    return std::move(out_);
  }

private:
  void separate();

  std::string out_;
  // Whether the innermost open object or array has a member yet.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

/// A 200-or-other response whose body is `body` (JSON text).
response json_text_response(unsigned status, std::string body);

/// The deepest nesting of arrays and objects a JSON text may have, wherever
/// JSON enters shoal: request bodies, WebSocket messages, and JSON values
/// read back from storage. Serialising a JSON value recurses once per
/// level; the limit keeps that far from the end of a thread's stack.
inline constexpr size_t max_json_depth = 64;

/// Checks the limits that hold for every JSON text shoal accepts, before it
/// is parsed: nesting at most `max_json_depth` levels, no NUL byte (the
/// JSON parser would end the text there and ignore the rest), and every
/// integer literal within 64 bits (-2^63 … 2^64-1; a larger one would be
/// read as an inexact double). Fails with `invalid_argument` naming the
/// limit. A single linear scan; it does not check the rest of the syntax.
result<void> check_json_limits(std::string_view text);

/// Parses one JSON value: `check_json_limits`, then the whole text as one
/// value with nothing after it, and no object with a member twice (which
/// JSON parsers disagree on). Fails with `invalid_argument`.
result<json> parse_json(std::string_view text);

/// Parses the request body as a JSON object. An empty body is `{}` when
/// `allow_empty`. Fails with `invalid_argument` and the parser's position,
/// or when an object has a key twice (which JSON parsers disagree on).
result<json> parse_json_object(const request& req, bool allow_empty = false);

/// The same for any text (a WebSocket message): `parse_json`, and the
/// value must be an object.
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
