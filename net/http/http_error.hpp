#pragma once

#include "net/http/types.hpp"
#include "runtime/error.hpp"

namespace shoal::http {

/// The one place an `errc` becomes an HTTP status.
unsigned http_status(errc code);

/// `{"error":{"code":…,"message":…}}` with the status of `e.code`, plus
/// `Retry-After` for 503 and `leader` for `not_leader`.
response error_response(const error& e);

/// The JSON error body alone (WebSocket replies add an `id`).
std::string error_body(const error& e);

} // namespace shoal::http
