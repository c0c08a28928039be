#pragma once

#include <cstdint>
#include <string_view>

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

/// Whether a request changes state where it is applied. Decides what it
/// means when a request forwarded to another member gets no answer.
enum class request_effect : uint8_t { read, write };

/// The error of a request forwarded to `owner` (another member): the
/// owner's own answer as `from_caf_error` gives it; a failure of the
/// exchange itself (no answer in time, the connection lost) as
/// `maybe_committed` for a write, which may have reached the owner and be
/// applied now or when it resumes (retrying it blindly could apply it
/// twice), and as `unavailable` for a read.
error forwarded_error(const caf::error& e, request_effect effect,
                      std::string_view owner);

} // namespace shoal
