#include "runtime/lock/lock_table.hpp"

#include <algorithm>

#include "runtime/codec.hpp"
#include "runtime/key.hpp"

namespace shoal::lock {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr char type_holder = 'h';
constexpr char type_counter = 'c';

std::string encode_holder(const lock_info& h) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.bytes(h.owner_token);
  w.varint(h.fence);
  w.i64(to_unix_nanos(h.acquired));
  w.i64(to_unix_nanos(h.expires_at));
  w.varint(h.lease);
  return out;
}

std::string encode_counter(uint64_t fence) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.varint(fence);
  return out;
}

} // namespace

lock_table::lock_table(uint16_t shard, lock_config cfg)
  : shard_(shard), cfg_(std::move(cfg)) {
}

std::string lock_table::prefix(uint16_t shard) {
  std::string out;
  codec::writer{out}.u16be(shard);
  return out;
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

lock_info lock_table::info_of(const std::string& key, const lock_entry& e,
                              bool with_token) const {
  lock_info out;
  out.key = key;
  out.held = e.held;
  if (with_token) {
    out.owner_token = e.owner_token;
  }
  out.fence = e.fence;
  out.acquired = e.acquired;
  out.expires_at = e.expires_at;
  out.lease = e.lease;
  out.waiters = static_cast<uint32_t>(e.waiters.size());
  out.free_at = e.free_at;
  return out;
}

void lock_table::index(const std::string& key, const lock_entry& e) {
  // A free entry exists only while waiters queue or a lock-delay runs.
  if (e.held) {
    if (e.lease == 0) { // a lease-bound hold ends with its lease
      deadlines_.emplace(e.expires_at, key);
    }
  } else {
    deadlines_.emplace(e.free_at, key);
  }
  for (const auto& w : e.waiters) {
    deadlines_.emplace(w.deadline, key);
  }
}

void lock_table::unindex(const std::string& key, const lock_entry& e) {
  if (e.held) {
    deadlines_.erase({e.expires_at, key});
  } else {
    deadlines_.erase({e.free_at, key});
  }
  for (const auto& w : e.waiters) {
    deadlines_.erase({w.deadline, key});
  }
}

void lock_table::grant_to(map_type::iterator it, std::string token,
                          duration ttl, uint64_t lease, time_point now,
                          effects& out) {
  auto& e = it->second;
  e.held = true;
  e.owner_token = std::move(token);
  e.fence = ++fence_;
  e.acquired = now;
  e.expires_at = lease != 0 ? no_deadline : now + ttl;
  e.lease = lease;
  out.writes.push_back({counter_key(), encode_counter(fence_)});
  out.writes.push_back(
    {holder_key(it->first), encode_holder(info_of(it->first, e, true))});
}

void lock_table::end_hold(map_type::iterator it, effects& out) {
  auto& e = it->second;
  e.held = false;
  e.owner_token.clear();
  e.lease = 0;
  out.writes.push_back({holder_key(it->first), std::nullopt});
}

void lock_table::hand_over(map_type::iterator it, time_point now,
                           effects& out) {
  auto& e = it->second;
  while (!e.held && !e.waiters.empty() && e.free_at <= now) {
    auto w = std::move(e.waiters.front());
    e.waiters.pop_front();
    if (w.deadline <= now) {
      out.timeouts.push_back(w.id);
      continue;
    }
    grant_to(it, std::move(w.token), w.ttl, w.lease, now, out);
    out.grants.push_back({w.id, info_of(it->first, e, true)});
  }
  if (!e.held && e.waiters.empty() && e.free_at <= now) {
    locks_.erase(it);
  }
}

result<acquire_result> lock_table::acquire(const acquire_cmd& cmd,
                                           time_point now, effects& out) {
  if (auto ok = validate_key(cmd.key); !ok) {
    return std::move(ok).err();
  }
  if (auto ok = check_ttl(cmd.ttl); !ok) {
    return std::move(ok).err();
  }
  if (cmd.wait < duration::zero() || cmd.wait > cfg_.max_wait) {
    return fail(errc::invalid_argument,
                "wait must be 0.." + format_duration(cfg_.max_wait));
  }
  if (cmd.new_token.empty()) {
    return fail(errc::internal, "acquire without an owner token");
  }
  // Expired holds and waits of this key end first.
  tick_key(std::string{cmd.key}, now, out);
  auto it = locks_.find(cmd.key);
  if (it == locks_.end()) {
    it = locks_.emplace(cmd.key, lock_entry{}).first;
  }
  auto& e = it->second;
  if (!e.held && e.waiters.empty() && e.free_at <= now) {
    unindex(it->first, e);
    grant_to(it, cmd.new_token, cmd.ttl, cmd.lease, now, out);
    index(it->first, e);
    return acquire_result{true, info_of(it->first, e, true)};
  }
  if (cmd.wait == duration::zero()) {
    auto until = e.held && e.lease != 0
                   ? "bound to lease " + std::to_string(e.lease)
                   : format_rfc3339(e.held ? e.expires_at : e.free_at);
    return fail(errc::lock_held, "lock " + cmd.key
                                   + (e.held ? " is held until "
                                             : " is free again at ")
                                   + until
                                   + (e.waiters.empty()
                                        ? std::string{}
                                        : ", " + std::to_string(e.waiters.size())
                                            + " waiting"));
  }
  if (e.waiters.size() >= cfg_.max_waiters) {
    return fail(errc::overloaded, "too many waiters on lock " + cmd.key);
  }
  unindex(it->first, e);
  e.waiters.push_back(
    waiter_entry{cmd.waiter, cmd.new_token, cmd.ttl, now + cmd.wait, cmd.lease});
  index(it->first, e);
  return acquire_result{false, info_of(it->first, e, false)};
}

result<lock_table::map_type::iterator>
lock_table::live_hold(std::string_view key, std::string_view token,
                      time_point now) {
  auto it = locks_.find(key);
  if (it == locks_.end() || !it->second.held
      || it->second.owner_token != token) {
    return fail(errc::lock_not_held,
                "lock " + std::string{key} + " is not held with this token");
  }
  if (it->second.expires_at <= now) {
    return fail(errc::lock_expired, "lock " + std::string{key} + " expired at "
                                      + format_rfc3339(it->second.expires_at));
  }
  return it;
}

result<lock_info> lock_table::refresh(std::string_view key,
                                      std::string_view token, duration ttl,
                                      time_point now, effects& out) {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  if (auto ok = check_ttl(ttl); !ok) {
    return std::move(ok).err();
  }
  auto held = live_hold(key, token, now);
  if (!held) {
    return std::move(held).err();
  }
  auto it = *held;
  auto& e = it->second;
  if (e.lease != 0) {
    return fail(errc::invalid_argument,
                "lock " + std::string{key} + " is bound to lease "
                  + std::to_string(e.lease) + "; keep the lease alive instead");
  }
  unindex(it->first, e);
  e.expires_at = now + ttl;
  index(it->first, e);
  out.writes.push_back({holder_key(key), encode_holder(info_of(it->first, e, true))});
  return info_of(it->first, e, true);
}

result<uint64_t> lock_table::release(std::string_view key,
                                     std::string_view token, time_point now,
                                     effects& out) {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  auto held = live_hold(key, token, now);
  if (!held) {
    return std::move(held).err();
  }
  auto it = *held;
  auto& e = it->second;
  auto fence = e.fence;
  unindex(it->first, e);
  end_hold(it, out);
  // An unlock is not a vanished holder: no lock-delay.
  e.free_at = now;
  hand_over(it, now, out);
  if (auto again = locks_.find(key); again != locks_.end()) {
    index(again->first, again->second);
  }
  return fence;
}

void lock_table::cancel(std::string_view key, uint64_t waiter, time_point now,
                        effects& out) {
  auto it = locks_.find(key);
  if (it == locks_.end()) {
    return;
  }
  auto& e = it->second;
  unindex(it->first, e);
  std::erase_if(e.waiters, [waiter](const waiter_entry& w) { return w.id == waiter; });
  hand_over(it, now, out);
  if (auto again = locks_.find(key); again != locks_.end()) {
    index(again->first, again->second);
  }
}

size_t lock_table::release_lease(uint64_t lease, time_point now, effects& out) {
  if (lease == 0) {
    return 0;
  }
  std::vector<std::string> keys;
  size_t ended = 0;
  for (const auto& [key, e] : locks_) {
    auto waits = std::any_of(e.waiters.begin(), e.waiters.end(),
                             [&](const waiter_entry& w) { return w.lease == lease; });
    if ((e.held && e.lease == lease) || waits) {
      keys.push_back(key);
    }
  }
  for (const auto& key : keys) {
    auto it = locks_.find(key);
    auto& e = it->second;
    unindex(it->first, e);
    std::erase_if(e.waiters, [&](const waiter_entry& w) {
      if (w.lease == lease) {
        out.lease_lost.push_back(w.id);
        return true;
      }
      return false;
    });
    if (e.held && e.lease == lease) {
      end_hold(it, out);
      e.free_at = now;
      ++ended;
    }
    hand_over(it, now, out);
    if (auto again = locks_.find(key); again != locks_.end()) {
      index(again->first, again->second);
    }
  }
  return ended;
}

std::vector<uint64_t> lock_table::leases() const {
  std::set<uint64_t> ids;
  for (const auto& [key, e] : locks_) {
    if (e.held && e.lease != 0) {
      ids.insert(e.lease);
    }
    for (const auto& w : e.waiters) {
      if (w.lease != 0) {
        ids.insert(w.lease);
      }
    }
  }
  return {ids.begin(), ids.end()};
}

void lock_table::tick_key(const std::string& key, time_point now,
                          effects& out) {
  auto it = locks_.find(key);
  if (it == locks_.end()) {
    return;
  }
  auto& e = it->second;
  unindex(it->first, e);
  if (e.held && e.expires_at <= now) {
    out.expired.push_back(it->first);
    auto ended = e.expires_at;
    end_hold(it, out);
    // The holder vanished: nobody else before the lock-delay passed.
    e.free_at = ended + cfg_.lock_delay;
  }
  // Waits past their deadline end, wherever they stand in line.
  std::erase_if(e.waiters, [&](const waiter_entry& w) {
    if (w.deadline <= now) {
      out.timeouts.push_back(w.id);
      return true;
    }
    return false;
  });
  if (!e.held) {
    hand_over(it, now, out);
  }
  if (auto again = locks_.find(key); again != locks_.end()) {
    index(again->first, again->second);
  }
}

void lock_table::tick(time_point now, effects& out) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto key = deadlines_.begin()->second;
    tick_key(key, now, out);
    // tick_key re-indexes only future deadlines; drop a stale entry.
    if (!deadlines_.empty() && deadlines_.begin()->first <= now
        && deadlines_.begin()->second == key) {
      deadlines_.erase(deadlines_.begin());
    }
  }
}

