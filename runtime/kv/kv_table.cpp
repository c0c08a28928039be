#include "runtime/kv/kv_table.hpp"

#include <algorithm>
#include <iterator>

#include "runtime/codec.hpp"

namespace shoal::kv {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr char type_entry = 'e';
constexpr char type_history = 'h';
constexpr char type_log = 'l';
constexpr char type_meta = 'm';
constexpr char type_fence = 'f';

int64_t nanos(time_point t) {
  return to_unix_nanos(t);
}

bool valid_op(uint8_t v) {
  return v >= 1 && v <= 3;
}

} // namespace

std::string_view to_string(operation op) {
  switch (op) {
    case operation::put:
      return "put";
    case operation::del:
      return "delete";
    case operation::expire:
      return "expire";
  }
  return "put";
}

kv_table::kv_table(uint16_t shard, kv_config cfg)
  : shard_(shard), cfg_(std::move(cfg)) {
}

// -- storage keys and codecs --------------------------------------------------

std::string kv_table::prefix(uint16_t shard) {
  return codec::shard_prefix(shard);
}

std::string kv_table::entry_key(uint16_t shard, std::string_view key) {
  auto out = prefix(shard);
  out += type_entry;
  out += key;
  return out;
}

std::string kv_table::history_prefix(uint16_t shard, std::string_view key) {
  auto out = prefix(shard);
  out += type_history;
  out += key;
  out += '\0';
  return out;
}

std::string kv_table::log_key(uint16_t shard, uint64_t revision) {
  auto out = prefix(shard);
  out += type_log;
  codec::writer{out}.u64be(revision);
  return out;
}

std::string kv_table::fence_key(uint16_t shard, std::string_view key) {
  auto out = prefix(shard);
  out += type_fence;
  out += key;
  return out;
}

namespace {

std::string encode_fences(const std::vector<fence>& fences) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.varint(fences.size());
  for (auto& f : fences) {
    w.bytes(f.lock);
    w.varint(f.token);
  }
  return out;
}

result<std::vector<fence>> decode_fences(std::string_view v) {
  codec::reader r{v};
  auto fmt = r.u8();
  auto n = r.varint();
  std::vector<fence> out;
  for (uint64_t i = 0; i < n && r.good(); ++i) {
    fence f;
    f.lock = r.bytes();
    f.token = r.varint();
    out.push_back(std::move(f));
  }
  if (fmt != format_v1 || !r.done()) {
    return fail(errc::storage_error, "corrupt kv fence record");
  }
  return out;
}

} // namespace

std::string kv_table::encode(const entry& e) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.varint(e.revision);
  w.varint(e.create_revision);
  w.varint(e.version);
  w.i64(nanos(e.created));
  w.i64(nanos(e.modified));
  w.i64(nanos(e.expires_at));
  w.varint(e.lease);
  w.bytes(e.value);
  return out;
}

result<entry> kv_table::decode_entry(std::string_view key, std::string_view v) {
  codec::reader r{v};
  entry e;
  auto fmt = r.u8();
  e.key = std::string{key};
  e.revision = r.varint();
  e.create_revision = r.varint();
  e.version = r.varint();
  e.created = from_unix_nanos(r.i64());
  e.modified = from_unix_nanos(r.i64());
  e.expires_at = from_unix_nanos(r.i64());
  e.lease = r.varint();
  e.value = r.bytes();
  if (fmt != format_v1 || !r.done()) {
    return fail(errc::storage_error, "corrupt kv entry");
  }
  return e;
}

std::string kv_table::encode(const version_record& v) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.u8(static_cast<uint8_t>(v.op));
  w.varint(v.revision);
  w.varint(v.version);
  w.i64(nanos(v.at));
  w.i64(nanos(v.expires_at));
  w.bytes(v.value);
  return out;
}

result<version_record> kv_table::decode_version(std::string_view v) {
  codec::reader r{v};
  version_record out;
  auto fmt = r.u8();
  auto op = r.u8();
  out.op = static_cast<operation>(op);
  out.revision = r.varint();
  out.version = r.varint();
  out.at = from_unix_nanos(r.i64());
  out.expires_at = from_unix_nanos(r.i64());
  out.value = r.bytes();
  if (fmt != format_v1 || !valid_op(op) || !r.done()) {
    return fail(errc::storage_error, "corrupt kv history record");
  }
  return out;
}

std::string kv_table::encode(const event& e) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.u8(static_cast<uint8_t>(e.op));
  w.bytes(e.key);
  w.varint(e.revision);
  w.varint(e.prev_revision);
  w.i64(nanos(e.at));
  w.bytes(e.value);
  return out;
}

