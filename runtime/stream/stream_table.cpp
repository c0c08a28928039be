#include "runtime/stream/stream_table.hpp"

#include <algorithm>
#include <limits>

#include "runtime/codec.hpp"
#include "runtime/key.hpp"

namespace shoal::stream {

namespace {

constexpr uint8_t format_v1 = 1;
constexpr char tag_shard = 'S';
constexpr char tag_event = 'E';
constexpr char tag_checkpoint = 'C';
constexpr char tag_snapshot = 'P';
constexpr char type_meta = 'm';
constexpr char type_mark = 'd';
constexpr char type_checkpoint = 'k';

std::string seq_bytes(uint64_t seq) {
  std::string out;
  codec::writer{out}.u64be(seq);
  return out;
}

std::string mark_id(std::string_view stream, std::string_view event_id) {
  std::string out{stream};
  out += '\0';
  out += event_id;
  return out;
}

std::string keyed(char tag, std::string_view stream, uint64_t seq) {
  std::string out;
  out.reserve(stream.size() + 10);
  out += tag;
  out += stream;
  out += '\0';
  out += seq_bytes(seq);
  return out;
}

} // namespace

size_t append_result::appended() const {
  return static_cast<size_t>(
    std::count(duplicate.begin(), duplicate.end(), uint8_t{0}));
}

result<void> validate_stream_name(std::string_view name) {
  return validate_key(name);
}

stream_table::stream_table(uint16_t shard, stream_config cfg)
  : shard_(shard), cfg_(cfg) {
}

// -- layout --------------------------------------------------------------------

std::string stream_table::prefix(uint16_t shard) {
  std::string out{tag_shard};
  out += codec::shard_prefix(shard);
  return out;
}

std::string stream_table::meta_key(uint16_t shard, std::string_view stream) {
  auto out = prefix(shard);
  out += type_meta;
  out += stream;
  return out;
}

std::string stream_table::mark_key(uint16_t shard, std::string_view stream,
                                   std::string_view event_id) {
  auto out = prefix(shard);
  out += type_mark;
  out += mark_id(stream, event_id);
  return out;
}

std::string stream_table::checkpoint_index_key(uint16_t shard,
                                               std::string_view stream,
                                               uint64_t seq) {
  auto out = prefix(shard);
  out += type_checkpoint;
  out += stream;
  out += '\0';
  out += seq_bytes(seq);
  return out;
}

std::string stream_table::event_key(std::string_view stream, uint64_t seq) {
  return keyed(tag_event, stream, seq);
}

std::string stream_table::checkpoint_key(std::string_view stream,
                                         uint64_t seq) {
  return keyed(tag_checkpoint, stream, seq);
}

std::string stream_table::snapshot_key(uint16_t shard, uint64_t no) {
  std::string out{tag_snapshot};
  out += codec::shard_prefix(shard);
  out += seq_bytes(no);
  return out;
}

uint64_t stream_table::seq_of(std::string_view key) {
  if (key.size() < 8) {
    return 0;
  }
  return codec::reader{key.substr(key.size() - 8)}.u64be();
}

std::string stream_table::encode(const stream_info& s) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.i64(to_unix_nanos(s.created));
  w.i64(to_unix_nanos(s.updated));
  w.varint(s.first_seq);
  w.varint(s.last_seq);
  w.varint(s.keep.max_count);
  w.i64(s.keep.max_age.count());
  w.varint(s.truncate_before);
  return out;
}

result<stream_info> stream_table::decode_info(std::string_view v) {
  codec::reader r{v};
  stream_info out;
  auto fmt = r.u8();
  out.created = from_unix_nanos(r.i64());
  out.updated = from_unix_nanos(r.i64());
  out.first_seq = r.varint();
  out.last_seq = r.varint();
  out.keep.max_count = r.varint();
  out.keep.max_age = duration{r.i64()};
  out.truncate_before = r.varint();
  if (fmt != format_v1 || !r.done() || out.first_seq == 0
      || out.first_seq > out.last_seq + 1) {
    return fail(errc::storage_error, "corrupt stream metadata");
  }
  return out;
}

