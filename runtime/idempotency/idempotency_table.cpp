#include "runtime/idempotency/idempotency_table.hpp"

#include <algorithm>

#include "runtime/codec.hpp"
#include "runtime/sha256.hpp"

namespace shoal::idem {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr char type_record = 'r';

bool valid_state(uint8_t v) {
  return v >= 1 && v <= 3;
}

// A presented fence older than the one seen (0 is "no fence").
bool stale_fence(uint64_t presented, uint64_t seen) {
  return presented != 0 && presented < seen;
}

} // namespace

std::string_view to_string(state s) {
  switch (s) {
    case state::in_progress:
      return "in_progress";
    case state::completed:
      return "completed";
    case state::failed:
      return "failed";
  }
  return "in_progress";
}

idempotency_table::idempotency_table(uint16_t shard, idem_config cfg)
  : shard_(shard), cfg_(std::move(cfg)) {
}

std::string idempotency_table::prefix(uint16_t shard) {
  return codec::shard_prefix(shard);
}

std::string idempotency_table::record_key(uint16_t shard, std::string_view key) {
  auto out = prefix(shard);
  out += type_record;
  out += key;
  return out;
}

std::string idempotency_table::encode(const record& r) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.bytes(r.key);
  w.u8(static_cast<uint8_t>(r.st));
  w.bytes(r.owner_token);
  w.bytes(r.fingerprint);
  w.i64(to_unix_nanos(r.created));
  w.i64(to_unix_nanos(r.updated));
  w.i64(to_unix_nanos(r.expires_at));
  w.bytes(r.result);
  w.bytes(r.result_hash);
  w.bytes(r.error_code);
  w.bytes(r.error_message);
  w.varint(r.fence);
  return out;
}

result<record> idempotency_table::decode(std::string_view v) {
  codec::reader r{v};
  record out;
  auto fmt = r.u8();
  out.key = r.bytes();
  auto st = r.u8();
  out.st = static_cast<state>(st);
  out.owner_token = r.bytes();
  out.fingerprint = r.bytes();
  out.created = from_unix_nanos(r.i64());
  out.updated = from_unix_nanos(r.i64());
  out.expires_at = from_unix_nanos(r.i64());
  out.result = r.bytes();
  out.result_hash = r.bytes();
  out.error_code = r.bytes();
  out.error_message = r.bytes();
  out.fence = r.varint();
  if (fmt != format_v1 || !valid_state(st) || !r.done()) {
    return fail(errc::storage_error, "corrupt idempotency record");
  }
  return out;
}

result<void> validate_record_key(std::string_view key, size_t max_bytes) {
  if (key.empty() || key.size() > max_bytes) {
    return fail(errc::invalid_key, "idempotency key must be 1.."
                                     + std::to_string(max_bytes) + " bytes");
  }
  for (auto ch : key) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      return fail(errc::invalid_key,
                  "idempotency key must be printable ASCII without spaces");
    }
  }
  return {};
}

result<void> idempotency_table::check_lease(duration ttl) const {
  if (ttl <= duration::zero() || ttl > cfg_.max_lease) {
    return fail(errc::invalid_ttl,
                "lease ttl must be > 0 and at most " + format_duration(cfg_.max_lease));
  }
  return {};
}

result<duration> idempotency_table::retention(duration asked) const {
  if (asked < duration::zero() || asked > cfg_.max_retention) {
    return fail(errc::invalid_ttl, "retention must be 0.."
                                     + format_duration(cfg_.max_retention));
  }
  return asked == duration::zero() ? cfg_.default_retention : asked;
}

void idempotency_table::store(record rec, effects& out) {
  if (auto it = records_.find(rec.key); it != records_.end()) {
    deadlines_.erase({it->second.expires_at, it->first});
  }
  deadlines_.emplace(rec.expires_at, rec.key);
  out.records.push_back(shoal::record::put(record_key(shard_, rec.key), encode(rec)));
  auto key = rec.key;
  records_.insert_or_assign(std::move(key), std::move(rec));
}

void idempotency_table::remove(
  std::map<std::string, record, std::less<>>::iterator it, effects& out) {
  deadlines_.erase({it->second.expires_at, it->first});
  out.records.push_back(shoal::record::erase(record_key(shard_, it->first)));
  records_.erase(it);
}

