#pragma once

#include <string>
#include <string_view>

#include "net/http/types.hpp"
#include "runtime/result.hpp"

namespace shoal::http {

/// A request target split into its raw path and decoded query.
struct parsed_target {
  std::string path;
  header_list query;
};

/// Splits and decodes an origin-form request target (`/a/b?x=1&y=%20`).
/// Fails with `invalid_argument` for anything else: no leading slash,
/// control characters, broken percent-encoding, or more than 64 query
/// parameters. Pure; fuzzed by `tests/fuzz/http_request_fuzz`.
result<parsed_target> parse_target(std::string_view target);

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`). Fails with
/// `invalid_argument` on a truncated or non-hex escape.
result<std::string> percent_decode(std::string_view text, bool plus_is_space);

/// Encodes every byte outside unreserved characters (RFC 3986 §2.3) and
/// `/` when `keep_slash`.
std::string percent_encode(std::string_view text, bool keep_slash = false);

} // namespace shoal::http
