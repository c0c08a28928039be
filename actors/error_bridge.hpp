#pragma once

#include <caf/fwd.hpp>

#include "runtime/error.hpp"

namespace shoal {

/// Turns a shoal error into a CAF error (category "shoal", the message as
/// context) for `caf::result<T>` and response promises.
caf::error to_caf_error(const error& e);

/// Turns any CAF error back into a shoal error: shoal's own category keeps
/// code and message, `request_timeout` becomes `timeout`, an unreachable or
/// dead remote becomes `unavailable`, anything else `internal`.
error from_caf_error(const caf::error& e);

} // namespace shoal