result<begin_result> idempotency_table::apply(const begin_cmd& cmd,
                                              const apply_ctx& ctx, effects& out) {
  auto now = ctx.now;
  if (auto ok = validate_key(cmd.key); !ok) {
    return std::move(ok).err();
  }
  if (auto ok = check_lease(cmd.lease_ttl); !ok) {
    return std::move(ok).err();
  }
  if (cmd.fingerprint.size() > cfg_.max_fingerprint_bytes) {
    return fail(errc::too_large, "fingerprint is too long");
  }
  if (cmd.new_token.empty()) {
    return fail(errc::internal, "begin without an owner token");
  }
  auto it = records_.find(cmd.key);
  if (it != records_.end() && it->second.expires_at > now) {
    const auto& live = it->second;
    if (!cmd.fingerprint.empty() && !live.fingerprint.empty()
        && cmd.fingerprint != live.fingerprint) {
      return fail(errc::fingerprint_mismatch,
                  "key " + cmd.key + " was used for a different request");
    }
    if (live.st == state::in_progress) {
      return fail(errc::conflict, "key " + cmd.key
                                    + " is in progress under another owner "
                                      "until "
                                    + format_rfc3339(live.expires_at));
    }
    return begin_result{false, live};
  }
  // Absent, or dead (an expired lease: takeover; the old token is void).
  if (it != records_.end() && it->second.st == state::in_progress
      && stale_fence(cmd.fence, it->second.fence)) {
    return fail(errc::fenced, "fence " + std::to_string(cmd.fence)
                                + " is older than fence "
                                + std::to_string(it->second.fence)
                                + " seen on key " + cmd.key);
  }
  record rec;
  rec.key = cmd.key;
  rec.st = state::in_progress;
  rec.owner_token = cmd.new_token;
  rec.fingerprint = cmd.fingerprint;
  rec.created = now;
  rec.updated = now;
  rec.expires_at = now + cmd.lease_ttl;
  rec.fence = cmd.fence;
  store(rec, out);
  return begin_result{true, std::move(rec)};
}

result<record*> idempotency_table::owned(const std::string& key,
                                         const std::string& token,
                                         time_point now) {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  auto it = records_.find(key);
  if (it == records_.end()) {
    return fail(errc::not_found, "no idempotency record for " + key);
  }
  auto& rec = it->second;
  auto live = rec.expires_at > now;
  if (rec.st != state::in_progress) {
    if (!live) {
      return fail(errc::not_found, "no idempotency record for " + key);
    }
    return fail(errc::conflict,
                "key " + key + " is already " + std::string{to_string(rec.st)});
  }
  if (rec.owner_token != token) {
    return fail(errc::not_owner, "the token does not own key " + key);
  }
  if (!live) {
    return fail(errc::lease_expired, "the lease on key " + key + " expired at "
                                       + format_rfc3339(rec.expires_at));
  }
  return &rec;
}

template <class SetOutcome>
result<record> idempotency_table::conclude(const std::string& key,
                                           const std::string& token,
                                           uint64_t fence, duration keep,
                                           time_point now, effects& out,
                                           SetOutcome&& set_outcome) {
  auto kept = retention(keep);
  if (!kept) {
    return std::move(kept).err();
  }
  auto rec = owned(key, token, now);
  if (!rec) {
    return std::move(rec).err();
  }
  if (stale_fence(fence, (*rec)->fence)) {
    return fail(errc::fenced, "fence " + std::to_string(fence)
                                + " is older than fence "
                                + std::to_string((*rec)->fence)
                                + " seen on key " + key);
  }
  auto next = **rec;
  next.fence = std::max(next.fence, fence);
  set_outcome(next);
  next.updated = now;
  next.expires_at = now + *kept;
  store(next, out);
  return next;
}

result<record> idempotency_table::apply(const touch_cmd& cmd, const apply_ctx& ctx,
                                        effects& out) {
  auto now = ctx.now;
  if (auto ok = check_lease(cmd.lease_ttl); !ok) {
    return std::move(ok).err();
  }
  auto rec = owned(cmd.key, cmd.token, now);
  if (!rec) {
    return std::move(rec).err();
  }
  auto next = **rec;
  next.updated = now;
  next.expires_at = now + cmd.lease_ttl;
  store(next, out);
  return next;
}

result<record> idempotency_table::apply(const complete_cmd& cmd,
                                        const apply_ctx& ctx, effects& out) {
  auto now = ctx.now;
  if (cmd.result.size() > cfg_.max_result_bytes) {
    return fail(errc::too_large, "result is larger than "
                                   + std::to_string(cfg_.max_result_bytes)
                                   + " bytes");
  }
  return conclude(cmd.key, cmd.token, cmd.fence, cmd.retention, now, out,
                  [&](record& r) {
                    r.st = state::completed;
                    r.result = cmd.result;
                    r.result_hash = sha256::hex(cmd.result);
                  });
}

result<record> idempotency_table::apply(const fail_cmd& cmd, const apply_ctx& ctx,
                                        effects& out) {
  auto now = ctx.now;
  if (cmd.code.empty() || cmd.code.size() > cfg_.max_code_bytes) {
    return fail(errc::invalid_argument,
                "error code must be 1.." + std::to_string(cfg_.max_code_bytes)
                  + " bytes");
  }
  if (cmd.message.size() > cfg_.max_message_bytes) {
    return fail(errc::too_large, "error message is longer than "
                                   + std::to_string(cfg_.max_message_bytes)
                                   + " bytes");
  }
  return conclude(cmd.key, cmd.token, cmd.fence, cmd.retention, now, out,
                  [&](record& r) {
                    r.st = state::failed;
                    r.error_code = cmd.code;
                    r.error_message = cmd.message;
                  });
}