std::string stream_table::encode(const event& e) {
  std::string out;
  out.reserve(e.type.size() + e.payload.size() + e.metadata.size()
              + e.event_id.size() + 24);
  codec::writer w{out};
  w.u8(format_v1);
  w.i64(to_unix_nanos(e.time));
  w.bytes(e.type);
  w.bytes(e.payload);
  w.bytes(e.metadata);
  w.bytes(e.event_id);
  w.u8(static_cast<uint8_t>(e.format));
  return out;
}

result<event> stream_table::decode_event(std::string_view stream, uint64_t seq,
                                         std::string_view v) {
  codec::reader r{v};
  event out;
  out.stream = std::string{stream};
  out.seq = seq;
  auto fmt = r.u8();
  out.time = from_unix_nanos(r.i64());
  out.type = r.bytes();
  out.payload = r.bytes();
  out.metadata = r.bytes();
  out.event_id = r.bytes();
  auto pf = r.u8();
  out.format = static_cast<payload_format>(pf);
  if (fmt != format_v1 || pf > 1 || !r.done()) {
    return fail(errc::storage_error, "corrupt event " + std::string{stream}
                                       + "@" + std::to_string(seq));
  }
  return out;
}

std::string stream_table::encode(const checkpoint& c) {
  std::string out;
  codec::writer w{out};
  w.u8(format_v1);
  w.i64(to_unix_nanos(c.saved));
  w.bytes(c.state);
  w.u8(static_cast<uint8_t>(c.format));
  return out;
}

result<checkpoint> stream_table::decode_checkpoint(std::string_view stream,
                                                   uint64_t seq,
                                                   std::string_view v) {
  codec::reader r{v};
  checkpoint out;
  out.stream = std::string{stream};
  out.seq = seq;
  auto fmt = r.u8();
  out.saved = from_unix_nanos(r.i64());
  out.state = r.bytes();
  auto pf = r.u8();
  out.format = static_cast<payload_format>(pf);
  if (fmt != format_v1 || pf > 1 || !r.done()) {
    return fail(errc::storage_error, "corrupt checkpoint "
                                       + std::string{stream} + "@"
                                       + std::to_string(seq));
  }
  return out;
}

result<void> stream_table::restore(std::string_view key,
                                   std::string_view value) {
  auto pre = prefix(shard_);
  if (key.size() <= pre.size() || key.substr(0, pre.size()) != pre) {
    return fail(errc::storage_error, "stream record outside its shard");
  }
  auto type = key[pre.size()];
  auto rest = key.substr(pre.size() + 1);
  switch (type) {
    case type_meta: {
      auto info = decode_info(value);
      if (!info) {
        return std::move(info).err();
      }
      info->name = std::string{rest};
      auto& e = streams_[info->name];
      e.info = std::move(*info);
      return {};
    }
    case type_mark: {
      codec::reader r{value};
      mark m;
      m.seq = r.u64be();
      m.time = from_unix_nanos(r.i64());
      if (!r.done() || rest.find('\0') == std::string_view::npos) {
        return fail(errc::storage_error, "corrupt stream dedup mark");
      }
      std::string id{rest};
      mark_times_.emplace(m.time, id);
      marks_.insert_or_assign(std::move(id), m);
      return {};
    }
    case type_checkpoint: {
      if (rest.size() < 9 || rest[rest.size() - 9] != '\0') {
        return fail(errc::storage_error, "corrupt checkpoint index entry");
      }
      auto name = rest.substr(0, rest.size() - 9);
      streams_[std::string{name}].checkpoints.insert(seq_of(rest));
      return {};
    }
    default:
      return fail(errc::storage_error, "unknown stream record type");
  }
}

// -- commands ------------------------------------------------------------------

