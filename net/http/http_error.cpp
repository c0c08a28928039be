#include "net/http/http_error.hpp"

#include "net/http/json.hpp"

namespace shoal::http {

unsigned http_status(errc code) {
  switch (code) {
    case errc::invalid_key:
    case errc::invalid_ttl:
    case errc::invalid_argument:
      return 400;
    case errc::unauthorized:
      return 401;
    case errc::forbidden:
      return 403;
    case errc::not_found:
      return 404;
    case errc::conflict:
    case errc::lock_held:
    case errc::lock_not_held:
    case errc::lock_expired:
    case errc::fenced:
    case errc::seq_mismatch:
    case errc::not_owner:
    case errc::lease_expired:
    case errc::duplicate:
      return 409;
    case errc::compacted:
      return 410;
    case errc::too_large:
      return 413;
    case errc::not_leader:
      return 421;
    case errc::fingerprint_mismatch:
      return 422;
    case errc::overloaded:
      return 429;
    case errc::internal:
    case errc::storage_error:
      return 500;
    case errc::unavailable:
    case errc::shutting_down:
      return 503;
    case errc::timeout:
    case errc::maybe_committed:
      return 504;
  }
  return 500;
}

json error_json(const error& e) {
  json inner{{"code", std::string{to_string(e.code)}}, {"message", e.message}};
  if (e.leader) {
    inner["leader"] = *e.leader;
  }
  if (e.current) {
    inner["current"] = *e.current;
  }
  return json{{"error", std::move(inner)}};
}

std::string error_body(const error& e) {
  return to_text(error_json(e));
}

response error_response(const error& e) {
  response r;
  r.status = http_status(e.code);
  r.body = error_body(e);
  if (r.status == 503) {
    r.headers.emplace_back("Retry-After", "1");
  }
  return r;
}

} // namespace shoal::http
