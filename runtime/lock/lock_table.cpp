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
    out.records.push_back(record::put(counter_key(), std::move(value)));
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
  auto it = keys_.insert_or_assign(std::move(name), std::move(*restored)).first;
  if (auto next = it->second.next_deadline()) {
    deadlines_.emplace(*next, it->first);
    deadline_of_[it->first] = *next;
  }
  return {};
}

// -- commands ------------------------------------------------------------------

void lock_table::settle(key_map::iterator it, time_point now) {
  if (auto old = deadline_of_.find(it->first); old != deadline_of_.end()) {
    deadlines_.erase({old->second, it->first});
    deadline_of_.erase(old);
  }
  if (it->second.idle(now)) {
    keys_.erase(it);
    return;
  }
  if (auto next = it->second.next_deadline()) {
    deadlines_.emplace(*next, it->first);
    deadline_of_[it->first] = *next;
  }
}

result<acquire_result> lock_table::apply(const acquire_cmd& cmd, const apply_ctx& ctx,
                                         effects& out) {
  if (auto ok = check(cmd); !ok) {
    return std::move(ok).err();
  }
  auto c = cmd;
  c.fence = draw_fence(out);
  auto it = keys_.find(cmd.key);
  if (it == keys_.end()) {
    it = keys_.emplace(cmd.key, make_key(cmd.key)).first;
  }
  auto r = it->second.acquire(c, ctx.now, out);
  settle(it, ctx.now);
  return r;
}

result<lock_info> lock_table::apply(const refresh_cmd& cmd, const apply_ctx& ctx,
                                    effects& out) {
  if (auto ok = check_refresh(cmd.key, cmd.ttl); !ok) {
    return std::move(ok).err();
  }
  auto it = keys_.find(cmd.key);
  if (it == keys_.end()) {
    return not_held(cmd.key);
  }
  auto r = it->second.refresh(cmd.token, cmd.ttl, ctx.now, out);
  settle(it, ctx.now);
  return r;
}

result<uint64_t> lock_table::apply(const release_cmd& cmd, const apply_ctx& ctx,
                                   effects& out) {
  if (auto ok = validate_key(cmd.key); !ok) {
    return std::move(ok).err();
  }
  auto it = keys_.find(cmd.key);
  if (it == keys_.end()) {
    return not_held(cmd.key);
  }
  auto r = it->second.release(cmd.token, ctx.now, out);
  settle(it, ctx.now);
  return r;
}

result<uint64_t> lock_table::apply(const lease_end_cmd& cmd, const apply_ctx& ctx,
                                   effects& out) {
  uint64_t ended = 0;
  if (cmd.lease == 0) {
    return ended;
  }
  for (auto it = keys_.begin(); it != keys_.end();) {
    auto next = std::next(it);
    ended += it->second.release_lease(cmd.lease, ctx.now, out) ? 1 : 0;
    settle(it, ctx.now);
    it = next;
  }
  return ended;
}

result<uint64_t> lock_table::apply(const tick_cmd&, const apply_ctx& ctx, effects& out) {
  uint64_t n = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= ctx.now) {
    auto it = keys_.find(deadlines_.begin()->second);
    if (it == keys_.end()) {
      deadline_of_.erase(deadlines_.begin()->second); // defensive
      deadlines_.erase(deadlines_.begin());
      continue;
    }
    it->second.tick(ctx.now, out);
    settle(it, ctx.now);
    ++n;
  }
  return n;
}

// -- observers -----------------------------------------------------------------

result<lock_info> lock_table::get(std::string_view key, time_point now) const {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    lock_info free;
    free.key = std::string{key};
    return free;
  }
  return it->second.get(now);
}

std::optional<time_point> lock_table::next_deadline() const {
  if (deadlines_.empty()) {
    return std::nullopt;
  }
  return deadlines_.begin()->first;
}

void lock_table::leases(std::set<uint64_t>& out) const {
  for (const auto& [name, key] : keys_) {
    key.leases(out);
  }
}

// -- command encodings --------------------------------------------------------

// The encodings of times and durations (runtime/machine.hpp).
using shoal::decode;
using shoal::encode;

namespace {

void write_fields(codec::writer& w, const acquire_cmd& c) {
  w.bytes(c.key);
  encode(w, c.ttl);
  encode(w, c.wait);
  w.bytes(c.new_token);
  w.varint(c.waiter);
  w.varint(c.lease);
  w.varint(c.fence);
}

bool read_fields(codec::reader& r, acquire_cmd& c) {
  c.key = r.bytes();
  decode(r, c.ttl);
  decode(r, c.wait);
  c.new_token = r.bytes();
  c.waiter = r.varint();
  c.lease = r.varint();
  c.fence = r.varint();
  return r.good();
}

void write_fields(codec::writer& w, const refresh_cmd& c) {
  w.bytes(c.key);
  w.bytes(c.token);
  encode(w, c.ttl);
}

bool read_fields(codec::reader& r, refresh_cmd& c) {
  c.key = r.bytes();
  c.token = r.bytes();
  decode(r, c.ttl);
  return r.good();
}

void write_fields(codec::writer& w, const release_cmd& c) {
  w.bytes(c.key);
  w.bytes(c.token);
}

bool read_fields(codec::reader& r, release_cmd& c) {
  c.key = r.bytes();
  c.token = r.bytes();
  return r.good();
}

void write_fields(codec::writer& w, const lease_end_cmd& c) {
  w.varint(c.lease);
}

bool read_fields(codec::reader& r, lease_end_cmd& c) {
  c.lease = r.varint();
  return r.good();
}

void write_fields(codec::writer&, const tick_cmd&) {
}

bool read_fields(codec::reader& r, tick_cmd&) {
  return r.good();
}

} // namespace

SHOAL_COMMAND_CODEC(command)

} // namespace shoal::lock
