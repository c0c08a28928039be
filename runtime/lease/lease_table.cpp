#include "runtime/lease/lease_table.hpp"

#include "runtime/codec.hpp"

namespace shoal::lease {

namespace {

constexpr uint8_t format_v1 = 1;

std::string encode(const lease_info& l) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.i64(l.ttl.count());
  w.i64(to_unix_nanos(l.granted));
  w.i64(to_unix_nanos(l.expires_at));
  return out;
}

std::string not_found_message(uint64_t id) {
  return "lease " + std::to_string(id) + " not found (revoked or expired)";
}

} // namespace

lease_table::lease_table(uint16_t shard, lease_config cfg)
  : shard_(shard), cfg_(cfg) {
}

std::string lease_table::prefix(uint16_t shard) {
  return codec::shard_prefix(shard);
}

std::string lease_table::record_key(uint64_t id) const {
  auto out = prefix(shard_);
  codec::writer{out}.u64be(id);
  return out;
}

result<void> check_ttl(const lease_config& cfg, duration ttl) {
  if (ttl < cfg.min_ttl || ttl > cfg.max_ttl) {
    return fail(errc::invalid_ttl, "lease ttl must be "
                                     + format_duration(cfg.min_ttl) + "–"
                                     + format_duration(cfg.max_ttl));
  }
  return {};
}

result<lease_info> lease_table::apply(const grant_cmd& cmd, const apply_ctx& ctx,
                                      effects& out) {
  auto id = cmd.id;
  auto ttl = cmd.ttl;
  auto now = ctx.now;
  if (auto ok = check_ttl(cfg_, ttl); !ok) {
    return std::move(ok).err();
  }
  if (id == 0) {
    return fail(errc::invalid_argument, "lease id 0 is reserved");
  }
  if (leases_.count(id) != 0) {
    return fail(errc::conflict, "lease " + std::to_string(id) + " exists");
  }
  if (leases_.size() >= cfg_.max_leases) {
    return fail(errc::overloaded, "too many leases in this shard");
  }
  lease_info l{id, ttl, now, now + ttl};
  deadlines_.emplace(l.expires_at, id);
  out.records.push_back(record::put(record_key(id), encode(l)));
  leases_.emplace(id, l);
  return l;
}

result<lease_info> lease_table::apply(const keepalive_cmd& cmd, const apply_ctx& ctx,
                                      effects& out) {
  auto id = cmd.id;
  auto now = ctx.now;
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return fail(errc::not_found, not_found_message(id));
  }
  if (it->second.expires_at <= now) {
    end(it, out);
    out.events.push_back(lease_end{id, end_reason::expired});
    return fail(errc::not_found, not_found_message(id));
  }
  auto& l = it->second;
  deadlines_.erase({l.expires_at, id});
  l.expires_at = now + l.ttl;
  deadlines_.emplace(l.expires_at, id);
  out.records.push_back(record::put(record_key(id), encode(l)));
  return l;
}

result<lease_info> lease_table::apply(const revoke_cmd& cmd, const apply_ctx& ctx,
                                      effects& out) {
  auto id = cmd.id;
  auto now = ctx.now;
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return fail(errc::not_found, not_found_message(id));
  }
  auto l = it->second;
  if (l.expires_at <= now) {
    end(it, out);
    out.events.push_back(lease_end{id, end_reason::expired});
    return fail(errc::not_found, not_found_message(id));
  }
  end(it, out);
  out.events.push_back(lease_end{id, end_reason::revoked});
  return l;
}

result<lease_info> lease_table::get(uint64_t id, time_point now) const {
  auto it = leases_.find(id);
  if (it == leases_.end() || it->second.expires_at <= now) {
    return fail(errc::not_found, not_found_message(id));
  }
  return it->second;
}

result<uint64_t> lease_table::apply(const expire_cmd&, const apply_ctx& ctx,
                                    effects& out) {
  uint64_t n = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= ctx.now) {
    auto id = deadlines_.begin()->second;
    auto it = leases_.find(id);
    if (it == leases_.end()) {
      deadlines_.erase(deadlines_.begin()); // defensive: index without lease
      continue;
    }
    end(it, out);
    out.events.push_back(lease_end{id, end_reason::expired});
    ++n;
  }
  return n;
}

void lease_table::end(std::unordered_map<uint64_t, lease_info>::iterator it,
                      effects& out) {
  deadlines_.erase({it->second.expires_at, it->first});
  out.records.push_back(record::erase(record_key(it->first)));
  leases_.erase(it);
}

std::optional<time_point> lease_table::next_expiry() const {
  if (deadlines_.empty()) {
    return std::nullopt;
  }
  return deadlines_.begin()->first;
}

result<void> lease_table::restore(std::string_view key,
                                  std::string_view value) {
  auto pfx = prefix(shard_);
  if (!key.starts_with(pfx) || key.size() != pfx.size() + 8) {
    return fail(errc::storage_error, "corrupt lease key");
  }
  codec::reader k{key.substr(pfx.size())};
  codec::reader r{value};
  lease_info l;
  l.id = k.u64be();
  auto fmt = r.u8();
  l.ttl = duration{r.i64()};
  l.granted = from_unix_nanos(r.i64());
  l.expires_at = from_unix_nanos(r.i64());
  if (fmt != format_v1 || !r.done() || l.id == 0) {
    return fail(errc::storage_error, "corrupt lease record");
  }
  deadlines_.emplace(l.expires_at, l.id);
  leases_.insert_or_assign(l.id, l);
  return {};
}

// -- command encodings --------------------------------------------------------

// The encodings of times and durations (runtime/machine.hpp).
using shoal::decode;
using shoal::encode;

void encode(codec::writer& w, const command& cmd) {
  encode_variant(w, cmd, [&w](const auto& c) {
    using T = std::decay_t<decltype(c)>;
    if constexpr (std::is_same_v<T, grant_cmd>) {
      w.varint(c.id);
      encode(w, c.ttl);
    } else if constexpr (!std::is_same_v<T, expire_cmd>) {
      w.varint(c.id);
    }
  });
}

bool decode(codec::reader& r, command& out) {
  return decode_variant(r, out, [&r](auto& c) {
    using T = std::decay_t<decltype(c)>;
    if constexpr (std::is_same_v<T, grant_cmd>) {
      c.id = r.varint();
      decode(r, c.ttl);
    } else if constexpr (!std::is_same_v<T, expire_cmd>) {
      c.id = r.varint();
    }
    return r.good();
  });
}

} // namespace shoal::lease
