#include "runtime/lock/lock_table.hpp"

#include <algorithm>

#include "runtime/codec.hpp"
#include "runtime/key.hpp"

namespace shoal::lock {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr char type_holder = 'h';
constexpr char type_counter = 'c';

} // namespace

lock_table::lock_table(uint16_t shard, lock_config cfg)
  : shard_(shard), cfg_(std::move(cfg)) {
  cfg_.fence_block = std::max<uint64_t>(cfg_.fence_block, 1);
}

std::string lock_table::prefix(uint16_t shard) {
  return codec::shard_prefix(shard);
}

std::string lock_table::holder_key(std::string_view key) const {
  auto out = prefix(shard_);
  out += type_holder;
  out += key;
  return out;
}

std::string lock_table::counter_key() const {
  auto out = prefix(shard_);
  out += type_counter;
  return out;
}

result<void> lock_table::validate_key(std::string_view key) const {
  if (key.size() > cfg_.max_key_bytes) {
    return fail(errc::invalid_key, "lock key is longer than "
                                     + std::to_string(cfg_.max_key_bytes)
                                     + " bytes");
  }
  return shoal::validate_key(key);
}

result<void> lock_table::check_ttl(duration ttl) const {
  if (ttl < cfg_.min_ttl || ttl > cfg_.max_ttl) {
    return fail(errc::invalid_ttl, "lock ttl must be "
                                     + format_duration(cfg_.min_ttl) + ".."
                                     + format_duration(cfg_.max_ttl));
  }
  return {};
}

result<void> lock_table::check(const acquire_cmd& cmd) const {
  if (auto ok = validate_key(cmd.key); !ok) {
    return ok;
  }
  if (auto ok = check_ttl(cmd.ttl); !ok) {
    return ok;
  }
  if (cmd.wait < duration::zero() || cmd.wait > cfg_.max_wait) {
    return fail(errc::invalid_argument,
                "wait must be 0.." + format_duration(cfg_.max_wait));
  }
  if (cmd.new_token.empty()) {
    return fail(errc::internal, "acquire without an owner token");
  }
  return {};
}

result<void> lock_table::check_refresh(std::string_view key,
                                       duration ttl) const {
  if (auto ok = validate_key(key); !ok) {
    return ok;
  }
  return check_ttl(ttl);
}

uint64_t lock_table::draw_fence(effects& out) {
  ++fence_;
  if (fence_ > reserved_) {
    reserved_ = fence_ + cfg_.fence_block - 1;
    std::string value;
    codec::writer w{value};
    w.u8(format_v1);
    w.varint(reserved_);
    out.writes.push_back({counter_key(), std::move(value)});
  }
  return fence_;
}

lock_key lock_table::make_key(std::string key) const {
  auto record = holder_key(key);
  return lock_key{std::move(key), std::move(record), cfg_};
}

result<void> lock_table::restore(std::string_view key, std::string_view value) {
  auto pfx = prefix(shard_);
  if (!key.starts_with(pfx) || key.size() < pfx.size() + 1) {
    return fail(errc::storage_error, "not a lock record of this shard");
  }
  if (key[pfx.size()] == type_counter && key.size() == pfx.size() + 1) {
    codec::reader r{value};
    auto fmt = r.u8();
    auto reserved = r.varint();
    if (fmt != format_v1 || !r.done()) {
      return fail(errc::storage_error, "corrupt lock counter");
    }
    reserved_ = std::max(reserved_, reserved);
    fence_ = std::max(fence_, reserved_);
    return {};
  }
  if (key[pfx.size()] != type_holder || key.size() == pfx.size() + 1) {
    return fail(errc::storage_error, "unknown lock record");
  }
  auto name = std::string{key.substr(pfx.size() + 1)};
  auto restored = lock_key::restore(name, std::string{key}, cfg_, value);
  if (!restored) {
    return std::move(restored).err();
  }
  // A holder's fence is covered by a reservation; keep it so if the
  // counter record were older.
  auto fence = restored->fence();
  fence_ = std::max(fence_, fence);
  reserved_ = std::max(reserved_, fence);
  restored_.insert_or_assign(std::move(name), std::move(*restored));
  return {};
}

std::map<std::string, lock_key, std::less<>> lock_table::take_restored() {
  return std::exchange(restored_, {});
}

} // namespace shoal::lock
