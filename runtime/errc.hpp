#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace shoal {

/// Every error a shoal operation can report. The text of each value (see
/// `to_string`) is a stable API: it is the `code` of HTTP error bodies.
/// Values start at 1 because CAF reads 0 as "no error".
enum class errc : uint8_t {
  not_found = 1,
  invalid_key,
  invalid_ttl,
  invalid_argument,
  too_large,
  conflict,
  lock_held,
  lock_not_held,
  lock_expired,
  fenced,
  seq_mismatch,
  not_owner,
  lease_expired,
  fingerprint_mismatch,
  duplicate,
  compacted,
  timeout,
  unavailable,
  shutting_down,
  overloaded,
  unauthorized,
  forbidden,
  not_leader,
  maybe_committed,
  storage_error,
  internal,
};

/// The stable snake_case name of `code`.
std::string_view to_string(errc code);

/// Parses the name produced by `to_string`.
std::optional<errc> errc_from_string(std::string_view name);

/// All codes, in declaration order (for tables and exhaustive tests).
inline constexpr errc all_errcs[] = {
  errc::not_found,       errc::invalid_key,
  errc::invalid_ttl,     errc::invalid_argument,
  errc::too_large,       errc::conflict,
  errc::lock_held,       errc::lock_not_held,
  errc::lock_expired,    errc::fenced,
  errc::seq_mismatch,    errc::not_owner,
  errc::lease_expired,   errc::fingerprint_mismatch,
  errc::duplicate,       errc::compacted,
  errc::timeout,         errc::unavailable,
  errc::shutting_down,   errc::overloaded,
  errc::unauthorized,    errc::forbidden,
  errc::not_leader,      errc::maybe_committed,
  errc::storage_error,   errc::internal,
};

} // namespace shoal