result<event> kv_table::decode_event(std::string_view v) {
  codec::reader r{v};
  event out;
  auto fmt = r.u8();
  auto op = r.u8();
  out.op = static_cast<operation>(op);
  out.key = r.bytes();
  out.revision = r.varint();
  out.prev_revision = r.varint();
  out.at = from_unix_nanos(r.i64());
  out.value = r.bytes();
  if (fmt != format_v1 || !valid_op(op) || !r.done()) {
    return fail(errc::storage_error, "corrupt kv change-log record");
  }
  return out;
}

// -- commands -----------------------------------------------------------------

result<write_result> kv_table::apply(const put_cmd& cmd, const apply_ctx& ctx,
                                     effects& out) {
  auto now = ctx.now;
  if (auto ok = validate_key(cmd.key); !ok) {
    return std::move(ok).err();
  }
  if (cmd.value.size() > cfg_.max_value_bytes) {
    return fail(errc::too_large, "value is " + std::to_string(cmd.value.size())
                                   + " bytes, the limit is "
                                   + std::to_string(cfg_.max_value_bytes));
  }
  if (cmd.ttl < duration::zero()) {
    return fail(errc::invalid_ttl, "ttl must not be negative");
  }
  if (cmd.ttl > cfg_.max_ttl) {
    return fail(errc::invalid_ttl,
                "ttl is longer than " + format_duration(cfg_.max_ttl));
  }
  if (auto ok = check_fence(cmd.key, cmd.fence); !ok) {
    return std::move(ok).err();
  }
  auto it = entries_.find(cmd.key);
  auto live = it != entries_.end() && is_live(it->second, now);
  uint64_t current = live ? it->second.revision : 0;
  if (cmd.if_revision != any_revision && cmd.if_revision != current) {
    return fail_at(errc::conflict, current,
                   "key " + cmd.key + " is at revision "
                     + std::to_string(current) + ", not "
                     + std::to_string(cmd.if_revision));
  }
  if (it != entries_.end() && !live) {
    // Expired but not yet swept: its expiry happens first, so watchers see
    // the key go away before it comes back.
    remove(it, operation::expire, now, out);
    it = entries_.end();
  }
  auto rev = ++revision_;
  entry e;
  if (it != entries_.end()) {
    e = it->second;
    if (e.has_expiry()) {
      expiry_.erase({e.expires_at, e.key});
    }
    unbind_lease(e);
    e.version += 1;
  } else {
    e.key = cmd.key;
    e.create_revision = rev;
    e.version = 1;
    e.created = now;
  }
  e.value = cmd.value;
  e.revision = rev;
  e.modified = now;
  e.expires_at = cmd.ttl > duration::zero() ? now + cmd.ttl : time_point{};
  e.lease = cmd.lease;
  if (e.has_expiry()) {
    expiry_.emplace(e.expires_at, e.key);
  }
  bind_lease(e);
  note_fence(e.key, cmd.fence, out);
  out.records.push_back({entry_key(shard_, e.key), encode(e), {}});
  add_history(e.key,
              version_record{operation::put, rev, e.version, e.value, now,
                             e.expires_at},
              out);
  add_log(event{e.key, operation::put, rev, current, e.value, now, shard_},
          out);
  write_result res;
  res.revision = rev;
  res.prev_revision = current;
  res.changed = true;
  res.current = e;
  res.current.value.clear();
  entries_.insert_or_assign(e.key, std::move(e));
  return res;
}

result<write_result> kv_table::apply(const delete_cmd& cmd, const apply_ctx& ctx,
                                     effects& out) {
  auto now = ctx.now;
  if (auto ok = validate_key(cmd.key); !ok) {
    return std::move(ok).err();
  }
  if (auto ok = check_fence(cmd.key, cmd.fence); !ok) {
    return std::move(ok).err();
  }
  auto it = entries_.find(cmd.key);
  auto live = it != entries_.end() && is_live(it->second, now);
  uint64_t current = live ? it->second.revision : 0;
  if (cmd.if_revision != any_revision && cmd.if_revision != current) {
    return fail_at(errc::conflict, current,
                   "key " + cmd.key + " is at revision "
                     + std::to_string(current) + ", not "
                     + std::to_string(cmd.if_revision));
  }
  note_fence(cmd.key, cmd.fence, out);
  write_result res;
  if (!live) {
    // Absent (or expired, which the sweep will record): nothing changes.
    res.revision = revision_;
    return res;
  }
  remove(it, operation::del, now, out);
  res.revision = revision_;
  res.prev_revision = current;
  res.changed = true;
  return res;
}

