#include "runtime/aggregate/aggregate_table.hpp"

#include <algorithm>
#include <bit>

#include "runtime/codec.hpp"
#include "runtime/key.hpp"

namespace shoal::agg {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr char type_cell = 'c';
constexpr char type_mark = 'd';

// Buckets sort by their record key: the sign bit flipped, big-endian.
uint64_t ordered(int64_t bucket) {
  return static_cast<uint64_t>(bucket) ^ (uint64_t{1} << 63);
}

int64_t unordered(uint64_t v) {
  return static_cast<int64_t>(v ^ (uint64_t{1} << 63));
}

int64_t nanos_of(time_point t) {
  return t == time_point::max() ? 0 : to_unix_nanos(t);
}

time_point time_of(int64_t ns) {
  return ns == 0 ? time_point::max() : from_unix_nanos(ns);
}

} // namespace

std::string encode_definition(const definition& def) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.bytes(def.name);
  w.u8(static_cast<uint8_t>(def.k));
  w.varint(def.params.k);
  w.varint(def.params.capacity);
  w.u64be(std::bit_cast<uint64_t>(def.params.fp_rate));
  w.varint(def.params.max_elements);
  w.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(def.window).count());
  w.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(def.retention).count());
  w.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(def.dedup_retention)
          .count());
  return out;
}

result<definition> decode_definition(std::string_view bytes) {
  codec::reader r{bytes};
  definition def;
  auto fmt = r.u8();
  def.name = r.bytes();
  def.k = static_cast<kind>(r.u8());
  def.params.k = static_cast<uint32_t>(r.varint());
  def.params.capacity = r.varint();
  def.params.fp_rate = std::bit_cast<double>(r.u64be());
  def.params.max_elements = static_cast<uint32_t>(r.varint());
  def.window = std::chrono::nanoseconds{r.i64()};
  def.retention = std::chrono::nanoseconds{r.i64()};
  def.dedup_retention = std::chrono::nanoseconds{r.i64()};
  if (!r.done() || fmt != format_v1 || !monoid::make(def.k, def.params)) {
    return fail(errc::storage_error, "corrupt aggregate definition");
  }
  return def;
}

bool same_shape(const definition& prev, const definition& next) {
  return prev.k == next.k && prev.params == next.params && prev.window == next.window;
}

aggregate_table::aggregate_table(uint16_t shard, table_config cfg)
  : shard_(shard), cfg_(cfg) {
}

std::string aggregate_table::prefix(uint16_t shard) {
  return codec::shard_prefix(shard);
}

std::string aggregate_table::cell_record_key(const cell_key& k) const {
  auto out = prefix(shard_);
  out += type_cell;
  codec::writer w{out};
  w.bytes(std::get<0>(k));
  w.bytes(std::get<1>(k));
  w.u64be(ordered(std::get<2>(k)));
  return out;
}

std::string aggregate_table::mark_record_key(const mark_key& k) const {
  auto out = prefix(shard_);
  out += type_mark;
  codec::writer w{out};
  w.bytes(k.first);
  w.raw(k.second);
  return out;
}

std::string aggregate_table::encode_cell(const aggregate& a, const cell& c) const {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.i64(nanos_of(c.expires_at));
  w.raw(a.m.encode(c.v));
  return out;
}

result<void> aggregate_table::define(definition def) {
  if (auto ok = validate_key(def.name); !ok) {
    return fail(errc::invalid_key, "aggregate name: " + ok.err().message);
  }
  if (def.window < duration::zero() || def.retention < duration::zero()
      || def.dedup_retention <= duration::zero()) {
    return fail(errc::invalid_argument,
                "window and retention must be >= 0, dedup_retention > 0");
  }
  auto m = monoid::make(def.k, def.params);
  if (!m) {
    return std::move(m).err();
  }
  auto it = aggregates_.find(def.name);
  if (it != aggregates_.end() && !same_shape(it->second.def, def)) {
    auto c = first_cell(def.name);
    if (c != cells_.end() && std::get<0>(c->first) == def.name) {
      return fail(errc::invalid_argument,
                  "aggregate " + def.name
                    + " has values: its kind, parameters and window are fixed");
    }
  }
  auto name = def.name;
  aggregates_.insert_or_assign(std::move(name), aggregate{std::move(def), std::move(*m)});
  return {};
}

