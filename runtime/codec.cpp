#include "runtime/codec.hpp"

namespace shoal::codec {

void writer::u16be(uint16_t v) {
  u8(static_cast<uint8_t>(v >> 8));
  u8(static_cast<uint8_t>(v));
}

void writer::u64be(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    u8(static_cast<uint8_t>(v >> shift));
  }
}

void writer::varint(uint64_t v) {
  while (v >= 0x80) {
    u8(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  u8(static_cast<uint8_t>(v));
}

bool reader::need(size_t n) {
  if (!good_ || in_.size() - pos_ < n) {
    good_ = false;
    return false;
  }
  return true;
}

uint8_t reader::u8() {
  if (!need(1)) {
    return 0;
  }
  return static_cast<uint8_t>(in_[pos_++]);
}

uint16_t reader::u16be() {
  if (!need(2)) {
    return 0;
  }
  auto hi = u8();
  auto lo = u8();
  return static_cast<uint16_t>((hi << 8) | lo);
}

uint64_t reader::u64be() {
  if (!need(8)) {
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | u8();
  }
  return v;
}

uint64_t reader::varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    auto b = u8();
    if (!good_) {
      return 0;
    }
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      return v;
    }
  }
  good_ = false;
  return 0;
}

std::string reader::bytes() {
  auto n = varint();
  if (!good_ || n > in_.size() - pos_) {
    good_ = false;
    return {};
  }
  std::string out{in_.substr(pos_, n)};
  pos_ += n;
  return out;
}

} // namespace shoal::codec
