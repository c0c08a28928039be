#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::kv {

/// A watch position: for every shard, the revision up to which events were
/// delivered. Encoded as an opaque URL-safe token ("c1." + base64url of
/// varints: shard count, then one revision per shard).
using cursor = std::vector<uint64_t>;

std::string encode_cursor(const cursor& c);

/// Fails with `invalid_argument` on a malformed token or one made for
/// another shard count.
result<cursor> decode_cursor(std::string_view token, uint32_t shard_count);

} // namespace shoal::kv
