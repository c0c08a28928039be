#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/machine.hpp"
#include "runtime/result.hpp"
#include "runtime/time.hpp"

namespace shoal::stream {

/// What a payload (or checkpoint state) holds: JSON text the HTTP gateway
/// may inline, or opaque bytes.
enum class payload_format : uint8_t { binary = 0, json = 1 };

/// One event as a caller hands it to `append`.
struct event_data {
  /// What happened ("deposited"); 1..max_type_bytes printable bytes.
  std::string type;
  /// The event's body: JSON text or any binary.
  std::string payload;
  /// Caller-defined metadata (the HTTP gateway stores a JSON object here).
  std::string metadata;
  /// Optional id: appending an id the stream saw within the dedup window
  /// returns the first append's sequence instead of a second event.
  std::string event_id;
  payload_format format = payload_format::binary;
};

/// A stored event.
struct event {
  std::string stream;
  /// Position in the stream, from 1, contiguous.
  uint64_t seq = 0;
  /// When it was appended; never earlier than the event before it.
  time_point time;
  std::string type;
  std::string payload;
  std::string metadata;
  std::string event_id;
  payload_format format = payload_format::binary;
};

/// What an append expects of the stream (optimistic concurrency).
enum class expect : uint8_t {
  /// Append whatever the stream holds.
  any,
  /// Only if no event was ever appended (the stream's last seq is 0).
  no_stream,
  /// Only if the stream's last seq is `expectation::seq`.
  exact,
};

struct expectation {
  expect kind = expect::any;
  uint64_t seq = 0;

  static expectation exactly(uint64_t seq) {
    return {expect::exact, seq};
  }
};

/// How many events a stream keeps. Zero values mean "no limit".
struct retention {
  uint64_t max_count = 0;
  duration max_age{0};

  friend bool operator==(const retention&, const retention&) = default;
};

/// A stream's metadata.
struct stream_info {
  std::string name;
  time_point created;
  /// The time of the newest event (or of the creation).
  time_point updated;
  /// The oldest retained event; events before it were removed by retention
  /// or truncation. `first_seq == last_seq + 1` when none is retained.
  uint64_t first_seq = 1;
  uint64_t last_seq = 0;
  retention keep;
  /// The truncation point a caller set (0: none).
  uint64_t truncate_before = 0;

  uint64_t count() const {
    return last_seq + 1 - first_seq;
  }
};

struct append_cmd {
  std::string stream;
  std::vector<event_data> events;
  expectation expected;
};

struct append_result {
  std::string stream;
  /// The sequence of each event of the command, in order. A duplicate event
  /// id gets the sequence of the event that first carried it.
  std::vector<uint64_t> seqs;
  /// Per event: 1 if it was a duplicate and nothing was appended for it.
  std::vector<uint8_t> duplicate;
  /// The stream's last seq after the append.
  uint64_t last_seq = 0;
  /// The append time of the new events.
  time_point time;

  /// How many events were appended (not duplicates).
  size_t appended() const;
};

/// Changes a stream's retention or truncation point; creates the stream
/// (empty) if it does not exist. Unset fields stay as they are.
struct configure_cmd {
  std::string stream;
  std::optional<uint64_t> max_count;
  std::optional<duration> max_age;
  /// Removes every event before this seq (at most last_seq + 1); it never
  /// moves back.
  std::optional<uint64_t> truncate_before;
};

/// A saved derived state of a stream at a sequence.
struct checkpoint {
  std::string stream;
  uint64_t seq = 0;
  time_point saved;
  std::string state;
  payload_format format = payload_format::binary;
};

/// What a command asks the shell to persist, in one atomic batch (events
/// removed by retention as range deletes), and the events it appended, to
/// publish once that batch is durable.
using effects = shoal::effects<event>;

/// Removes the events of `stream` before `before` (age retention: the
/// shell finds the first event young enough and passes its seq). The
/// answer is how many went.
struct truncate_cmd {
  std::string stream;
  uint64_t before = 0;
};

/// Stores `cp` (its `saved` is set when applied).
struct save_checkpoint_cmd {
  checkpoint cp;
};

/// Removes dedup marks older than the window, up to `max_sweep`; the
/// answer is how many.
struct sweep_cmd {};

/// Every command of the machine, as a log entry holds it.
using command =
  std::variant<append_cmd, configure_cmd, truncate_cmd, save_checkpoint_cmd, sweep_cmd>;

void encode(codec::writer& w, const command& cmd);
bool decode(codec::reader& r, command& out);

/// Limits of a stream shard.
struct stream_config {
  size_t max_type_bytes = 128;
  size_t max_event_id_bytes = 128;
  /// Payload plus metadata of one event.
  size_t max_event_bytes = 1024 * 1024;
  size_t max_batch_events = 10'000;
  size_t max_batch_bytes = 8 * 1024 * 1024;
  /// How long an event id is remembered for deduplication.
  duration dedup_window = std::chrono::minutes{2};
  size_t max_checkpoint_bytes = 16 * 1024 * 1024;
  /// Checkpoints kept per stream; saving one more removes the oldest.
  size_t max_checkpoints = 64;
  /// Dedup marks removed by one sweep round.
  size_t max_sweep = 10'000;
};

/// Stream names starting with this are the node's own (entity streams);
/// callers may read them but not append to them directly.
inline constexpr std::string_view reserved_prefix = "$";

/// Checks a stream name (the key rules of `validate_key`).
result<void> validate_stream_name(std::string_view name);

/// The pure state machine of one stream shard: every stream's metadata,
/// its checkpoint index and the event ids of the dedup window. Events
/// themselves live only in storage: an append returns them as records to
/// persist, and the shell reads them back with the key layout below.
/// Commands are applied with a context (runtime/machine.hpp).
///
/// Storage layout (column `stream`):
/// - `S` shard `m` name            → stream metadata
/// - `S` shard `d` name 0x00 id    → dedup mark (seq, time)
/// - `S` shard `k` name 0x00 seq   → checkpoint index entry (empty)
/// - `E` name 0x00 seq             → event
/// - `C` name 0x00 seq             → checkpoint state
/// - `P` shard no                  → entity projection snapshot
/// (shard: 2 bytes, seq: 8 bytes, both big-endian, so a stream's events and
/// checkpoints are contiguous and in sequence order).
class stream_table {
public:
  stream_table(uint16_t shard, stream_config cfg);

