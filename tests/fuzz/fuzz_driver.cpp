// A stand-in for libFuzzer's main when building with g++: runs the seed
// inputs, then deterministic mutations of them, through the fuzz target.
// usage: <target> [ITERATIONS] [SEED]
// With clang, build with -DSHOAL_LIBFUZZER=ON for real coverage-guided runs.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

const std::vector<std::string>& seeds() {
  static const std::vector<std::string> s{
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "PUT /v1/kv/a.b.c?ttl=30s&if_revision=3 HTTP/1.1\r\nHost: x\r\n"
    "Content-Length: 5\r\n\r\nhello",
    "GET /v1/kv/a%2Fb%zz HTTP/1.1\r\n\r\n",
    "POST /v1/locks/k/refresh HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n0\r\n\r\n",
    "GET /v1/watch?pattern=a.>&cursor=1 HTTP/1.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n\r\n",
    "GET /v1/kv/x?pattern=conf*&ttl=1h30m HTTP/1.0\r\n\r\n",
    "DELETE /nope HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "\x16\x03\x01\x00\xa5\x01\x00\x00",
  };
  return s;
}

} // namespace

int main(int argc, char** argv) {
  auto iterations = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000UL;
  auto seed = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1UL;
  std::mt19937_64 rng{seed};
  for (const auto& s : seeds()) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  for (unsigned long i = 0; i < iterations; ++i) {
    auto input = seeds()[rng() % seeds().size()];
    auto edits = 1 + rng() % 8;
    for (unsigned long e = 0; e < edits; ++e) {
      auto pos = input.empty() ? 0 : rng() % input.size();
      switch (rng() % 5) {
        case 0: // flip a byte
          if (!input.empty()) {
            input[pos] = static_cast<char>(rng());
          }
          break;
        case 1: // insert random bytes
          input.insert(pos, std::string(1 + rng() % 8, static_cast<char>(rng())));
          break;
        case 2: // erase a run
          if (!input.empty()) {
            input.erase(pos, 1 + rng() % 8);
          }
          break;
        case 3: // duplicate a run
          input.insert(pos, input.substr(pos, 1 + rng() % 32));
          break;
        default: // splice interesting tokens
          static const char* tokens[] = {"%", "%2", "..", ".>", "*", "\r\n",
                                         "?", "&", "=", "{", "/", "\0",
                                         "Content-Length: 3\r\n"};
          input.insert(pos, tokens[rng() % std::size(tokens)]);
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
  std::printf("fuzz: %lu inputs, seed %lu, no crash\n", iterations, seed);
  return 0;
}
