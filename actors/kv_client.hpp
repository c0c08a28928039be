#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/kv/kv_watch.hpp"
#include "actors/node.hpp"

namespace shoal {

/// The kv primitive for C++ programs that embed a node (or hold one). Every
/// operation comes in two forms: blocking (returns the result; call it from
/// a plain thread, never from inside an actor) and asynchronous (`*_async`,
/// calls `done` on an actor thread, or a write's on the storage commit
/// thread; never blocks, and `done` must not block either). Both send the same
/// messages as the HTTP gateway to the key's shard actor, whose typed
/// handle `node.kv().shard_for(key)` an actor may also use directly.
class kv_client {
public:
  explicit kv_client(node& n,
                     std::chrono::milliseconds timeout = std::chrono::seconds{10});

  // -- blocking ----------------------------------------------------------------

  result<kv::write_result> put(kv::put_cmd cmd);
  result<kv::write_result> put(std::string key, std::string value,
                               duration ttl = duration::zero());
  result<kv::write_result> erase(std::string key,
                                 uint64_t if_revision = kv::any_revision);
  result<kv::entry> get(std::string key);
  /// Up to `limit` entries matching `pattern`, in key order.
  result<kv::list_page> list(std::string pattern, uint32_t limit = 1000);

  // -- asynchronous ------------------------------------------------------------

  void put_async(kv::put_cmd cmd,
                 std::function<void(result<kv::write_result>)> done);
  void erase_async(kv::delete_cmd cmd,
                   std::function<void(result<kv::write_result>)> done);
  void get_async(std::string key, std::function<void(result<kv::entry>)> done);
  void list_async(kv::list_query q,
                  std::function<void(result<kv::list_page>)> done);
  /// The retained versions of `key`, oldest first (the last `limit`; 0:
  /// all), from its shard's storage: every acknowledged write is there.
  void history_async(std::string key, uint32_t limit,
                     std::function<void(result<std::vector<kv::version_record>>)> done);

  // -- watch -------------------------------------------------------------------

  /// Calls `on_event` (on the watch's actor thread) for every change that
  /// matches (and, with `opts.initial`, first for every current value, with
  /// an empty cursor). The subscription completes asynchronously: changes
  /// made right after this call are only guaranteed with `initial` or a
  /// cursor. Returns the watch actor (stop it with `caf::anon_send_exit`,
  /// or let `watch_guard` do it). Events may also go to an actor of yours:
  /// implement `kv_watch_sink` and `caf::anon_send` from it.
  caf::actor watch(kv_watch_options opts,
                   std::function<void(const kv::event&, const std::string&)>
                     on_event);

private:
  node& node_;
  std::chrono::milliseconds timeout_;
};

/// Stops a watch actor when it goes out of scope.
class watch_guard {
public:
  explicit watch_guard(caf::actor watch) : watch_(std::move(watch)) {
  }
  ~watch_guard();
  watch_guard(const watch_guard&) = delete;
  watch_guard& operator=(const watch_guard&) = delete;

private:
  caf::actor watch_;
};

} // namespace shoal