  using effects_type = effects;
  using event_type = event;

  /// Appends a batch atomically, or nothing. Fails with `seq_mismatch`
  /// (`current` = the stream's last seq) when the expectation does not hold,
  /// `invalid_argument` for an empty batch or a bad event, `too_large` past
  /// the limits. If every event carries an id already seen within the dedup
  /// window, the append answers the first sequences and changes nothing,
  /// whatever the expectation (a retried append succeeds).
  result<append_result> apply(const append_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// Sets retention or truncation (see `configure_cmd`), removing the
  /// events it excludes.
  result<stream_info> apply(const configure_cmd& cmd, const apply_ctx& ctx, effects& out);

  result<uint64_t> apply(const truncate_cmd& cmd, const apply_ctx& ctx, effects& out);

  /// Stores a checkpoint; `seq` must be in 1..last_seq. Saving the same seq
  /// again replaces it. The oldest checkpoint beyond `max_checkpoints` is
  /// removed.
  result<checkpoint> apply(const save_checkpoint_cmd& cmd, const apply_ctx& ctx,
                           effects& out);

  result<uint64_t> apply(const sweep_cmd& cmd, const apply_ctx& ctx, effects& out);

  // -- observers ---------------------------------------------------------------

  /// The metadata of `stream`, or `not_found`.
  result<stream_info> info(std::string_view stream) const;

  /// The seq of the newest checkpoint of `stream` at or before `seq`.
  std::optional<uint64_t> checkpoint_at_or_before(std::string_view stream,
                                                  uint64_t seq) const;

  /// Every checkpoint seq of `stream`, ascending.
  std::vector<uint64_t> checkpoints(std::string_view stream) const;

  /// Streams with an age limit and retained events: (name, max_age, first
  /// seq), for the shell's age retention.
  std::vector<std::tuple<std::string, duration, uint64_t>> aged() const;

  /// Names of streams whose name starts with `prefix`, sorted, after
  /// `after` (exclusive), at most `limit`.
  std::vector<std::string> names(std::string_view prefix,
                                 std::string_view after, size_t limit) const;

  size_t size() const {
    return streams_.size();
  }

  size_t dedup_marks() const {
    return marks_.size();
  }

  uint16_t shard() const {
    return shard_;
  }

  const stream_config& config() const {
    return cfg_;
  }

  // -- restore and layout -------------------------------------------------------

  /// Rebuilds state from one stored record under `prefix(shard)`.
  result<void> restore(std::string_view key, std::string_view value);

  static std::string prefix(uint16_t shard);
  static std::string meta_key(uint16_t shard, std::string_view stream);
  static std::string mark_key(uint16_t shard, std::string_view stream,
                              std::string_view event_id);
  static std::string checkpoint_index_key(uint16_t shard,
                                          std::string_view stream,
                                          uint64_t seq);
  /// The key of event `seq`; every event of `stream` lies in
  /// [event_key(stream, 0), event_key(stream, UINT64_MAX)].
  static std::string event_key(std::string_view stream, uint64_t seq);
  static std::string checkpoint_key(std::string_view stream, uint64_t seq);
  /// Projection snapshot `no` of `shard` (`P` shard no): outside the
  /// shard's restore range, read newest first at start.
  static std::string snapshot_key(uint16_t shard, uint64_t no);
  /// The seq at the end of an event or checkpoint key.
  static uint64_t seq_of(std::string_view key);

  static std::string encode(const stream_info& s);
  static result<stream_info> decode_info(std::string_view v);
  static std::string encode(const event& e);
  /// Decodes a stored event; `stream` and `seq` come from its key.
  static result<event> decode_event(std::string_view stream, uint64_t seq,
                                    std::string_view v);
  static std::string encode(const checkpoint& c);
  static result<checkpoint> decode_checkpoint(std::string_view stream,
                                              uint64_t seq, std::string_view v);

private:
  struct mark {
    uint64_t seq = 0;
    time_point time;
  };

  struct entry {
    stream_info info;
    std::set<uint64_t> checkpoints;
  };

  result<void> check(const append_cmd& cmd) const;
  // Removes the events of `e` before `seq` (if any); returns how many.
  uint64_t trim(entry& e, uint64_t seq, effects& out);
  void store(const entry& e, effects& out);
  const mark* live_mark(const std::string& key, time_point now) const;

  uint16_t shard_;
  stream_config cfg_;
  std::map<std::string, entry, std::less<>> streams_;
  // stream 0x00 event id → the seq it got.
  std::map<std::string, mark, std::less<>> marks_;
  // (time, mark key), for the sweep.
  std::set<std::pair<time_point, std::string>> mark_times_;
};

} // namespace shoal::stream
