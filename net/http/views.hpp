#pragma once

// The JSON views of kv entries, locks and leases, shared by the HTTP routes
// and the session WebSocket.

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "runtime/kv/kv_types.hpp"
#include "runtime/lease/lease_table.hpp"
#include "runtime/lock/lock_table.hpp"

namespace shoal::http {

class json_writer;

/// A kv entry as one object; `with_value` adds the value (base64), and
/// `prev_revision` (a write's answer) the revision before the write.
void write_entry(json_writer& out, const kv::entry& e, bool with_value,
                 std::optional<uint64_t> prev_revision = std::nullopt);

/// The same object as a JSON value.
nlohmann::json entry_json(const kv::entry& e, bool with_value,
                          std::optional<uint64_t> prev_revision = std::nullopt);

/// A lock, without its owner token.
nlohmann::json lock_json(const lock::lock_info& l);

/// A lease, with the time left at `now`.
nlohmann::json lease_json(const lease::lease_info& l, time_point now);

} // namespace shoal::http
