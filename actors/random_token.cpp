#include "actors/random_token.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include <spdlog/spdlog.h>

namespace shoal {

namespace {

void random_bytes(uint8_t* bytes, size_t size) {
  size_t got = 0;
  while (got < size) {
    auto n = ::getrandom(bytes + got, size - got, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      // Only without a kernel CSPRNG; no token is better than a guessable one.
      spdlog::critical("getrandom failed: errno {}", errno);
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
}

} // namespace

uint64_t random_u64() {
  uint64_t v = 0;
  random_bytes(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  return v;
}

std::string random_token() {
  uint8_t bytes[16];
  random_bytes(bytes, sizeof(bytes));
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

} // namespace shoal