result<void> stream_table::check(const append_cmd& cmd) const {
  if (auto ok = validate_stream_name(cmd.stream); !ok) {
    return ok;
  }
  if (cmd.events.empty()) {
    return fail(errc::invalid_argument, "an append needs at least one event");
  }
  if (cmd.events.size() > cfg_.max_batch_events) {
    return fail(errc::too_large, "at most "
                                   + std::to_string(cfg_.max_batch_events)
                                   + " events per append");
  }
  size_t total = 0;
  for (size_t i = 0; i < cmd.events.size(); ++i) {
    const auto& ev = cmd.events[i];
    auto where = "event " + std::to_string(i) + ": ";
    if (ev.type.empty() || ev.type.size() > cfg_.max_type_bytes) {
      return fail(errc::invalid_argument,
                  where + "type must be 1.." + std::to_string(cfg_.max_type_bytes)
                    + " bytes");
    }
    if (ev.event_id.size() > cfg_.max_event_id_bytes) {
      return fail(errc::invalid_argument,
                  where + "event id must be at most "
                    + std::to_string(cfg_.max_event_id_bytes) + " bytes");
    }
    auto bytes = ev.payload.size() + ev.metadata.size();
    if (bytes > cfg_.max_event_bytes) {
      return fail(errc::too_large,
                  where + "payload and metadata exceed "
                    + std::to_string(cfg_.max_event_bytes) + " bytes");
    }
    total += bytes + ev.type.size() + ev.event_id.size();
  }
  if (total > cfg_.max_batch_bytes) {
    return fail(errc::too_large, "an append is limited to "
                                   + std::to_string(cfg_.max_batch_bytes)
                                   + " bytes");
  }
  return {};
}

const stream_table::mark* stream_table::live_mark(const std::string& key,
                                                  time_point now) const {
  auto it = marks_.find(key);
  if (it == marks_.end() || it->second.time + cfg_.dedup_window <= now) {
    return nullptr;
  }
  return &it->second;
}

result<append_result> stream_table::apply(const append_cmd& cmd, const apply_ctx& ctx,
                                          effects& out) {
  auto now = ctx.now;
  if (auto ok = check(cmd); !ok) {
    return std::move(ok).err();
  }
  auto it = streams_.find(cmd.stream);
  uint64_t last = it == streams_.end() ? 0 : it->second.info.last_seq;
  append_result res;
  res.stream = cmd.stream;
  res.seqs.resize(cmd.events.size(), 0);
  res.duplicate.resize(cmd.events.size(), 0);
  // Event ids seen before (or earlier in this batch) keep their first seq.
  std::map<std::string, uint64_t, std::less<>> batch_ids;
  uint64_t next = last;
  for (size_t i = 0; i < cmd.events.size(); ++i) {
    const auto& id = cmd.events[i].event_id;
    if (id.empty()) {
      res.seqs[i] = ++next;
      continue;
    }
    auto key = mark_id(cmd.stream, id);
    if (const auto* m = live_mark(key, now); m != nullptr) {
      res.seqs[i] = m->seq;
      res.duplicate[i] = 1;
    } else if (auto b = batch_ids.find(key); b != batch_ids.end()) {
      res.seqs[i] = b->second;
      res.duplicate[i] = 1;
    } else {
      res.seqs[i] = ++next;
      batch_ids.emplace(std::move(key), next);
    }
  }
  if (next == last) {
    // A retry of appends that all happened: answer them again.
    res.last_seq = last;
    res.time = it == streams_.end() ? now : it->second.info.updated;
    return res;
  }
  const auto& want = cmd.expected;
  bool ok = want.kind == expect::any
            || (want.kind == expect::no_stream && last == 0)
            || (want.kind == expect::exact && last == want.seq);
  if (!ok) {
    auto e = error{errc::seq_mismatch,
                   "stream " + cmd.stream + " is at seq "
                     + std::to_string(last)
                     + (want.kind == expect::no_stream
                          ? ", expected no events"
                          : ", expected " + std::to_string(want.seq))};
    e.current = last;
    return e;
  }
  if (it == streams_.end()) {
    it = streams_.emplace(cmd.stream, entry{}).first;
    it->second.info.name = cmd.stream;
    it->second.info.created = now;
    it->second.info.updated = now;
  }
  auto& e = it->second;
  // Append times never go back within a stream, so age retention can stop
  // at the first young event.
  auto at = std::max(now, e.info.updated);
  for (size_t i = 0; i < cmd.events.size(); ++i) {
    if (res.duplicate[i] != 0) {
      continue;
    }
    const auto& in = cmd.events[i];
    event ev{cmd.stream,  res.seqs[i], at,          in.type,
             in.payload, in.metadata, in.event_id, in.format};
    out.records.push_back(record::put(event_key(cmd.stream, ev.seq), encode(ev)));
    out.events.push_back(std::move(ev));
  }
  for (auto& [key, seq] : batch_ids) {
    std::string value;
    codec::writer w{value};
    w.u64be(seq);
    w.i64(to_unix_nanos(now));
    auto id = std::string_view{key}.substr(cmd.stream.size() + 1);
    out.records.push_back(record::put(mark_key(shard_, cmd.stream, id), std::move(value)));
    if (auto old = marks_.find(key); old != marks_.end()) {
      mark_times_.erase({old->second.time, key});
    }
    mark_times_.emplace(now, key);
    marks_.insert_or_assign(key, mark{seq, now});
  }
  e.info.last_seq = next;
  e.info.updated = at;
  if (e.info.keep.max_count > 0 && e.info.count() > e.info.keep.max_count) {
    trim(e, e.info.last_seq + 1 - e.info.keep.max_count, out);
  }
  store(e, out);
  res.last_seq = next;
  res.time = at;
  return res;
}