result<uint64_t> aggregate_table::apply(const drop_cmd& cmd, const apply_ctx&,
                                        effects& out) {
  auto name = std::string_view{cmd.name};
  auto it = aggregates_.find(name);
  if (it == aggregates_.end()) {
    return uint64_t{0};
  }
  auto before = out.records.size();
  for (auto c = first_cell(name); c != cells_.end() && std::get<0>(c->first) == name;) {
    cell_deadlines_.erase({c->second.expires_at, c->first});
    out.records.push_back({cell_record_key(c->first), std::nullopt});
    c = cells_.erase(c);
  }
  // The event ids of its merges go too: a new aggregate of the same name
  // starts with none seen.
  auto scope_prefix = merge_scope(name, "");
  for (auto m = marks_.lower_bound(mark_key{scope_prefix, {}});
       m != marks_.end() && m->first.first.starts_with(scope_prefix);) {
    mark_deadlines_.erase({m->second, m->first});
    out.records.push_back({mark_record_key(m->first), std::nullopt});
    m = marks_.erase(m);
  }
  aggregates_.erase(it);
  return uint64_t{out.records.size() - before};
}

std::string aggregate_table::merge_scope(std::string_view name,
                                         std::string_view entity) {
  // Names are valid keys (no NUL), so the scope of one aggregate is a prefix
  // of no other's.
  std::string out = "a:";
  out += name;
  out += '\0';
  out += entity;
  return out;
}

std::map<aggregate_table::cell_key, aggregate_table::cell>::iterator
aggregate_table::first_cell(std::string_view name) {
  return cells_.lower_bound(cell_key{std::string{name}, {}, INT64_MIN});
}

const definition* aggregate_table::find(std::string_view name) const {
  auto it = aggregates_.find(name);
  return it == aggregates_.end() ? nullptr : &it->second.def;
}

result<const aggregate_table::aggregate*>
aggregate_table::lookup(std::string_view name) const {
  auto it = aggregates_.find(name);
  if (it == aggregates_.end()) {
    return fail(errc::not_found, "no aggregate " + std::string{name});
  }
  return &it->second;
}

result<void> aggregate_table::check_entity(std::string_view entity) const {
  if (entity.empty() || entity.size() > cfg_.max_entity_bytes) {
    return fail(errc::invalid_key, "entity must be 1.."
                                     + std::to_string(cfg_.max_entity_bytes)
                                     + " bytes");
  }
  return {};
}

int64_t aggregate_table::bucket_of(const definition& def, time_point t) {
  if (def.window <= duration::zero()) {
    return 0;
  }
  auto ns = to_unix_nanos(t);
  auto w = std::chrono::duration_cast<std::chrono::nanoseconds>(def.window).count();
  auto b = ns / w;
  return ns % w < 0 ? b - 1 : b; // floor
}

void aggregate_table::write_mark(const mark_key& k, time_point expires_at,
                                 effects& out) {
  if (auto old = marks_.find(k); old != marks_.end()) {
    mark_deadlines_.erase({old->second, k});
  }
  marks_[k] = expires_at;
  mark_deadlines_.emplace(expires_at, k);
  std::string v;
  codec::writer w{v};
  w.u8(format_v1);
  w.i64(to_unix_nanos(expires_at));
  out.records.push_back({mark_record_key(k), std::move(v)});
}

result<void> check_merge(const merge_cmd& cmd, const definition& def,
                         const table_config& cfg) {
  if (cmd.entity.empty() || cmd.entity.size() > cfg.max_entity_bytes) {
    return fail(errc::invalid_key,
                "entity must be 1.." + std::to_string(cfg.max_entity_bytes) + " bytes");
  }
  if (cmd.event_id.size() > cfg.max_event_id_bytes) {
    return fail(errc::invalid_argument, "event_id is longer than "
                                          + std::to_string(cfg.max_event_id_bytes)
                                          + " bytes");
  }
  if (cmd.ttl < duration::zero()) {
    return fail(errc::invalid_ttl, "ttl must be >= 0");
  }
  if (cmd.bucket && def.window <= duration::zero() && *cmd.bucket != 0) {
    return fail(errc::invalid_argument,
                "aggregate " + cmd.name + " has no window: its only bucket is 0");
  }
  return {};
}