std::optional<time_point> lock_table::next_deadline() const {
  if (deadlines_.empty()) {
    return std::nullopt;
  }
  return deadlines_.begin()->first;
}

result<lock_info> lock_table::get(std::string_view key, time_point now) const {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  auto it = locks_.find(key);
  if (it == locks_.end()) {
    lock_info free;
    free.key = std::string{key};
    return free;
  }
  auto info = info_of(it->first, it->second, false);
  if (info.held && info.expires_at <= now) {
    info.held = false;
  }
  return info;
}

result<void> lock_table::restore(std::string_view key, std::string_view value) {
  auto pfx = prefix(shard_);
  if (!key.starts_with(pfx) || key.size() < pfx.size() + 1) {
    return fail(errc::storage_error, "not a lock record of this shard");
  }
  codec::reader r{value};
  auto fmt = r.u8();
  if (key[pfx.size()] == type_counter && key.size() == pfx.size() + 1) {
    auto fence = r.varint();
    if (fmt != format_v1 || !r.done()) {
      return fail(errc::storage_error, "corrupt lock counter");
    }
    fence_ = std::max(fence_, fence);
    return {};
  }
  if (key[pfx.size()] != type_holder || key.size() == pfx.size() + 1) {
    return fail(errc::storage_error, "unknown lock record");
  }
  lock_entry e;
  e.held = true;
  e.owner_token = r.bytes();
  e.fence = r.varint();
  e.acquired = from_unix_nanos(r.i64());
  e.expires_at = from_unix_nanos(r.i64());
  e.lease = r.varint();
  if (fmt != format_v1 || !r.done()) {
    return fail(errc::storage_error, "corrupt lock holder record");
  }
  fence_ = std::max(fence_, e.fence);
  auto name = std::string{key.substr(pfx.size() + 1)};
  index(name, e);
  locks_.insert_or_assign(std::move(name), std::move(e));
  return {};
}

} // namespace shoal::lock