void kv_table::remove(std::map<std::string, entry, std::less<>>::iterator it,
                      operation op, time_point now, effects& out) {
  auto rev = ++revision_;
  auto key = it->first;
  auto prev = it->second.revision;
  auto version = it->second.version;
  if (it->second.has_expiry()) {
    expiry_.erase({it->second.expires_at, key});
  }
  unbind_lease(it->second);
  entries_.erase(it);
  out.records.push_back({entry_key(shard_, key), std::nullopt, {}});
  add_history(key, version_record{op, rev, version, {}, now, {}}, out);
  add_log(event{key, op, rev, prev, {}, now, shard_}, out);
}

result<uint64_t> kv_table::apply(const expire_cmd&, const apply_ctx& ctx, effects& out) {
  auto now = ctx.now;
  uint64_t n = 0;
  while (!expiry_.empty() && expiry_.begin()->first <= now
         && n < cfg_.max_expire_per_sweep) {
    auto key = expiry_.begin()->second;
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      expiry_.erase(expiry_.begin()); // defensive: index without entry
      continue;
    }
    remove(it, operation::expire, now, out);
    ++n;
  }
  return n;
}

result<void> kv_table::check_fence(const std::string& key,
                                   const fence& f) const {
  if (f.empty()) {
    return {};
  }
  if (auto ok = validate_key(f.lock); !ok) {
    return fail(errc::invalid_argument, "fence lock: " + ok.err().message);
  }
  if (f.token == 0) {
    return fail(errc::invalid_argument, "fence token must be at least 1");
  }
  auto it = fences_.find(key);
  if (it == fences_.end()) {
    return {};
  }
  for (auto& known : it->second) {
    if (known.lock == f.lock) {
      if (f.token < known.token) {
        return fail_at(errc::fenced, known.token,
                       "key " + key + " accepted fencing token "
                         + std::to_string(known.token) + " of lock " + f.lock
                         + "; " + std::to_string(f.token) + " is stale");
      }
      return {};
    }
  }
  if (it->second.size() >= cfg_.max_fences_per_key) {
    return fail(errc::invalid_argument,
                "key " + key + " is already fenced by "
                  + std::to_string(cfg_.max_fences_per_key) + " locks");
  }
  return {};
}

void kv_table::note_fence(const std::string& key, const fence& f,
                          effects& out) {
  if (f.empty()) {
    return;
  }
  auto& fences = fences_[key];
  auto it = std::find_if(fences.begin(), fences.end(),
                         [&](const fence& x) { return x.lock == f.lock; });
  if (it == fences.end()) {
    fences.push_back(f);
  } else if (it->token < f.token) {
    it->token = f.token;
  } else {
    return; // same token again: nothing new to remember
  }
  out.records.push_back({fence_key(shard_, key), encode_fences(fences), {}});
}

void kv_table::bind_lease(const entry& e) {
  if (e.lease != 0) {
    by_lease_[e.lease].insert(e.key);
  }
}

void kv_table::unbind_lease(const entry& e) {
  if (e.lease == 0) {
    return;
  }
  auto it = by_lease_.find(e.lease);
  if (it != by_lease_.end()) {
    it->second.erase(e.key);
    if (it->second.empty()) {
      by_lease_.erase(it);
    }
  }
}

result<uint64_t> kv_table::apply(const end_lease_cmd& cmd, const apply_ctx& ctx,
                                 effects& out) {
  auto now = ctx.now;
  auto lease = cmd.lease;
  auto op = cmd.op;
  auto bound = by_lease_.find(lease);
  if (lease == 0 || bound == by_lease_.end()) {
    return uint64_t{0};
  }
  auto keys = bound->second; // `remove` edits the index
  for (const auto& key : keys) {
    auto it = entries_.find(key);
    // One that expired by its own TTL meanwhile goes as an expiry.
    remove(it, is_live(it->second, now) ? op : operation::expire, now, out);
  }
  return uint64_t{keys.size()};
}

std::vector<uint64_t> kv_table::leases() const {
  std::vector<uint64_t> out;
  out.reserve(by_lease_.size());
  for (const auto& [id, keys] : by_lease_) {
    out.push_back(id);
  }
  return out;
}

void kv_table::add_history(const std::string& key, const version_record& v,
                           effects& out) {
  auto hkey = history_prefix(shard_, key);
  codec::writer{hkey}.u64be(v.revision);
  out.records.push_back({std::move(hkey), encode(v), {}});
  auto& revs = history_[key];
  revs.push_back(v.revision);
  while (revs.size() > cfg_.history_depth) {
    auto old = history_prefix(shard_, key);
    codec::writer{old}.u64be(revs.front());
    out.records.push_back({std::move(old), std::nullopt, {}});
    revs.pop_front();
  }
}