result<merge_result> aggregate_table::merge(const merge_cmd& cmd, time_point now,
                                            effects& out) {
  auto a = lookup(cmd.name);
  if (!a) {
    return std::move(a).err();
  }
  const auto& agg = **a;
  if (auto ok = check_merge(cmd, agg.def, cfg_); !ok) {
    return std::move(ok).err();
  }
  if (cmd.bucket && agg.def.window > duration::zero()) {
    auto w = std::chrono::duration_cast<std::chrono::nanoseconds>(agg.def.window).count();
    if (*cmd.bucket >= INT64_MAX / w - 1 || *cmd.bucket <= INT64_MIN / w + 1) {
      return fail(errc::invalid_argument, "bucket out of range");
    }
  }
  merge_result res;
  res.bucket = cmd.bucket ? *cmd.bucket
                          : bucket_of(agg.def, cmd.event_time.value_or(now));
  mark_key mk{merge_scope(cmd.name, cmd.entity), cmd.event_id};
  if (!cmd.event_id.empty()) {
    auto seen = marks_.find(mk);
    if (seen != marks_.end() && seen->second > now) {
      res.duplicate = true;
      return res;
    }
  }
  // The cell's expiry: the bucket's end plus retention, and at least
  // now + ttl.
  auto expires = time_point::max();
  if (agg.def.retention > duration::zero()) {
    auto end = agg.def.window > duration::zero()
                 ? from_unix_nanos((res.bucket + 1)
                                   * std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       agg.def.window)
                                       .count())
                 : now;
    expires = end + agg.def.retention;
    if (expires <= now) {
      return fail(errc::invalid_argument, "bucket " + std::to_string(res.bucket)
                                            + " is past the retention of "
                                            + cmd.name);
    }
  }
  cell_key ck{cmd.name, cmd.entity, res.bucket};
  auto it = cells_.find(ck);
  auto live = it != cells_.end() && it->second.expires_at > now;
  cell next;
  next.v = live ? it->second.v : agg.m.identity();
  if (auto ok = agg.m.combine(next.v, cmd.delta); !ok) {
    return std::move(ok).err();
  }
  // A ttl sets an expiry where there is none and otherwise extends it.
  auto current = live ? it->second.expires_at : expires;
  next.expires_at = cmd.ttl <= duration::zero() ? current
                    : current == time_point::max()
                      ? now + cmd.ttl
                      : std::max(current, now + cmd.ttl);
  if (!cmd.event_id.empty()) {
    write_mark(mk, now + agg.def.dedup_retention, out);
  }
  if (it != cells_.end()) {
    cell_deadlines_.erase({it->second.expires_at, ck});
  }
  if (next.expires_at != time_point::max()) {
    cell_deadlines_.emplace(next.expires_at, ck);
  }
  if (out.defer_cells) {
    out.deferred.push_back(ck);
  } else {
    out.records.push_back({cell_record_key(ck), encode_cell(agg, next)});
  }
  cells_.insert_or_assign(ck, std::move(next));
  if (out.keep_merged) {
    out.events.push_back(applied_merge{cmd, now});
    out.events.back().merge.bucket = res.bucket;
  }
  return res;
}

result<bool> aggregate_table::apply(const define_cmd& cmd, const apply_ctx&, effects&) {
  if (auto ok = define(cmd.def); !ok) {
    return std::move(ok).err();
  }
  return true;
}

result<merge_result> aggregate_table::apply(const merge_cmd& cmd, const apply_ctx& ctx,
                                            effects& out) {
  return merge(cmd, ctx.now, out);
}

result<std::vector<merge_outcome>> aggregate_table::apply(const merge_batch_cmd& cmd,
                                                          const apply_ctx& ctx,
                                                          effects& out) {
  // Several merges into one cell: only its last value is written.
  out.defer_cells = cmd.merges.size() > 1;
  std::vector<merge_outcome> outcomes(cmd.merges.size());
  for (size_t i = 0; i < cmd.merges.size(); ++i) {
    auto r = merge(cmd.merges[i], ctx.now, out);
    if (r) {
      outcomes[i].r = *r;
    } else {
      outcomes[i].code = static_cast<uint8_t>(r.code());
      outcomes[i].message = r.err().message;
    }
  }
  flush(out);
  out.defer_cells = false;
  return outcomes;
}

