#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "runtime/error.hpp"
#include "runtime/result.hpp"
#include "runtime/storage/engine.hpp"
#include "runtime/stream/stream_table.hpp"
#include "runtime/time.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

/// Where a stream tail delivers. Implemented by the WebSocket gateway and by
/// embedding programs; called from the stream's feed actor, one call at a
/// time, never blocking. A delivery returning false means "buffer full,
/// offer it again later".
class stream_tail_sink {
public:
  virtual ~stream_tail_sink() = default;
  /// The next event, in sequence order, without gaps or repeats.
  virtual bool on_event(const stream::event& ev) = 0;
  /// Every event up to `seq` was delivered; the following ones arrive as
  /// they are appended. Sent once, after the catch-up.
  virtual bool on_live(uint64_t seq) = 0;
  /// Heartbeat while live and idle: every event up to `seq` was delivered.
  virtual bool on_progress(uint64_t seq) = 0;
  /// The consumer fell too far behind the live events; resume from `next`.
  /// The tail has ended.
  virtual void on_lagged(uint64_t next) = 0;
  /// The tail could not start or go on: `not_found`, `compacted` (events it
  /// needed were removed by retention; `current` is the oldest seq left),
  /// `storage_error`. The tail has ended.
  virtual void on_error(const error& e) = 0;
  /// False once the consumer is gone; the feed then forgets it.
  virtual bool is_open() const = 0;
};

/// Tuning of feeds.
struct stream_feed_options {
  /// Live events held for a consumer that is not taking them; beyond this
  /// it gets `on_lagged`.
  size_t max_backlog_bytes = 8 * 1024 * 1024;
  /// Events read from storage at a time during catch-up.
  size_t catchup_page = 256;
  /// Heartbeat period, also how often closed consumers are noticed.
  duration progress_interval = std::chrono::seconds{5};
  /// A feed without consumers for this long asks its shard to retire it.
  duration idle_after = std::chrono::seconds{10};
};

/// Reads the events of `stream` with seqs in [from, to] (at most `limit`)
/// from storage, in order. Fails with `storage_error` on a corrupt record.
result<std::vector<stream::event>>
read_events(const storage::read_view& store, const std::string& stream,
            uint64_t from, uint64_t to, size_t limit,
            storage::direction dir = storage::direction::forward);

/// Spawns the feed of one stream: the actor that serves its tails
/// (catch-up from storage, then live events). Its shard spawns it on the
/// first tail, sends it every durable batch of the stream's events as a
/// `std::vector<stream::event>`, and forwards tails as
/// `(tail_atom, sink, from, durable last seq, first seq)` (from 0: only
/// events appended after the tail starts). Once it has had no
/// tail for `idle_after` it sends `(idle_atom, stream, tails received)` to
/// `shard`, which retires it unless a tail is on its way.
caf::actor spawn_stream_feed(caf::actor_system& sys, std::string stream,
                             const storage::read_view* store, caf::actor shard,
                             stream_feed_options opts);

} // namespace shoal

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<shoal::stream_tail_sink>)
