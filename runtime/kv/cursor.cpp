#include "runtime/kv/cursor.hpp"

#include "runtime/base64.hpp"
#include "runtime/codec.hpp"
#include "runtime/kv/kv_types.hpp"

namespace shoal::kv {

namespace {

constexpr std::string_view cursor_prefix = "c1.";

} // namespace

std::string encode_cursor(const cursor& c) {
  std::string raw;
  codec::writer w{raw};
  w.varint(c.size());
  for (auto rev : c) {
    w.varint(rev);
  }
  return std::string{cursor_prefix} + base64_encode(raw, base64_alphabet::url);
}

result<cursor> decode_cursor(std::string_view token, uint32_t shard_count) {
  if (!token.starts_with(cursor_prefix)) {
    return fail(errc::invalid_argument, "not a watch cursor");
  }
  auto raw = base64_decode(token.substr(cursor_prefix.size()), base64_alphabet::url);
  if (!raw) {
    return fail(errc::invalid_argument, "malformed watch cursor");
  }
  codec::reader r{*raw};
  auto n = r.varint();
  if (!r.good() || n != shard_count) {
    return fail(errc::invalid_argument,
                "watch cursor was made for another shard count");
  }
  cursor out(n);
  for (auto& rev : out) {
    rev = r.varint();
    // The largest value means "from now" inside a node; no cursor holds it.
    if (rev == any_revision) {
      return fail(errc::invalid_argument, "malformed watch cursor");
    }
  }
  if (!r.done()) {
    return fail(errc::invalid_argument, "malformed watch cursor");
  }
  return out;
}

} // namespace shoal::kv
