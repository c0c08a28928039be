#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::codec {

/// Appends fixed-width big-endian and varint-encoded values to a string.
/// The on-disk format of every primitive's records is built with it.
class writer {
public:
  explicit writer(std::string& out) : out_(out) {
  }

  void u8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
  }

  /// Big-endian: byte order equals numeric order (for storage keys).
  void u16be(uint16_t v);
  void u64be(uint64_t v);

  /// LEB128.
  void varint(uint64_t v);

  /// Zig-zag LEB128.
  void i64(int64_t v) {
    varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }

  /// Length-prefixed bytes.
  void bytes(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }

  /// Raw bytes without a length.
  void raw(std::string_view s) {
    out_.append(s);
  }

private:
  std::string& out_;
};

/// Reads what `writer` wrote. A short or malformed input sets `good()` to
/// false and makes every later read return zero values.
class reader {
public:
  explicit reader(std::string_view in) : in_(in) {
  }

  uint8_t u8();
  uint16_t u16be();
  uint64_t u64be();
  uint64_t varint();

  int64_t i64() {
    auto v = varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }

  std::string bytes();

  /// The unread rest.
  std::string_view rest() const {
    return in_.substr(pos_);
  }

  bool good() const {
    return good_;
  }

  /// True when everything was read without error.
  bool done() const {
    return good_ && pos_ == in_.size();
  }

private:
  bool need(size_t n);

  std::string_view in_;
  size_t pos_ = 0;
  bool good_ = true;
};

/// The key prefix of a shard's records: its index, 2 bytes big-endian, so
/// one shard's records form one contiguous range.
inline std::string shard_prefix(uint16_t shard) {
  std::string out;
  writer{out}.u16be(shard);
  return out;
}

} // namespace shoal::codec
