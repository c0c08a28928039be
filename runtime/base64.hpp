#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/result.hpp"

namespace shoal {

/// The two alphabets of RFC 4648: `standard` (§4, `+/`, padded with `=` to
/// a multiple of four characters) for binary values in JSON, and `url`
/// (§5, `-_`, never padded) for opaque tokens in URLs.
enum class base64_alphabet : uint8_t { standard, url };

/// Encodes `bytes` in `alphabet`.
std::string base64_encode(std::string_view bytes,
                          base64_alphabet alphabet = base64_alphabet::standard);

/// Decodes text in exactly the canonical form `base64_encode` writes for
/// `alphabet`: only that alphabet's characters, padding as it prescribes
/// (required for `standard`, absent for `url`) and zero bits after the last
/// byte. Every byte string has one encoding, so two different texts never
/// decode to the same bytes. Fails with `invalid_argument`.
result<std::string> base64_decode(std::string_view text,
                                  base64_alphabet alphabet = base64_alphabet::standard);

} // namespace shoal