result<stream_info> stream_table::apply(const configure_cmd& cmd, const apply_ctx& ctx,
                                        effects& out) {
  auto now = ctx.now;
  if (auto ok = validate_stream_name(cmd.stream); !ok) {
    return std::move(ok).err();
  }
  if (cmd.max_age && *cmd.max_age < duration::zero()) {
    return fail(errc::invalid_argument, "max_age must not be negative");
  }
  auto it = streams_.find(cmd.stream);
  uint64_t last = it == streams_.end() ? 0 : it->second.info.last_seq;
  if (cmd.truncate_before && *cmd.truncate_before > last + 1) {
    return fail(errc::invalid_argument,
                "truncate_before must be at most last seq + 1 ("
                  + std::to_string(last + 1) + ")");
  }
  if (it == streams_.end()) {
    it = streams_.emplace(cmd.stream, entry{}).first;
    it->second.info.name = cmd.stream;
    it->second.info.created = now;
    it->second.info.updated = now;
  }
  auto& e = it->second;
  if (cmd.max_count) {
    e.info.keep.max_count = *cmd.max_count;
  }
  if (cmd.max_age) {
    e.info.keep.max_age = *cmd.max_age;
  }
  if (cmd.truncate_before) {
    e.info.truncate_before = std::max(e.info.truncate_before,
                                      *cmd.truncate_before);
  }
  auto keep_from = e.info.truncate_before;
  if (e.info.keep.max_count > 0 && e.info.count() > e.info.keep.max_count) {
    keep_from = std::max(keep_from, e.info.last_seq + 1 - e.info.keep.max_count);
  }
  trim(e, keep_from, out);
  store(e, out);
  return e.info;
}

result<uint64_t> stream_table::apply(const truncate_cmd& cmd, const apply_ctx&,
                                     effects& out) {
  auto seq = cmd.before;
  auto it = streams_.find(cmd.stream);
  if (it == streams_.end()) {
    return uint64_t{0};
  }
  auto n = trim(it->second, std::min(seq, it->second.info.last_seq + 1), out);
  if (n > 0) {
    store(it->second, out);
  }
  return n;
}

uint64_t stream_table::trim(entry& e, uint64_t seq, effects& out) {
  if (seq <= e.info.first_seq) {
    return 0;
  }
  auto n = seq - e.info.first_seq;
  out.records.push_back(record::erase_range(event_key(e.info.name, e.info.first_seq),
                                            event_key(e.info.name, seq)));
  e.info.first_seq = seq;
  return n;
}