void kv_table::add_log(const event& e, effects& out) {
  out.records.push_back({log_key(shard_, e.revision), encode(e), {}});
  out.events.push_back(e);
  log_.emplace_back(e.revision, e.at);
  // The log may run over its count by a sixteenth before it is cut back,
  // so that a full log costs one range delete per many changes rather
  // than one per change.
  if (log_.size() > cfg_.log_max_count + cfg_.log_max_count / 16) {
    auto first = log_.front().first;
    while (log_.size() > cfg_.log_max_count) {
      log_.pop_front();
    }
    out.records.push_back(
      {log_key(shard_, first), std::nullopt, log_key(shard_, log_.front().first)});
  }
  if (log_.empty()) {
    // The newest change-log record carries the shard's revision across a
    // restart; without one it needs its own record.
    persist_revision(out);
  }
}

result<uint64_t> kv_table::apply(const trim_log_cmd&, const apply_ctx& ctx,
                                 effects& out) {
  auto now = ctx.now;
  if (log_.empty()) {
    return uint64_t{0};
  }
  auto first = log_.front().first;
  size_t dropped = 0;
  while (!log_.empty()
         && (log_.size() > cfg_.log_max_count
             || now - log_.front().second > cfg_.log_max_age)) {
    log_.pop_front();
    ++dropped;
  }
  if (dropped == 0) {
    return uint64_t{0};
  }
  auto end = log_.empty() ? log_key(shard_, revision_ + 1)
                          : log_key(shard_, log_.front().first);
  out.records.push_back(record::erase_range(log_key(shard_, first), std::move(end)));
  // The oldest resumable revision moved: remember it across restarts.
  persist_revision(out);
  return uint64_t{dropped};
}

void kv_table::persist_revision(effects& out) {
  std::string v;
  codec::writer w{v};
  w.varint(revision_);
  auto key = prefix(shard_);
  key += type_meta;
  // Several changes in one batch rewrite the same key; the last one wins.
  out.records.push_back({std::move(key), std::move(v), {}});
}

// -- reads --------------------------------------------------------------------

result<entry> kv_table::get(std::string_view key, time_point now) const {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  auto it = entries_.find(key);
  if (it == entries_.end() || !is_live(it->second, now)) {
    return fail(errc::not_found, "key " + std::string{key} + " not found");
  }
  return it->second;
}

template <class Fn>
void kv_table::visit_live(const key_pattern& pattern, const std::string& after,
                          time_point now, Fn&& fn) const {
  auto start = pattern.scan_prefix();
  auto it = entries_.lower_bound(start);
  if (!after.empty() && after >= start) {
    it = entries_.upper_bound(after);
  }
  for (; it != entries_.end() && it->first.starts_with(start); ++it) {
    if (pattern.matches(it->first) && is_live(it->second, now)
        && !fn(it->second)) {
      return;
    }
  }
}

result<list_page> kv_table::list(const list_query& q, time_point now) const {
  auto pattern = key_pattern::parse(q.pattern);
  if (!pattern) {
    return std::move(pattern).err();
  }
  if (q.limit == 0) {
    return fail(errc::invalid_argument, "limit must be at least 1");
  }
  list_page page;
  page.revision = revision_;
  visit_live(*pattern, q.after, now, [&](const entry& e) {
    if (page.items.size() == q.limit) {
      page.more = true;
      return false;
    }
    page.items.push_back(e);
    if (q.keys_only) {
      page.items.back().value.clear();
    }
    return true;
  });
  return page;
}

std::vector<entry> kv_table::snapshot(const key_pattern& pattern,
                                      time_point now) const {
  std::vector<entry> out;
  visit_live(pattern, {}, now, [&](const entry& e) {
    out.push_back(e);
    return true;
  });
  return out;
}

uint64_t kv_table::oldest_log_revision() const {
  return log_.empty() ? revision_ + 1 : log_.front().first;
}

std::optional<time_point> kv_table::next_expiry() const {
  if (expiry_.empty()) {
    return std::nullopt;
  }
  return expiry_.begin()->first;
}

// -- persistence --------------------------------------------------------------

