#include "net/http/json.hpp"

namespace shoal::http {

response json_response(unsigned status, const json& body) {
  response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

result<json> parse_json_object(const request& req, bool allow_empty) {
  if (req.body.empty()) {
    if (allow_empty) {
      return json::object();
    }
    return fail(errc::invalid_argument, "request body must be a JSON object");
  }
  auto parsed = json::parse(req.body, nullptr, false);
  if (parsed.is_discarded()) {
    // Re-parse with exceptions for the position of the error.
    try {
      auto ignored = json::parse(req.body);
      (void) ignored;
    } catch (const json::parse_error& e) {
      return fail(errc::invalid_argument,
                  "invalid JSON at byte " + std::to_string(e.byte));
    }
    return fail(errc::invalid_argument, "invalid JSON");
  }
  if (!parsed.is_object()) {
    return fail(errc::invalid_argument, "request body must be a JSON object");
  }
  return parsed;
}

} // namespace shoal::http
