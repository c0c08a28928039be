#include "runtime/stream/entity.hpp"

#include <set>

#include <xxhash.h>
#include <zstd.h>

#include "runtime/codec.hpp"
#include "runtime/key.hpp"

namespace shoal::stream {

namespace {

constexpr uint8_t change_v1 = 1;
constexpr std::string_view snapshot_magic = "SHSN";
constexpr uint8_t snapshot_v1 = 1;
constexpr int zstd_level = 3;
// A decoded snapshot is refused beyond this (a corrupt size field).
constexpr uint64_t max_snapshot_bytes = uint64_t{16} << 30;

error corrupt(std::string what) {
  return error{errc::storage_error, std::move(what)};
}

} // namespace

std::string entity_stream(std::string_view id) {
  std::string out{entity_prefix};
  out += id;
  return out;
}

result<void> validate_entity_id(std::string_view id) {
  return validate_key(id);
}

std::string_view to_string(entity_op op) {
  switch (op) {
    case entity_op::set:
      return "set";
    case entity_op::merge:
      return "merge";
    case entity_op::remove:
      return "delete";
  }
  return "unknown";
}

std::optional<entity_op> entity_op_from_string(std::string_view text) {
  for (auto op : {entity_op::set, entity_op::merge, entity_op::remove}) {
    if (text == to_string(op)) {
      return op;
    }
  }
  return std::nullopt;
}

result<void> validate_change(const entity_change& c) {
  if (c.op == entity_op::remove && !c.attributes.empty()) {
    return fail(errc::invalid_argument, "a delete carries no attributes");
  }
  if (c.attributes.size() > max_attributes) {
    return fail(errc::too_large, "at most " + std::to_string(max_attributes)
                                   + " attributes per change");
  }
  std::set<std::string_view> seen;
  for (const auto& [name, value] : c.attributes) {
    if (name.empty() || name.size() > max_attribute_name_bytes) {
      return fail(errc::invalid_argument,
                  "attribute names must be 1.."
                    + std::to_string(max_attribute_name_bytes) + " bytes");
    }
    if (!seen.insert(name).second) {
      return fail(errc::invalid_argument, "attribute " + name + " given twice");
    }
    if (!value && c.op == entity_op::set) {
      return fail(errc::invalid_argument,
                  "a set gives every attribute a value (" + name + ")");
    }
  }
  return {};
}

std::string encode_change(const entity_change& c) {
  std::string out;
  codec::writer w{out};
  w.u8(change_v1);
  w.u8(static_cast<uint8_t>(c.op));
  w.bytes(c.by);
  w.varint(c.attributes.size());
  for (const auto& [name, value] : c.attributes) {
    w.bytes(name);
    w.u8(value ? 1 : 0);
    if (value) {
      w.bytes(*value);
    }
  }
  return out;
}

result<entity_change> decode_change(std::string_view payload) {
  codec::reader r{payload};
  entity_change c;
  auto fmt = r.u8();
  auto op = r.u8();
  c.by = r.bytes();
  auto n = r.varint();
  if (fmt != change_v1 || op < 1 || op > 3 || n > max_attributes || !r.good()) {
    return corrupt("not an entity change");
  }
  c.op = static_cast<entity_op>(op);
  for (uint64_t i = 0; i < n && r.good(); ++i) {
    auto name = r.bytes();
    auto has = r.u8();
    std::optional<std::string> value;
    if (has == 1) {
      value = r.bytes();
    }
    c.attributes.emplace_back(std::move(name), std::move(value));
  }
  if (!r.done()) {
    return corrupt("not an entity change");
  }
  return c;
}

event_data change_event(const entity_change& c, std::string event_id) {
  return event_data{std::string{to_string(c.op)}, encode_change(c), {},
                    std::move(event_id), payload_format::binary};
}

result<std::optional<entity_state>>
fold_entity(std::optional<entity_state> s, std::string_view id, const event& ev) {
  auto c = decode_change(ev.payload);
  if (!c) {
    auto e = std::move(c).err();
    e.message += " (" + ev.stream + "@" + std::to_string(ev.seq) + ")";
    return e;
  }
  if (c->op == entity_op::remove) {
    return std::optional<entity_state>{};
  }
  if (!s || c->op == entity_op::set) {
    s.emplace();
    s->id = std::string{id};
  }
  for (auto& [name, value] : c->attributes) {
    if (value) {
      s->attributes.insert_or_assign(std::move(name), std::move(*value));
    } else {
      s->attributes.erase(name);
    }
  }
  s->updated_at = ev.time;
  s->updated_by = std::move(c->by);
  s->seq = ev.seq;
  return s;
}

result<entity_map> apply_entity_event(const entity_map& m, std::string_view id,
                                      const event& ev) {
  std::optional<entity_state> current;
  if (const auto* s = m.find(id)) {
    current = *s;
  }
  auto next = fold_entity(std::move(current), id, ev);
  if (!next) {
    return std::move(next).err();
  }
  if (!*next) {
    return m.erase(id);
  }
  return m.set(std::string{id}, std::move(**next));
}

std::string encode_snapshot(const entity_map& m) {
  std::string body;
  codec::writer w{body};
  w.varint(m.size());
  m.for_each([&](const std::string& id, const entity_state& s) {
    w.bytes(id);
    w.varint(s.seq);
    w.i64(to_unix_nanos(s.updated_at));
    w.bytes(s.updated_by);
    w.varint(s.attributes.size());
    for (const auto& [name, value] : s.attributes) {
      w.bytes(name);
      w.bytes(value);
    }
  });
  std::string packed(ZSTD_compressBound(body.size()), '\0');
  auto n = ZSTD_compress(packed.data(), packed.size(), body.data(), body.size(),
                         zstd_level);
  // Compressing into a buffer of the bound cannot fail.
  packed.resize(ZSTD_isError(n) ? 0 : n);
  std::string out{snapshot_magic};
  codec::writer h{out};
  h.u8(snapshot_v1);
  h.u64be(XXH64(packed.data(), packed.size(), 0));
  h.varint(body.size());
  out += packed;
  return out;
}

result<entity_map> decode_snapshot(std::string_view blob) {
  if (!blob.starts_with(snapshot_magic)) {
    return corrupt("not a projection snapshot");
  }
  codec::reader h{blob.substr(snapshot_magic.size())};
  auto version = h.u8();
  auto sum = h.u64be();
  auto size = h.varint();
  if (!h.good() || version != snapshot_v1 || size > max_snapshot_bytes) {
    return corrupt("unknown snapshot version or size");
  }
  auto packed = h.rest();
  if (XXH64(packed.data(), packed.size(), 0) != sum) {
    return corrupt("snapshot checksum mismatch");
  }
  std::string body(size, '\0');
  auto n = ZSTD_decompress(body.data(), body.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != size) {
    return corrupt("snapshot does not decompress");
  }
  codec::reader r{body};
  auto count = r.varint();
  entity_map m;
  for (uint64_t i = 0; i < count && r.good(); ++i) {
    entity_state s;
    s.id = r.bytes();
    s.seq = r.varint();
    s.updated_at = from_unix_nanos(r.i64());
    s.updated_by = r.bytes();
    auto attrs = r.varint();
    for (uint64_t a = 0; a < attrs && r.good(); ++a) {
      auto name = r.bytes();
      s.attributes.emplace(std::move(name), r.bytes());
    }
    auto id = s.id;
    m = m.set(std::move(id), std::move(s));
  }
  if (!r.done() || m.size() != count) {
    return corrupt("snapshot body is malformed");
  }
  return m;
}

} // namespace shoal::stream
