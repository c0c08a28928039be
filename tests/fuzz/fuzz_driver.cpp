// A stand-in for libFuzzer's main when building with g++: runs the seed
// inputs, then deterministic mutations of them, through the fuzz target.
// usage: <target> [ITERATIONS] [SEED]
// The mutations reach every shape the parsers must refuse: JSON nested past
// the limit, NUL and trailing bytes, integers beyond 64 bits,
// non-canonical base64 and each Transfer-Encoding form.
// With clang, build with -DSHOAL_LIBFUZZER=ON for real coverage-guided runs.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
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
      switch (rng() % 6) {
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
        case 4: { // nest: openers around the limit of 64 levels, or far past it
          static constexpr size_t depths[] = {63, 64, 65, 200, 5'000, 60'000};
          auto depth = depths[rng() % std::size(depths)];
          std::string_view open = rng() % 2 == 0 ? "[" : "{\"a\":";
          std::string run;
          for (size_t d = 0; d < depth; ++d) {
            run += open;
          }
          if (rng() % 2 == 0) { // balanced, with a value inside
            run += "1";
            run += std::string(depth, open == "[" ? ']' : '}');
          }
          input.insert(pos, run);
          break;
        }
        default: { // splice interesting tokens
          static constexpr std::string_view tokens[] = {
            "%", "%2", "..", ".>", "*", "\r\n", "?", "&", "=", "{", "/",
            std::string_view{"\0", 1}, std::string_view{"\0{\"garbage", 10},
            "[", "]", "\"", ":", "1e308", "-1", "{\"a\":1,\"a\":2}", "} trailing",
            "Content-Length: 3\r\n", "18446744073709551615", "18446744073709551616",
            "-9223372036854775809", "99999999999999999999999", "5.0", "YQ", "YQ=",
            "YR==", "-_8=", "YQ==", "Transfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked, gzip\r\n", "Transfer-Encoding: xchunked\r\n",
            "Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding: \r\n",
            "/history", "if_revision=18446744073709551615&"};
          auto t = tokens[rng() % std::size(tokens)];
          input.insert(pos, t.data(), t.size());
        }
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
  std::printf("fuzz: %lu inputs, seed %lu, no crash\n", iterations, seed);
  return 0;
}