void stream_table::store(const entry& e, effects& out) {
  out.records.push_back(record::put(meta_key(shard_, e.info.name), encode(e.info)));
}

result<checkpoint> stream_table::apply(const save_checkpoint_cmd& cmd,
                                       const apply_ctx& ctx, effects& out) {
  auto cp = cmd.cp;
  auto now = ctx.now;
  auto it = streams_.find(cp.stream);
  if (it == streams_.end()) {
    return fail(errc::not_found, "stream " + cp.stream + " does not exist");
  }
  auto& e = it->second;
  if (cp.seq == 0 || cp.seq > e.info.last_seq) {
    return fail(errc::invalid_argument,
                "a checkpoint's seq must be in 1.."
                  + std::to_string(e.info.last_seq));
  }
  if (cp.state.size() > cfg_.max_checkpoint_bytes) {
    return fail(errc::too_large, "a checkpoint is limited to "
                                   + std::to_string(cfg_.max_checkpoint_bytes)
                                   + " bytes");
  }
  cp.saved = now;
  out.records.push_back(record::put(checkpoint_key(cp.stream, cp.seq), encode(cp)));
  out.records.push_back(
    record::put(checkpoint_index_key(shard_, cp.stream, cp.seq), std::string{}));
  e.checkpoints.insert(cp.seq);
  while (e.checkpoints.size() > cfg_.max_checkpoints) {
    auto oldest = *e.checkpoints.begin();
    e.checkpoints.erase(e.checkpoints.begin());
    out.records.push_back(record::erase(checkpoint_key(cp.stream, oldest)));
    out.records.push_back(record::erase(checkpoint_index_key(shard_, cp.stream, oldest)));
  }
  return cp;
}

result<uint64_t> stream_table::apply(const sweep_cmd&, const apply_ctx& ctx,
                                     effects& out) {
  auto now = ctx.now;
  uint64_t n = 0;
  while (n < cfg_.max_sweep && !mark_times_.empty()) {
    auto first = mark_times_.begin();
    if (first->first + cfg_.dedup_window > now) {
      break;
    }
    const auto& key = first->second;
    auto sep = key.find('\0');
    out.records.push_back(record::erase(mark_key(shard_, std::string_view{key}.substr(0, sep),
                                                 std::string_view{key}.substr(sep + 1))));
    marks_.erase(key);
    mark_times_.erase(first);
    ++n;
  }
  return n;
}

// -- observers -----------------------------------------------------------------

result<stream_info> stream_table::info(std::string_view stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.info.created == time_point{}) {
    return fail(errc::not_found,
                "stream " + std::string{stream} + " does not exist");
  }
  return it->second.info;
}

std::optional<uint64_t>
stream_table::checkpoint_at_or_before(std::string_view stream,
                                      uint64_t seq) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return std::nullopt;
  }
  const auto& cps = it->second.checkpoints;
  auto up = cps.upper_bound(seq);
  if (up == cps.begin()) {
    return std::nullopt;
  }
  return *std::prev(up);
}

std::vector<uint64_t> stream_table::checkpoints(std::string_view stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return {};
  }
  return {it->second.checkpoints.begin(), it->second.checkpoints.end()};
}

std::vector<std::tuple<std::string, duration, uint64_t>>
stream_table::aged() const {
  std::vector<std::tuple<std::string, duration, uint64_t>> out;
  for (const auto& [name, e] : streams_) {
    if (e.info.keep.max_age > duration::zero() && e.info.count() > 0) {
      out.emplace_back(name, e.info.keep.max_age, e.info.first_seq);
    }
  }
  return out;
}

std::vector<std::string> stream_table::names(std::string_view prefix,
                                             std::string_view after,
                                             size_t limit) const {
  std::vector<std::string> out;
  auto it = after.empty() || after < prefix ? streams_.lower_bound(prefix)
                                            : streams_.upper_bound(after);
  for (; it != streams_.end() && out.size() < limit; ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) {
      break;
    }
    if (it->second.info.created != time_point{}) {
      out.push_back(it->first);
    }
  }
  return out;
}

// -- command encodings --------------------------------------------------------

