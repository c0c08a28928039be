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

// The seed inputs of the target, defined beside it.
const std::vector<std::string>& fuzz_seeds();

int main(int argc, char** argv) {
  auto iterations = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000UL;
  auto seed = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1UL;
  std::mt19937_64 rng{seed};
  for (const auto& s : fuzz_seeds()) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  for (unsigned long i = 0; i < iterations; ++i) {
    auto input = fuzz_seeds()[rng() % fuzz_seeds().size()];
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
          static const char* tokens[] = {
            "%",  "%2", "..", ".>", "*",  "\r\n", "?",  "&",    "=",
            "{",  "/",  "\0", "[",  "]",  "\"",   ":",  "1e308", "-1",
            "{\"a\":1,\"a\":2}", "Content-Length: 3\r\n"};
          input.insert(pos, tokens[rng() % std::size(tokens)]);
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
  std::printf("fuzz: %lu inputs, seed %lu, no crash\n", iterations, seed);
  return 0;
}
