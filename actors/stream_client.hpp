#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/cluster/routing.hpp"
#include "actors/node.hpp"

namespace shoal {

/// Sends `xs...` to the shard of `stream`, on this node or its owner, and
/// calls `done` with the answer (see `call_keyed`).
template <class T, class... Ts>
void call_stream(node& n, std::string_view stream, std::function<void(result<T>)> done,
                 Ts... xs) {
  call_keyed<T>(n.placement(), n.bridge(), shard_kind::streams, n.streams(), stream,
                std::move(done), std::move(xs)...);
}

/// The stream primitive for C++ programs that embed a node. Blocking calls
/// (from plain threads, never inside an actor) and `*_async` forms that
/// call `done` on an actor thread (an append's on the storage commit
/// thread; `done` must not block). They send the same messages as the HTTP
/// gateway to the stream's shard (`node.streams().shard_for(stream)`).
class stream_client {
public:
  explicit stream_client(node& n);

  /// Appends `events` atomically; see `stream::stream_table::append` for
  /// the expectation and event-id rules. Names starting with `$` are the
  /// node's own (`invalid_key`).
  result<stream::append_result> append(std::string stream,
                                       std::vector<stream::event_data> events,
                                       stream::expectation expected = {});
  /// Retention and truncation (creates an empty stream if needed).
  result<stream::stream_info> configure(stream::configure_cmd cmd);
  result<stream::stream_info> info(std::string stream);
  /// A page of events (see `stream::read_query`).
  result<stream::event_page> read(stream::read_query q);
  result<stream::checkpoint>
  save_checkpoint(std::string stream, uint64_t seq, std::string state,
                  stream::payload_format format = stream::payload_format::binary);
  /// The newest checkpoint at or before `at_or_before` (0: the newest).
  result<stream::checkpoint> load_checkpoint(std::string stream,
                                             uint64_t at_or_before = 0);
  /// The newest checkpoint at or before `target` (0: the last seq) and up
  /// to `limit` events after it.
  result<stream::replay_page> replay_start(std::string stream, uint64_t target,
                                           uint32_t limit);
  /// Stream names starting with `prefix` across all shards, sorted, after
  /// `after`, at most `limit`.
  result<std::vector<std::string>> list(std::string prefix, std::string after,
                                        uint32_t limit);

  /// Serves `sink` the events of `stream` from `from` on (0: only new
  /// ones): catch-up from storage, then live (see `stream_tail_sink`).
  /// Ends when the sink is closed or reports an end. On a node that does
  /// not own the stream a relay is fed by the owner (see
  /// actors/stream/stream_relay.hpp); `unavailable` if the owner is not
  /// reachable when the tail starts.
  result<void> tail(std::string stream, uint64_t from,
                    std::shared_ptr<stream_tail_sink> sink);

  /// `unavailable` if the owner of `stream`'s shard is not reachable now
  /// (a tail would not start).
  result<void> reachable(std::string_view stream) const;

  // -- entities ----------------------------------------------------------------

  /// Appends changes to entity `id`'s stream; they are applied to the
  /// projection inside the append (all or none). `event_ids` (optional, one
  /// per change) deduplicate retries as for streams.
  result<stream::append_result>
  append_entity(std::string id, std::vector<stream::entity_change> changes,
                stream::expectation expected = {},
                std::vector<std::string> event_ids = {});

  /// The entity as of its newest durable change, or `not_found`: on the
  /// owner, from the promoted projection without asking any actor; on
  /// another node of a cluster, from the owner's shard.
  result<stream::entity_state> entity(std::string_view id) const;

  /// The entity as of seq `at` of its stream (time travel): its events
  /// 1..at folded. `not_found` if it did not exist then, `invalid_argument`
  /// past the stream's end.
  result<stream::entity_state> entity_at(const std::string& id, uint64_t at) const;

  /// Entities whose id matches `pattern` (see `key_pattern`), sorted by id,
  /// after `after`, at most `limit`: one consistent view per shard.
  result<std::vector<stream::entity_state>>
  entities(std::string_view pattern, std::string_view after, size_t limit) const;

  void entity_async(const std::string& id, uint64_t at,
                    std::function<void(result<stream::entity_state>)> done) const;
  void entities_async(
    std::string_view pattern, std::string_view after, size_t limit,
    std::function<void(result<std::vector<stream::entity_state>>)> done) const;
  void append_async(stream::append_cmd cmd,
                    std::function<void(result<stream::append_result>)> done);
  void read_async(stream::read_query q,
                  std::function<void(result<stream::event_page>)> done);
  void list_async(std::string prefix, std::string after, uint32_t limit,
                  std::function<void(result<std::vector<std::string>>)> done);