result<void> kv_table::restore(std::string_view key, std::string_view value) {
  auto pfx = prefix(shard_);
  if (!key.starts_with(pfx) || key.size() < pfx.size() + 1) {
    return fail(errc::storage_error, "record of another shard");
  }
  auto type = key[pfx.size()];
  auto rest = key.substr(pfx.size() + 1);
  switch (type) {
    case type_entry: {
      auto e = decode_entry(rest, value);
      if (!e) {
        return std::move(e).err();
      }
      if (e->has_expiry()) {
        expiry_.emplace(e->expires_at, e->key);
      }
      bind_lease(*e);
      revision_ = std::max(revision_, e->revision);
      entries_.insert_or_assign(e->key, std::move(*e));
      return {};
    }
    case type_history: {
      // key, 0x00, then 8 bytes of revision (which may hold zeros too).
      if (rest.size() < 10 || rest[rest.size() - 9] != '\0') {
        return fail(errc::storage_error, "corrupt kv history key");
      }
      auto sep = rest.size() - 9;
      codec::reader r{rest.substr(sep + 1)};
      history_[std::string{rest.substr(0, sep)}].push_back(r.u64be());
      return {};
    }
    case type_log: {
      auto e = decode_event(value);
      if (!e) {
        return std::move(e).err();
      }
      log_.emplace_back(e->revision, e->at);
      revision_ = std::max(revision_, e->revision);
      return {};
    }
    case type_fence: {
      auto fences = decode_fences(value);
      if (!fences) {
        return std::move(fences).err();
      }
      fences_[std::string{rest}] = std::move(*fences);
      return {};
    }
    case type_meta: {
      codec::reader r{value};
      auto rev = r.varint();
      if (!r.done()) {
        return fail(errc::storage_error, "corrupt kv shard revision");
      }
      revision_ = std::max(revision_, rev);
      return {};
    }
    default:
      return fail(errc::storage_error, "unknown kv record type");
  }
}

list_page merge_pages(std::vector<list_page> pages, uint32_t limit) {
  list_page out;
  for (auto& p : pages) {
    out.more = out.more || p.more;
    out.revision = std::max(out.revision, p.revision);
    std::move(p.items.begin(), p.items.end(), std::back_inserter(out.items));
  }
  std::sort(out.items.begin(), out.items.end(),
            [](const entry& a, const entry& b) { return a.key < b.key; });
  if (out.items.size() > limit) {
    out.items.resize(limit);
    out.more = true;
  }
  return out;
}

// -- command encodings --------------------------------------------------------

// The encodings of times and durations (runtime/machine.hpp).
using shoal::decode;
using shoal::encode;
//
// One tag byte (the variant's index + 1), then the fields in declaration
// order: strings length-prefixed, durations as signed nanoseconds,
// integers as varints.

namespace {

void write_fence(codec::writer& w, const fence& f) {
  w.bytes(f.lock);
  w.varint(f.token);
}

bool read_fence(codec::reader& r, fence& f) {
  f.lock = r.bytes();
  f.token = r.varint();
  return r.good();
}

void write_fields(codec::writer& w, const put_cmd& c) {
  w.bytes(c.key);
  w.bytes(c.value);
  encode(w, c.ttl);
  w.varint(c.if_revision);
  w.varint(c.lease);
  write_fence(w, c.fence);
}

void write_fields(codec::writer& w, const delete_cmd& c) {
  w.bytes(c.key);
  w.varint(c.if_revision);
  write_fence(w, c.fence);
}

void write_fields(codec::writer&, const expire_cmd&) {
}

void write_fields(codec::writer&, const trim_log_cmd&) {
}

void write_fields(codec::writer& w, const end_lease_cmd& c) {
  w.varint(c.lease);
  w.u8(static_cast<uint8_t>(c.op));
}

bool read_fields(codec::reader& r, put_cmd& c) {
  c.key = r.bytes();
  c.value = r.bytes();
  decode(r, c.ttl);
  c.if_revision = r.varint();
  c.lease = r.varint();
  return read_fence(r, c.fence);
}

bool read_fields(codec::reader& r, delete_cmd& c) {
  c.key = r.bytes();
  c.if_revision = r.varint();
  return read_fence(r, c.fence);
}

bool read_fields(codec::reader& r, expire_cmd&) {
  return r.good();
}

bool read_fields(codec::reader& r, trim_log_cmd&) {
  return r.good();
}

bool read_fields(codec::reader& r, end_lease_cmd& c) {
  c.lease = r.varint();
  auto op = r.u8();
  if (!r.good() || op < 1 || op > 3) {
    return false;
  }
  c.op = static_cast<operation>(op);
  return true;
}

} // namespace

SHOAL_COMMAND_CODEC(command)

} // namespace shoal::kv