result<bool> aggregate_table::apply(const seen_cmd& cmd, const apply_ctx& ctx,
                                    effects& out) {
  std::string_view scope = cmd.scope;
  std::string_view event_id = cmd.event_id;
  auto retention = cmd.retention;
  auto now = ctx.now;
  if (auto ok = validate_key(scope); !ok) {
    return fail(errc::invalid_key, "dedup scope: " + ok.err().message);
  }
  if (event_id.empty() || event_id.size() > cfg_.max_event_id_bytes) {
    return fail(errc::invalid_argument, "event_id must be 1.."
                                          + std::to_string(cfg_.max_event_id_bytes)
                                          + " bytes");
  }
  if (retention <= duration::zero()) {
    return fail(errc::invalid_ttl, "retention must be > 0");
  }
  mark_key mk{"s:" + std::string{scope}, std::string{event_id}};
  auto seen = marks_.find(mk);
  if (seen != marks_.end() && seen->second > now) {
    return false;
  }
  write_mark(mk, now + retention, out);
  return true;
}

result<void> aggregate_table::merge_range(const aggregate& a, std::string_view name,
                                          std::string_view entity, int64_t from,
                                          int64_t to, time_point now,
                                          reading& out) const {
  out.v = a.m.identity();
  auto lo = cells_.lower_bound(cell_key{std::string{name}, std::string{entity}, from});
  for (auto it = lo; it != cells_.end() && std::get<0>(it->first) == name
                     && std::get<1>(it->first) == entity && std::get<2>(it->first) < to;
       ++it) {
    if (it->second.expires_at <= now) {
      continue;
    }
    if (auto ok = a.m.combine(out.v, it->second.v); !ok) {
      return std::move(ok).err();
    }
    out.found = true;
    out.expires_at = std::min(out.expires_at, it->second.expires_at);
  }
  return {};
}

result<std::pair<int64_t, int64_t>> aggregate_table::span(const read_query& q,
                                                         time_point now) const {
  auto a = lookup(q.name);
  if (!a) {
    return std::move(a).err();
  }
  if (auto ok = check_entity(q.entity); !ok) {
    return std::move(ok).err();
  }
  const auto& def = (*a)->def;
  switch (q.how) {
  case read_query::mode::current: {
    auto b = bucket_of(def, now);
    return std::pair{b, b + 1};
  }
  case read_query::mode::bucket:
    if (q.bucket == INT64_MAX) {
      return fail(errc::invalid_argument, "bucket out of range");
    }
    return std::pair{q.bucket, q.bucket + 1};
  case read_query::mode::range:
    if (q.to < q.from || (q.to - q.from) > cfg_.max_window_buckets) {
      return fail(errc::invalid_argument,
                  "a window is [from, to) with at most "
                    + std::to_string(cfg_.max_window_buckets) + " buckets");
    }
    return std::pair{q.from, q.to};
  case read_query::mode::last:
    if (q.n <= 0 || q.n > cfg_.max_window_buckets) {
      return fail(errc::invalid_argument,
                  "last must be 1.." + std::to_string(cfg_.max_window_buckets));
    }
    auto to = bucket_of(def, now) + 1;
    return std::pair{to - q.n, to};
  }
  return fail(errc::invalid_argument, "unknown read mode");
}

result<reading> aggregate_table::read(const read_query& q, time_point now) const {
  auto s = span(q, now);
  if (!s) {
    return std::move(s).err();
  }
  reading out;
  out.entity = q.entity;
  out.from = s->first;
  out.to = s->second;
  const auto& a = aggregates_.find(q.name)->second;
  if (auto ok = merge_range(a, q.name, q.entity, out.from, out.to, now, out); !ok) {
    return std::move(ok).err();
  }
  return out;
}