// The encodings of times and durations (runtime/machine.hpp).
using shoal::decode;
using shoal::encode;

namespace {

bool read_format(codec::reader& r, payload_format& f) {
  auto v = r.u8();
  if (!r.good() || v > 1) {
    return false;
  }
  f = static_cast<payload_format>(v);
  return true;
}

// An optional value: a presence byte, then the value.
template <class T, class Write>
void write_optional(codec::writer& w, const std::optional<T>& v, Write write) {
  w.u8(v ? 1 : 0);
  if (v) {
    write(*v);
  }
}

template <class T, class Read>
bool read_optional(codec::reader& r, std::optional<T>& v, Read read) {
  auto present = r.u8();
  if (!r.good() || present > 1) {
    return false;
  }
  v.reset();
  if (present == 1) {
    T value{};
    if (!read(value)) {
      return false;
    }
    v = std::move(value);
  }
  return r.good();
}

void write_fields(codec::writer& w, const append_cmd& c) {
  w.bytes(c.stream);
  w.varint(c.events.size());
  for (const auto& e : c.events) {
    w.bytes(e.type);
    w.bytes(e.payload);
    w.bytes(e.metadata);
    w.bytes(e.event_id);
    w.u8(static_cast<uint8_t>(e.format));
  }
  w.u8(static_cast<uint8_t>(c.expected.kind));
  w.varint(c.expected.seq);
}

bool read_fields(codec::reader& r, append_cmd& c) {
  c.stream = r.bytes();
  auto n = r.varint();
  // An event takes at least 5 bytes: a count beyond the input is malformed.
  if (!r.good() || n > r.rest().size() / 5) {
    return false;
  }
  c.events.resize(n);
  for (auto& e : c.events) {
    e.type = r.bytes();
    e.payload = r.bytes();
    e.metadata = r.bytes();
    e.event_id = r.bytes();
    if (!read_format(r, e.format)) {
      return false;
    }
  }
  auto kind = r.u8();
  if (!r.good() || kind > static_cast<uint8_t>(expect::exact)) {
    return false;
  }
  c.expected.kind = static_cast<expect>(kind);
  c.expected.seq = r.varint();
  return r.good();
}

void write_fields(codec::writer& w, const configure_cmd& c) {
  w.bytes(c.stream);
  write_optional(w, c.max_count, [&w](uint64_t v) { w.varint(v); });
  write_optional(w, c.max_age, [&w](duration v) { encode(w, v); });
  write_optional(w, c.truncate_before, [&w](uint64_t v) { w.varint(v); });
}

bool read_fields(codec::reader& r, configure_cmd& c) {
  c.stream = r.bytes();
  auto u64 = [&r](uint64_t& v) {
    v = r.varint();
    return r.good();
  };
  return read_optional(r, c.max_count, u64)
         && read_optional(r, c.max_age, [&r](duration& v) { return decode(r, v); })
         && read_optional(r, c.truncate_before, u64);
}

void write_fields(codec::writer& w, const truncate_cmd& c) {
  w.bytes(c.stream);
  w.varint(c.before);
}

bool read_fields(codec::reader& r, truncate_cmd& c) {
  c.stream = r.bytes();
  c.before = r.varint();
  return r.good();
}

void write_fields(codec::writer& w, const save_checkpoint_cmd& c) {
  w.bytes(c.cp.stream);
  w.varint(c.cp.seq);
  encode(w, c.cp.saved);
  w.bytes(c.cp.state);
  w.u8(static_cast<uint8_t>(c.cp.format));
}

bool read_fields(codec::reader& r, save_checkpoint_cmd& c) {
  c.cp.stream = r.bytes();
  c.cp.seq = r.varint();
  decode(r, c.cp.saved);
  c.cp.state = r.bytes();
  return read_format(r, c.cp.format);
}

void write_fields(codec::writer&, const sweep_cmd&) {
}

bool read_fields(codec::reader& r, sweep_cmd&) {
  return r.good();
}

} // namespace

SHOAL_COMMAND_CODEC(command)

} // namespace shoal::stream
