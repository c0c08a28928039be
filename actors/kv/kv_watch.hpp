#pragma once

#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "actors/cluster/directory.hpp"
#include "actors/kv/kv_service.hpp"
#include "runtime/kv/cursor.hpp"

namespace shoal {

/// Where a watch delivers. Implemented by the WebSocket gateway (JSON
/// frames) and by embedding programs. Called from the watch actor's thread,
/// one call at a time. Returning false from a delivery means "buffer full,
/// offer it again later": the watch retries, holding live events meanwhile
/// up to its backlog bound, beyond which it reports `on_lagged` and ends.
class kv_watch_sink {
public:
  virtual ~kv_watch_sink() = default;
  /// A current value (only with `initial`), before `on_synced`.
  virtual bool on_value(const kv::entry& e) = 0;
  /// The watch is registered with every shard it needs (and, with
  /// `initial`, all current values were delivered): every change after `c`
  /// will be delivered. Always sent once, before any catch-up or live event.
  virtual bool on_synced(const std::string& c) = 0;
  /// A change; `c` resumes right after it.
  virtual bool on_event(const kv::event& ev, const std::string& c) = 0;
  /// Periodic heartbeat with the current position.
  virtual bool on_progress(const std::string& c) = 0;
  /// In a cluster: the owner of `shard` is out of reach (`why`), so that
  /// shard's changes pause; nothing is lost, they follow once it is back
  /// (`on_attached`). `c` is the current position. A notice, not a change:
  /// if the sink refuses it (buffer full) it is dropped, not offered
  /// again. Default: ignored.
  virtual bool on_detached(uint16_t shard, const std::string& why,
                           const std::string& c) {
    (void)shard;
    (void)why;
    (void)c;
    return true;
  }
  /// The owner of a detached `shard` is back: its changes since the watch's
  /// position follow, then live ones. A notice, as `on_detached`.
  /// Default: ignored.
  virtual bool on_attached(uint16_t shard, const std::string& c) {
    (void)shard;
    (void)c;
    return true;
  }
  /// The consumer fell behind; resume from `c`. The watch has ended.
  virtual void on_lagged(const std::string& c) = 0;
  /// The watch could not start or failed (`compacted`: `c` is the oldest
  /// position still resumable). The watch has ended.
  virtual void on_error(const error& e, const std::string& c) = 0;
};

/// What to watch.
struct kv_watch_options {
  std::string pattern = ">";
  /// Resume after this position (empty: from now).
  std::string cursor;
  bool initial = false;
  bool no_put = false;
  bool no_delete = false;
  /// Heartbeat period.
  duration progress_interval = std::chrono::seconds{5};
  /// Live events held while the consumer is busy (catching up, or its
  /// socket buffer full); beyond this the watch reports `on_lagged`.
  size_t max_backlog_bytes = 8 * 1024 * 1024;
};

/// Validates the options (pattern and cursor) without starting anything.
result<void> validate_watch(const kv_watch_options& opts, uint32_t shard_count);

/// `unavailable` if the owner of a shard the pattern can touch is not
/// reachable now (a watch starts only with every shard it needs).
result<void> watch_reachable(const kv_service& kv, const directory& dir,
                             std::string_view pattern);

/// Starts a watch actor that subscribes to the shards the pattern can touch
/// (one for an exact key, all otherwise), on this node or, through `dir`,
/// on their owners, and feeds `sink`. Stop it with
/// `caf::anon_send_exit(handle, caf::exit_reason::user_shutdown)`; shards
/// drop it when it is gone. Guarantees: per-key order, no duplicates, and
/// no gaps across a resume from any cursor it delivered. When the owner
/// of a shard is lost after the start, the watch goes on with the other
/// shards and registers with that one again, from its position, once the
/// owner is back (catch-up first, so still no gap). `dir` outlives the
/// watch.
caf::actor spawn_kv_watch(caf::actor_system& sys, const kv_service& kv,
                          const directory& dir, kv_watch_options opts,
                          std::shared_ptr<kv_watch_sink> sink);

} // namespace shoal