result<bool> idempotency_table::apply(const erase_cmd& cmd, const apply_ctx&,
                                      effects& out) {
  if (auto ok = validate_key(cmd.key); !ok) {
    return std::move(ok).err();
  }
  auto it = records_.find(cmd.key);
  if (it == records_.end()) {
    return false;
  }
  remove(it, out);
  return true;
}

result<uint64_t> idempotency_table::apply(const sweep_cmd&, const apply_ctx& ctx,
                                          effects& out) {
  uint64_t n = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= ctx.now
         && n < cfg_.max_sweep) {
    auto it = records_.find(deadlines_.begin()->second);
    if (it == records_.end()) {
      deadlines_.erase(deadlines_.begin());
      continue;
    }
    remove(it, out);
    ++n;
  }
  return n;
}

result<record> idempotency_table::get(std::string_view key,
                                      time_point now) const {
  if (auto ok = validate_key(key); !ok) {
    return std::move(ok).err();
  }
  auto it = records_.find(key);
  if (it == records_.end() || it->second.expires_at <= now) {
    return fail(errc::not_found, "no idempotency record for " + std::string{key});
  }
  return it->second;
}

result<void> idempotency_table::restore(std::string_view key,
                                        std::string_view value) {
  auto pfx = prefix(shard_);
  if (!key.starts_with(pfx) || key.size() < pfx.size() + 2
      || key[pfx.size()] != type_record) {
    return fail(errc::storage_error, "not an idempotency record of this shard");
  }
  auto rec = decode(value);
  if (!rec) {
    return std::move(rec).err();
  }
  if (rec->key != key.substr(pfx.size() + 1)) {
    return fail(errc::storage_error, "idempotency record under a wrong key");
  }
  deadlines_.emplace(rec->expires_at, rec->key);
  auto k = rec->key;
  records_.insert_or_assign(std::move(k), std::move(*rec));
  return {};
}

// -- command encodings --------------------------------------------------------

// The encodings of times and durations (runtime/machine.hpp).
using shoal::decode;
using shoal::encode;
//
// One tag byte (the variant's index + 1), then the command's fields in
// declaration order: strings length-prefixed, durations as signed
// nanoseconds, integers as varints.

namespace {

void write_fields(codec::writer& w, const begin_cmd& c) {
  w.bytes(c.key);
  encode(w, c.lease_ttl);
  w.bytes(c.fingerprint);
  w.bytes(c.new_token);
  w.varint(c.fence);
}

void write_fields(codec::writer& w, const touch_cmd& c) {
  w.bytes(c.key);
  w.bytes(c.token);
  encode(w, c.lease_ttl);
}

void write_fields(codec::writer& w, const complete_cmd& c) {
  w.bytes(c.key);
  w.bytes(c.token);
  w.bytes(c.result);
  encode(w, c.retention);
  w.varint(c.fence);
}

void write_fields(codec::writer& w, const fail_cmd& c) {
  w.bytes(c.key);
  w.bytes(c.token);
  w.bytes(c.code);
  w.bytes(c.message);
  encode(w, c.retention);
  w.varint(c.fence);
}

void write_fields(codec::writer& w, const erase_cmd& c) {
  w.bytes(c.key);
}

void write_fields(codec::writer&, const sweep_cmd&) {
}

bool read_fields(codec::reader& r, begin_cmd& c) {
  c.key = r.bytes();
  decode(r, c.lease_ttl);
  c.fingerprint = r.bytes();
  c.new_token = r.bytes();
  c.fence = r.varint();
  return r.good();
}

bool read_fields(codec::reader& r, touch_cmd& c) {
  c.key = r.bytes();
  c.token = r.bytes();
  decode(r, c.lease_ttl);
  return r.good();
}

bool read_fields(codec::reader& r, complete_cmd& c) {
  c.key = r.bytes();
  c.token = r.bytes();
  c.result = r.bytes();
  decode(r, c.retention);
  c.fence = r.varint();
  return r.good();
}

bool read_fields(codec::reader& r, fail_cmd& c) {
  c.key = r.bytes();
  c.token = r.bytes();
  c.code = r.bytes();
  c.message = r.bytes();
  decode(r, c.retention);
  c.fence = r.varint();
  return r.good();
}

bool read_fields(codec::reader& r, erase_cmd& c) {
  c.key = r.bytes();
  return r.good();
}

bool read_fields(codec::reader& r, sweep_cmd&) {
  return r.good();
}

} // namespace

SHOAL_COMMAND_CODEC(command)

} // namespace shoal::idem
