#pragma once

#include "net/http/types.hpp"
#include "runtime/error.hpp"
#include "runtime/result.hpp"

namespace shoal::http {

/// The one place an `errc` becomes an HTTP status.
unsigned http_status(errc code);

/// `{"error":{"code":…,"message":…}}` with the status of `e.code`, plus
/// `Retry-After` for 503 and `leader` for `not_leader`.
response error_response(const error& e);

/// The JSON error body alone (WebSocket replies add an `id`).
std::string error_body(const error& e);

/// Moves a parsed value into `out`, or responds with its error and
/// returns false (so a handler can chain `take(...) && take(...)`).
template <class T>
bool take(result<T> r, T& out, const respond_fn& respond) {
  if (!r) {
    respond(error_response(r.err()));
    return false;
  }
  out = std::move(*r);
  return true;
}

} // namespace shoal::http
