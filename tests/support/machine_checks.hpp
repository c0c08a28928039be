#pragma once

// The checks every primitive's machine passes (runtime/machine.hpp): its
// commands' encodings are exact, and applying a sequence of them is
// deterministic.

#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/machine.hpp"

namespace shoal::test {

/// Each command encodes, decodes to a command with the same encoding, and
/// neither a strict prefix of its encoding nor the encoding with a byte
/// more decodes: a log entry cut short is never read as another one.
template <class Command>
void expect_exact_encodings(const std::vector<Command>& commands) {
  for (const auto& cmd : commands) {
    auto text = encode_to_string(cmd);
    auto back = decode_from_string<Command>(text);
    ASSERT_TRUE(back) << "command " << cmd.index();
    EXPECT_EQ(encode_to_string(*back), text) << "command " << cmd.index();
    for (size_t n = 0; n < text.size(); ++n) {
      EXPECT_FALSE(decode_from_string<Command>(text.substr(0, n)))
        << "command " << cmd.index() << ", prefix of " << n << " bytes";
    }
    EXPECT_FALSE(decode_from_string<Command>(text + "x")) << "command " << cmd.index();
  }
}

/// Applies `commands` to `machine`, each read back from its encoding as a
/// log entry would be, at `start` + k `step` with index k (from 1) on
/// `shard`. Returns the trace: per command whether it succeeded, its
/// records and its events (written by `write_event(writer, event)`).
template <class Machine, class Command, class WriteEvent>
std::string apply_trace(Machine machine, const std::vector<Command>& commands,
                        uint16_t shard, duration step, WriteEvent write_event) {
  std::string trace;
  codec::writer w{trace};
  auto now = from_unix_nanos(1'700'000'000'000'000'000);
  uint64_t index = 0;
  for (const auto& cmd : commands) {
    auto entry = decode_from_string<Command>(encode_to_string(cmd));
    EXPECT_TRUE(entry);
    if (!entry) {
      break;
    }
    now += step;
    typename Machine::effects_type fx;
    apply_ctx ctx{now, ++index, shard};
    auto ok = std::visit([&](const auto& c) { return machine.apply(c, ctx, fx).has_value(); },
                         *entry);
    w.u8(ok ? 1 : 0);
    encode(w, fx.records);
    for (const auto& e : fx.events) {
      write_event(w, e);
    }
  }
  return trace;
}

/// `apply_trace` twice on fresh machines from `make()`: the traces are
/// byte-identical, and longer than `at_least` bytes (the sequence did
/// something).
template <class Make, class Command, class WriteEvent>
void expect_deterministic(Make make, const std::vector<Command>& commands, uint16_t shard,
                          duration step, WriteEvent write_event, size_t at_least) {
  auto first = apply_trace(make(), commands, shard, step, write_event);
  auto second = apply_trace(make(), commands, shard, step, write_event);
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), at_least);
}

} // namespace shoal::test
