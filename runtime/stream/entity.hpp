#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/result.hpp"
#include "runtime/stream/hamt.hpp"
#include "runtime/stream/stream_table.hpp"
#include "runtime/time.hpp"

namespace shoal::stream {

/// Entity `id`'s events live in the stream `entity_prefix + id`.
inline constexpr std::string_view entity_prefix = "$entity.";

std::string entity_stream(std::string_view id);

/// Checks an entity id (the key rules of `validate_key`).
result<void> validate_entity_id(std::string_view id);

/// An entity as its projection holds it.
struct entity_state {
  std::string id;
  /// Attribute name → the JSON text of its value, sorted by name.
  std::map<std::string, std::string> attributes;
  time_point updated_at;
  std::string updated_by;
  /// The seq of the entity stream's last event applied.
  uint64_t seq = 0;

  friend bool operator==(const entity_state&, const entity_state&) = default;
};

/// What one entity event does.
enum class entity_op : uint8_t {
  /// Replace every attribute with the given ones (creates the entity).
  set = 1,
  /// Merge patch (RFC 7386 at the top level): set the given attributes,
  /// remove those given without a value (JSON null); creates the entity.
  merge = 2,
  /// Remove the entity.
  remove = 3,
};

std::string_view to_string(entity_op op);
std::optional<entity_op> entity_op_from_string(std::string_view text);

/// One entity event's content (the payload of its stream event).
struct entity_change {
  entity_op op = entity_op::merge;
  /// Attribute name → JSON text, or nullopt (merge only) to remove it.
  std::vector<std::pair<std::string, std::optional<std::string>>> attributes;
  /// Who made the change (kept as `updated_by`).
  std::string by;
};

/// Limits of entity changes.
inline constexpr size_t max_attribute_name_bytes = 256;
inline constexpr size_t max_attributes = 1024;

/// Checks a change: attribute names 1..256 bytes and distinct, at most 1024
/// attributes, no removals in a `set`, nothing in a `remove`.
result<void> validate_change(const entity_change& c);

/// The stream event of a change (type = the op's name, binary payload).
event_data change_event(const entity_change& c, std::string event_id = {});

std::string encode_change(const entity_change& c);
result<entity_change> decode_change(std::string_view payload);

/// Folds one event of entity `id`'s stream into its state (nullopt: the
/// entity does not exist). Fails with `storage_error` on a payload that
/// is not a change.
result<std::optional<entity_state>>
fold_entity(std::optional<entity_state> s, std::string_view id, const event& ev);

/// Every entity of a projection, by id.
using entity_map = hamt<entity_state>;

/// `fold_entity` applied to the entry of `id` in `m`: the new version.
result<entity_map> apply_entity_event(const entity_map& m, std::string_view id,
                                      const event& ev);

/// A projection snapshot: versioned binary encoding of every entity,
/// zstd-compressed, with an XXH64 checksum of the compressed bytes.
std::string encode_snapshot(const entity_map& m);

/// Decodes a snapshot; fails with `storage_error` on a wrong magic,
/// version, checksum, size or encoding (a torn or corrupt snapshot).
result<entity_map> decode_snapshot(std::string_view blob);

} // namespace shoal::stream
