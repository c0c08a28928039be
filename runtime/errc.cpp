#include "runtime/errc.hpp"

namespace shoal {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::not_found:
      return "not_found";
    case errc::invalid_key:
      return "invalid_key";
    case errc::invalid_ttl:
      return "invalid_ttl";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::too_large:
      return "too_large";
    case errc::conflict:
      return "conflict";
    case errc::lock_held:
      return "lock_held";
    case errc::lock_not_held:
      return "lock_not_held";
    case errc::lock_expired:
      return "lock_expired";
    case errc::fenced:
      return "fenced";
    case errc::seq_mismatch:
      return "seq_mismatch";
    case errc::not_owner:
      return "not_owner";
    case errc::lease_expired:
      return "lease_expired";
    case errc::fingerprint_mismatch:
      return "fingerprint_mismatch";
    case errc::duplicate:
      return "duplicate";
    case errc::compacted:
      return "compacted";
    case errc::timeout:
      return "timeout";
    case errc::unavailable:
      return "unavailable";
    case errc::shutting_down:
      return "shutting_down";
    case errc::overloaded:
      return "overloaded";
    case errc::unauthorized:
      return "unauthorized";
    case errc::forbidden:
      return "forbidden";
    case errc::not_leader:
      return "not_leader";
    case errc::maybe_committed:
      return "maybe_committed";
    case errc::storage_error:
      return "storage_error";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

std::optional<errc> errc_from_string(std::string_view name) {
  for (auto code : all_errcs) {
    if (to_string(code) == name) {
      return code;
    }
  }
  return std::nullopt;
}

} // namespace shoal