result<cell_view> aggregate_table::get(std::string_view name, std::string_view entity,
                                       std::optional<int64_t> bucket,
                                       time_point now) const {
  read_query q{std::string{name}, std::string{entity}};
  if (bucket) {
    q.how = read_query::mode::bucket;
    q.bucket = *bucket;
  }
  auto r = read(q, now);
  if (!r) {
    return std::move(r).err();
  }
  return cell_view{r->from, std::move(r->v), r->found, r->expires_at};
}

result<value> aggregate_table::window(std::string_view name, std::string_view entity,
                                      int64_t from, int64_t to, time_point now) const {
  auto r = read(read_query{std::string{name}, std::string{entity},
                           read_query::mode::range, 0, from, to, 0},
                now);
  if (!r) {
    return std::move(r).err();
  }
  return std::move(r->v);
}

result<value> aggregate_table::last(std::string_view name, std::string_view entity,
                                    int64_t n, time_point now) const {
  auto r = read(read_query{std::string{name}, std::string{entity},
                           read_query::mode::last, 0, 0, 0, n},
                now);
  if (!r) {
    return std::move(r).err();
  }
  return std::move(r->v);
}

std::optional<cell_snapshot> aggregate_table::snapshot(const std::string& name,
                                                      const std::string& entity,
                                                      int64_t bucket,
                                                      time_point now) const {
  auto it = cells_.find(cell_key{name, entity, bucket});
  if (it == cells_.end() || it->second.expires_at <= now) {
    return std::nullopt;
  }
  return cell_snapshot{name, entity, bucket, it->second.v, it->second.expires_at};
}

std::vector<cell_snapshot> aggregate_table::scan(const std::optional<cell_snapshot>& after,
                                                 size_t limit, time_point now) const {
  auto it = after ? cells_.upper_bound(cell_key{after->name, after->entity, after->bucket})
                  : cells_.begin();
  std::vector<cell_snapshot> out;
  for (; it != cells_.end() && out.size() < limit; ++it) {
    if (it->second.expires_at <= now) {
      continue;
    }
    const auto& [name, entity, bucket] = it->first;
    out.push_back(cell_snapshot{name, entity, bucket, it->second.v, it->second.expires_at});
  }
  return out;
}

void aggregate_table::flush(effects& fx) const {
  std::sort(fx.deferred.begin(), fx.deferred.end());
  fx.deferred.erase(std::unique(fx.deferred.begin(), fx.deferred.end()), fx.deferred.end());
  for (const auto& ck : fx.deferred) {
    auto c = cells_.find(ck);
    auto a = aggregates_.find(std::get<0>(ck));
    if (c != cells_.end() && a != aggregates_.end()) {
      fx.records.push_back({cell_record_key(ck), encode_cell(a->second, c->second)});
    }
  }
  fx.deferred.clear();
}

result<uint64_t> aggregate_table::apply(const sweep_cmd&, const apply_ctx& ctx,
                                        effects& out) {
  auto now = ctx.now;
  uint64_t n = 0;
  while (n < cfg_.max_sweep && !cell_deadlines_.empty()
         && cell_deadlines_.begin()->first <= now) {
    auto key = cell_deadlines_.begin()->second;
    cell_deadlines_.erase(cell_deadlines_.begin());
    cells_.erase(key);
    out.records.push_back({cell_record_key(key), std::nullopt});
    ++n;
  }
  while (n < cfg_.max_sweep && !mark_deadlines_.empty()
         && mark_deadlines_.begin()->first <= now) {
    auto key = mark_deadlines_.begin()->second;
    mark_deadlines_.erase(mark_deadlines_.begin());
    marks_.erase(key);
    out.records.push_back({mark_record_key(key), std::nullopt});
    ++n;
  }
  return n;
}

