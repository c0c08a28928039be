#pragma once

// The contract every primitive's state machine keeps, so that one shard
// host (actors/shard/) can run any of them and, later, a replicated log can
// feed the same commands to every replica:
//
//   result<R> apply(const Command&, const apply_ctx&, effects<Event>&)
//
// A command carries everything drawn at random (tokens, ids) before it is
// applied; the context carries time and position. The same command with the
// same context on a machine in the same state gives the same result, the
// same records and the same events. Commands, contexts and effects have
// deterministic binary encodings (`encode`/`decode` here and beside each
// machine): they are what a log entry holds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal {

/// One storage change a machine asks its shard to persist: a put of `value`
/// at `key`; a delete of `key` (no value); or a delete of every key in
/// [`key`, `range_end`) when `range_end` is not empty. The records of one
/// command are persisted in one atomic batch, in order.
struct record {
  std::string key;
  std::optional<std::string> value;
  std::string range_end;

  static record put(std::string key, std::string value) {
    return record{std::move(key), std::move(value), {}};
  }
  static record erase(std::string key) {
    return record{std::move(key), std::nullopt, {}};
  }
  static record erase_range(std::string begin, std::string end) {
    return record{std::move(begin), std::nullopt, std::move(end)};
  }

  friend bool operator==(const record&, const record&) = default;
};

/// Where and when a command is applied.
struct apply_ctx {
  /// The time the command is applied at: drawn once, by the shard that
  /// orders the command, never by the machine.
  time_point now;
  /// The command's position in its shard's sequence of applied commands
  /// (counting from 1 since the shard started; the log index once shards
  /// are replicated).
  uint64_t index = 0;
  /// The shard the machine serves.
  uint16_t shard = 0;

  friend bool operator==(const apply_ctx&, const apply_ctx&) = default;
};

/// What applying a command produced besides its result: `records` to
/// persist in one atomic batch, then `events` to publish once they are
/// durable. `Event` is the primitive's own event type.
template <class Event>
struct effects {
  std::vector<record> records;
  std::vector<Event> events;

  bool empty() const {
    return records.empty() && events.empty();
  }

  friend bool operator==(const effects&, const effects&) = default;
};

/// A primitive without events of its own.
struct no_event {
  friend bool operator==(const no_event&, const no_event&) = default;
};

// -- encodings ----------------------------------------------------------------

void encode(codec::writer& w, const record& r);
void encode(codec::writer& w, const apply_ctx& c);
void encode(codec::writer& w, time_point t);
void encode(codec::writer& w, duration d);

/// Each reads what `encode` wrote into `out`; false (and `r.good()` false)
/// when the input is short or malformed.
bool decode(codec::reader& r, record& out);
bool decode(codec::reader& r, apply_ctx& out);
bool decode(codec::reader& r, time_point& out);
bool decode(codec::reader& r, duration& out);

/// The encoding of `records` (a count, then each record).
void encode(codec::writer& w, const std::vector<record>& records);
bool decode(codec::reader& r, std::vector<record>& out);

/// Writes one alternative of a command variant: a tag byte (its index + 1),
/// then `write_fields(alternative)`.
template <class Variant, class WriteFields>
void encode_variant(codec::writer& w, const Variant& v, WriteFields&& write_fields) {
  w.u8(static_cast<uint8_t>(v.index() + 1));
  std::visit([&](const auto& alternative) { write_fields(alternative); }, v);
}

namespace detail {

template <class Variant, size_t I, class ReadFields>
bool decode_alternative(size_t index, Variant& out, ReadFields& read_fields) {
  if constexpr (I < std::variant_size_v<Variant>) {
    if (index == I) {
      std::variant_alternative_t<I, Variant> alternative{};
      if (!read_fields(alternative)) {
        return false;
      }
      out = std::move(alternative);
      return true;
    }
    return decode_alternative<Variant, I + 1>(index, out, read_fields);
  } else {
    return false;
  }
}

} // namespace detail

/// Reads what `encode_variant` wrote: `read_fields(alternative&)` reads the
/// fields of the alternative the tag names and returns whether they were
/// well formed. An unknown tag is malformed.
template <class Variant, class ReadFields>
bool decode_variant(codec::reader& r, Variant& out, ReadFields&& read_fields) {
  auto tag = r.u8();
  return r.good() && tag != 0
         && detail::decode_alternative<Variant, 0>(tag - 1u, out, read_fields);
}

/// Defines `encode(codec::writer&, const Command&)` and
/// `decode(codec::reader&, Command&)` for a command variant from the
/// `write_fields(writer, alternative)` and `read_fields(reader,
/// alternative)` overloads visible where it is used (each machine's .cpp).
#define SHOAL_COMMAND_CODEC(Command)                                           \
  void encode(codec::writer& w, const Command& cmd) {                          \
    encode_variant(w, cmd, [&w](const auto& c) { write_fields(w, c); });       \
  }                                                                            \
  bool decode(codec::reader& r, Command& out) {                                \
    return decode_variant(r, out, [&r](auto& c) { return read_fields(r, c); }); \
  }

/// `value` encoded on its own.
template <class T>
std::string encode_to_string(const T& value) {
  std::string out;
  codec::writer w{out};
  encode(w, value);
  return out;
}

/// Decodes a whole `text` as one `T`: fails with `invalid_argument` when it
/// is short, malformed or has bytes left over.
template <class T>
result<T> decode_from_string(std::string_view text) {
  codec::reader r{text};
  T out{};
  if (!decode(r, out) || !r.done()) {
    return fail(errc::invalid_argument, "malformed encoding");
  }
  return out;
}

} // namespace shoal
