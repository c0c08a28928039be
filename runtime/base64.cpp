#include "runtime/base64.hpp"

namespace shoal {

namespace {

constexpr char std_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char url_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The value of `c` in `alpha`, or -1.
int value_of(char c, const char* alpha) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == alpha[62]) {
    return 62;
  }
  if (c == alpha[63]) {
    return 63;
  }
  return -1;
}

} // namespace

std::string base64_encode(std::string_view bytes, base64_alphabet alphabet) {
  auto url = alphabet == base64_alphabet::url;
  const char* alpha = url ? url_alphabet : std_alphabet;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16)
             | (static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8)
             | static_cast<uint8_t>(bytes[i + 2]);
    out += alpha[(n >> 18) & 63];
    out += alpha[(n >> 12) & 63];
    out += alpha[(n >> 6) & 63];
    out += alpha[n & 63];
  }
  auto rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (rest == 2) {
      n |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    }
    out += alpha[(n >> 18) & 63];
    out += alpha[(n >> 12) & 63];
    if (rest == 2) {
      out += alpha[(n >> 6) & 63];
    }
    if (!url) {
      out += rest == 2 ? "=" : "==";
    }
  }
  return out;
}

result<std::string> base64_decode(std::string_view text, base64_alphabet alphabet) {
  auto url = alphabet == base64_alphabet::url;
  const char* alpha = url ? url_alphabet : std_alphabet;
  size_t padding = 0;
  if (!url) {
    if (text.size() % 4 != 0) {
      return fail(errc::invalid_argument,
                  "invalid base64: the length must be a multiple of 4 (padded with '=')");
    }
    while (padding < 2 && padding < text.size()
           && text[text.size() - 1 - padding] == '=') {
      ++padding;
    }
    text.remove_suffix(padding);
  } else if (text.size() % 4 == 1) {
    return fail(errc::invalid_argument, "invalid base64 length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (auto c : text) {
    auto v = value_of(c, alpha);
    if (v < 0) {
      return fail(errc::invalid_argument,
                  c == '=' ? "invalid base64: '=' only pads the end"
                           : "invalid base64 character");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // The bits after the last whole byte must be zero (RFC 4648 §3.5):
  // otherwise "YR==" would decode like "YQ==".
  if ((acc & ((1u << bits) - 1)) != 0) {
    return fail(errc::invalid_argument,
                "invalid base64: non-zero bits after the last byte");
  }
  return out;
}

} // namespace shoal