result<void> aggregate_table::restore(std::string_view key, std::string_view value) {
  auto pfx = prefix(shard_);
  if (!key.starts_with(pfx) || key.size() < pfx.size() + 1) {
    return fail(errc::storage_error, "not an aggregate record of this shard");
  }
  codec::reader k{key.substr(pfx.size() + 1)};
  codec::reader r{value};
  auto fmt = r.u8();
  auto expires = r.i64();
  if (!r.good() || fmt != format_v1) {
    return fail(errc::storage_error, "corrupt aggregate record");
  }
  if (key[pfx.size()] == type_mark) {
    auto scope = k.bytes();
    auto id = std::string{k.rest()};
    if (!k.good() || !r.done()) {
      return fail(errc::storage_error, "corrupt dedup mark");
    }
    mark_key mk{std::move(scope), std::move(id)};
    marks_[mk] = from_unix_nanos(expires);
    mark_deadlines_.emplace(from_unix_nanos(expires), std::move(mk));
    return {};
  }
  if (key[pfx.size()] != type_cell) {
    return fail(errc::storage_error, "unknown aggregate record");
  }
  auto name = k.bytes();
  auto entity = k.bytes();
  auto bucket = unordered(k.u64be());
  if (!k.done()) {
    return fail(errc::storage_error, "corrupt aggregate cell key");
  }
  auto a = aggregates_.find(name);
  if (a == aggregates_.end()) {
    orphans_.emplace_back(key);
    return {};
  }
  auto v = a->second.m.decode(r.rest());
  if (!v) {
    return std::move(v).err();
  }
  cell_key ck{std::move(name), std::move(entity), bucket};
  cell c{std::move(*v), time_of(expires)};
  if (c.expires_at != time_point::max()) {
    cell_deadlines_.emplace(c.expires_at, ck);
  }
  cells_.insert_or_assign(std::move(ck), std::move(c));
  return {};
}

std::vector<std::string> aggregate_table::take_orphans() {
  return std::exchange(orphans_, {});
}

// -- command encodings --------------------------------------------------------

// The encodings of times and durations (runtime/machine.hpp).
using shoal::decode;
using shoal::encode;

namespace {

void write_fields(codec::writer& w, const merge_cmd& c) {
  w.bytes(c.name);
  w.bytes(c.entity);
  w.u8((c.bucket ? 1 : 0) | (c.event_time ? 2 : 0));
  if (c.bucket) {
    w.i64(*c.bucket);
  }
  if (c.event_time) {
    encode(w, *c.event_time);
  }
  w.bytes(encode_any(c.delta));
  encode(w, c.ttl);
  w.bytes(c.event_id);
}

bool read_fields(codec::reader& r, merge_cmd& c) {
  c.name = r.bytes();
  c.entity = r.bytes();
  auto flags = r.u8();
  if (!r.good() || (flags & ~3) != 0) {
    return false;
  }
  c.bucket.reset();
  c.event_time.reset();
  if ((flags & 1) != 0) {
    c.bucket = r.i64();
  }
  if ((flags & 2) != 0) {
    time_point t;
    decode(r, t);
    c.event_time = t;
  }
  auto delta = decode_any(r.bytes());
  if (!r.good() || !delta) {
    return false;
  }
  c.delta = std::move(*delta);
  decode(r, c.ttl);
  c.event_id = r.bytes();
  return r.good();
}

void write_fields(codec::writer& w, const merge_batch_cmd& c) {
  w.varint(c.merges.size());
  for (const auto& m : c.merges) {
    write_fields(w, m);
  }
}

bool read_fields(codec::reader& r, merge_batch_cmd& c) {
  auto n = r.varint();
  // A merge takes at least 8 bytes: a count beyond the input is malformed.
  if (!r.good() || n > r.rest().size() / 8) {
    return false;
  }
  c.merges.resize(n);
  for (auto& m : c.merges) {
    if (!read_fields(r, m)) {
      return false;
    }
  }
  return true;
}

void write_fields(codec::writer& w, const seen_cmd& c) {
  w.bytes(c.scope);
  w.bytes(c.event_id);
  encode(w, c.retention);
}

bool read_fields(codec::reader& r, seen_cmd& c) {
  c.scope = r.bytes();
  c.event_id = r.bytes();
  decode(r, c.retention);
  return r.good();
}

void write_fields(codec::writer& w, const drop_cmd& c) {
  w.bytes(c.name);
}

bool read_fields(codec::reader& r, drop_cmd& c) {
  c.name = r.bytes();
  return r.good();
}

void write_fields(codec::writer&, const sweep_cmd&) {
}

bool read_fields(codec::reader& r, sweep_cmd&) {
  return r.good();
}

} // namespace

SHOAL_COMMAND_CODEC(command)

} // namespace shoal::agg
