#pragma once

#include <cstdint>
#include <string>

namespace shoal {

/// 128 bits from the kernel's CSPRNG (getrandom), as 32 lowercase hex
/// digits. Owner tokens are bearer capabilities: they must not be
/// predictable from tokens seen before.
std::string random_token();

/// 64 bits from the same source (lease ids).
uint64_t random_u64();

} // namespace shoal
