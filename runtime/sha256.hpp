#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal {

/// SHA-256 (FIPS 180-4), incremental.
class sha256 {
public:
  using digest = std::array<uint8_t, 32>;

  sha256();

  void update(std::string_view data);

  /// Finishes and returns the digest; the object must not be updated after.
  digest finish();

  /// The digest of `data` in lowercase hex.
  static std::string hex(std::string_view data);

private:
  void block(const uint8_t* p);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// Lowercase hex of bytes.
std::string to_hex(std::string_view bytes);

} // namespace shoal
