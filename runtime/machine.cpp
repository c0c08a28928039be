#include "runtime/machine.hpp"

namespace shoal {

namespace {

// Flags of an encoded record.
constexpr uint8_t has_value = 1;
constexpr uint8_t has_range_end = 2;

} // namespace

void encode(codec::writer& w, const record& r) {
  uint8_t flags = (r.value ? has_value : 0) | (r.range_end.empty() ? 0 : has_range_end);
  w.u8(flags);
  w.bytes(r.key);
  if (r.value) {
    w.bytes(*r.value);
  }
  if (!r.range_end.empty()) {
    w.bytes(r.range_end);
  }
}

bool decode(codec::reader& r, record& out) {
  auto flags = r.u8();
  if (!r.good() || (flags & ~(has_value | has_range_end)) != 0
      || flags == (has_value | has_range_end)) {
    return false;
  }
  out.key = r.bytes();
  out.value.reset();
  out.range_end.clear();
  if ((flags & has_value) != 0) {
    out.value = r.bytes();
  }
  if ((flags & has_range_end) != 0) {
    out.range_end = r.bytes();
    if (out.range_end.empty()) {
      return false; // an empty end is written as "no range"
    }
  }
  return r.good();
}

void encode(codec::writer& w, time_point t) {
  w.i64(to_unix_nanos(t));
}

bool decode(codec::reader& r, time_point& out) {
  out = from_unix_nanos(r.i64());
  return r.good();
}

void encode(codec::writer& w, duration d) {
  w.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

bool decode(codec::reader& r, duration& out) {
  out = std::chrono::duration_cast<duration>(std::chrono::nanoseconds{r.i64()});
  return r.good();
}

void encode(codec::writer& w, const apply_ctx& c) {
  encode(w, c.now);
  w.varint(c.index);
  w.varint(c.shard);
}

bool decode(codec::reader& r, apply_ctx& out) {
  if (!decode(r, out.now)) {
    return false;
  }
  out.index = r.varint();
  auto shard = r.varint();
  if (!r.good() || shard > UINT16_MAX) {
    return false;
  }
  out.shard = static_cast<uint16_t>(shard);
  return true;
}

void encode(codec::writer& w, const std::vector<record>& records) {
  w.varint(records.size());
  for (const auto& rec : records) {
    encode(w, rec);
  }
}

bool decode(codec::reader& r, std::vector<record>& out) {
  auto n = r.varint();
  // Every record takes at least two bytes: a count beyond the input is
  // malformed (and must not reserve memory).
  if (!r.good() || n > r.rest().size() / 2) {
    return false;
  }
  out.clear();
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    record rec;
    if (!decode(r, rec)) {
      return false;
    }
    out.push_back(std::move(rec));
  }
  return true;
}

} // namespace shoal