  /// The events of `stream` with seqs in [from, to], at most `limit`, for
  /// replay: straight from storage on the stream's owner (no actor asked),
  /// a `read` of the owner's shard on another node of a cluster.
  result<std::vector<stream::event>> read_range(const std::string& stream,
                                                uint64_t from, uint64_t to,
                                                size_t limit);

  node& owner() {
    return node_;
  }

private:
  node& node_;
};

/// Refuses names starting with `stream::reserved_prefix` (`invalid_key`),
/// after `stream::validate_stream_name`.
result<void> validate_public_stream(std::string_view name);

/// How `replay` runs.
struct replay_options {
  /// Events read at a time.
  size_t batch_size = 1024;
  /// Save a checkpoint after every N events applied (0: never; needs a
  /// state codec).
  uint64_t checkpoint_every = 0;
};

/// Turns a replay state into checkpoint bytes and back.
template <class State>
struct state_codec {
  std::function<std::string(const State&)> encode;
  std::function<result<State>(std::string_view)> decode;
};

/// What `replay` computed.
template <class State>
struct replayed {
  State state;
  /// The seq the state is at (the target).
  uint64_t seq = 0;
  /// The checkpoint it started from (0: from `initial`).
  uint64_t from_checkpoint = 0;
  /// Events folded.
  uint64_t applied = 0;
};

/// Reconstructs the state of `stream` at `target` (0: its last seq): starts
/// from the newest checkpoint at or before `target` when `codec` is given
/// (otherwise from `initial` at seq 0), then folds every later event up to
/// `target` through `apply(State, const stream::event&) -> State`, which
/// must be pure. Fails with `not_found` for an unknown stream,
/// `invalid_argument` for a target past the end, and `compacted` if
/// retention removed events the fold needs.
template <class State, class Apply>
result<replayed<State>> replay(stream_client& client, const std::string& stream,
                               uint64_t target, State initial, Apply apply,
                               const replay_options& opts = {},
                               const state_codec<State>* codec = nullptr) {
  replayed<State> out{std::move(initial)};
  auto batch = static_cast<uint32_t>(std::max<size_t>(opts.batch_size, 1));
  uint64_t next = 1;
  std::vector<stream::event> events;
  if (codec != nullptr) {
    auto start = client.replay_start(stream, target, batch);
    if (!start) {
      return std::move(start).err();
    }
    target = start->target;
    if (start->has_checkpoint) {
      auto s = codec->decode(start->from.state);
      if (!s) {
        return std::move(s).err();
      }
      out.state = std::move(*s);
      out.from_checkpoint = start->from.seq;
      next = start->from.seq + 1;
    }
    events = std::move(start->page.events);
  } else {
    auto info = client.info(stream);
    if (!info) {
      return std::move(info).err();
    }
    if (target == 0) {
      target = info->last_seq;
    }
    if (target > info->last_seq) {
      return fail(errc::invalid_argument, "target is past the stream's last seq");
    }
    if (info->first_seq > 1 && target > 0) {
      auto e = error{errc::compacted, "events of " + stream + " before seq "
                                        + std::to_string(info->first_seq)
                                        + " were removed"};
      e.current = info->first_seq;
      return e;
    }
  }
  for (;;) {
    for (const auto& ev : events) {
      if (ev.seq != next) {
        auto e = error{errc::compacted, "event " + std::to_string(next) + " of "
                                          + stream + " is missing"};
        e.current = ev.seq;
        return e;
      }
      out.state = apply(std::move(out.state), ev);
      ++out.applied;
      ++next;
      if (codec != nullptr && opts.checkpoint_every > 0
          && out.applied % opts.checkpoint_every == 0) {
        auto saved = client.save_checkpoint(stream, ev.seq,
                                            codec->encode(out.state));
        if (!saved) {
          return std::move(saved).err();
        }
      }
    }
    if (next > target) {
      break;
    }
    auto page = client.read_range(stream, next, target, batch);
    if (!page) {
      return std::move(page).err();
    }
    if (page->empty()) {
      auto e = error{errc::compacted, "event " + std::to_string(next) + " of "
                                        + stream + " is missing"};
      return e;
    }
    events = std::move(*page);
  }
  out.seq = target;
  return out;
}

} // namespace shoal
