#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "runtime/errc.hpp"

namespace shoal {

/// An error: a code callers branch on, a human-readable message, for
/// `not_leader` the node that leads instead, and for `conflict` and
/// `seq_mismatch` the current revision or sequence the caller should retry
/// from.
struct error {
  errc code = errc::internal;
  std::string message;
  std::optional<std::string> leader;
  std::optional<uint64_t> current;

  error() = default;
  error(errc c, std::string msg = {}) : code(c), message(std::move(msg)) {}

  friend bool operator==(const error& x, const error& y) = default;
};

/// "code: message" for logs and test output.
std::string to_string(const error& e);

} // namespace shoal
