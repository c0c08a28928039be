#pragma once

// CAF inspection of the kv types of runtime/kv (which stays CAF-free), and
// the watch messages between shards and watch actors.

#include <caf/actor.hpp>

#include "runtime/kv/kv_types.hpp"

namespace shoal::kv {

/// A watch actor asks a shard for catch-up events and live delivery.
struct watch_request {
  /// Receives `kv::event` messages once registered.
  caf::actor watcher;
  std::string pattern;
  /// Deliver changes after this revision (catch-up from the change log);
  /// `any_revision`: only changes after now.
  uint64_t after = any_revision;
  /// Also return the current matching entries.
  bool initial = false;
  bool no_put = false;
  bool no_delete = false;
};

/// The shard's answer: its durable revision at registration (the watcher
/// reads catch-up events up to it from the change log), and the initial
/// entries if asked for. Live events follow as messages, after `revision`.
struct watch_ack {
  uint16_t shard = 0;
  uint64_t revision = 0;
  std::vector<event> events;
  std::vector<entry> initial;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_request& x) {
  return f(x.watcher, x.pattern, x.after, x.initial, x.no_put, x.no_delete);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entry& x) {
  return f(x.key, x.value, x.revision, x.create_revision, x.version, x.created,
           x.modified, x.expires_at, x.lease);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(x.key, x.op, x.revision, x.prev_revision, x.value, x.at, x.shard);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, version_record& x) {
  return f(x.op, x.revision, x.version, x.value, x.at, x.expires_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fence& x) {
  return f(x.lock, x.token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_cmd& x) {
  return f(x.key, x.value, x.ttl, x.if_revision, x.lease, x.fence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delete_cmd& x) {
  return f(x.key, x.if_revision, x.fence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(x.revision, x.prev_revision, x.changed, x.current);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_query& x) {
  return f(x.pattern, x.after, x.limit, x.keys_only);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_page& x) {
  return f(x.items, x.more, x.revision);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_ack& x) {
  return f(x.shard, x.revision, x.events, x.initial);
}

} // namespace shoal::kv
