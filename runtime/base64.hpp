#pragma once

#include <string>
#include <string_view>

#include "runtime/result.hpp"

namespace shoal {

/// Standard base64 (RFC 4648 §4) with padding; `url` selects the URL-safe
/// alphabet without padding (§5), used for opaque tokens.
std::string base64_encode(std::string_view bytes, bool url = false);

/// Decodes either alphabet, padded or not. Fails with `invalid_argument`.
result<std::string> base64_decode(std::string_view text);

} // namespace shoal
