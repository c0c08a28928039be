#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "actors/node.hpp"

namespace shoal {

/// Locks and leases for C++ programs that embed a node. Blocking calls
/// (from plain threads, never inside an actor) and `*_async` forms that
/// call `done` on an actor thread. They send the same messages as the HTTP
/// gateway: locks to the key's lock shard (`node.locks().shard_for(key)`),
/// leases to the lease's shard; an acquire bound to a lease is sent only
/// once the lease is seen alive.
class lock_client {
public:
  explicit lock_client(node& n);

  // -- locks -------------------------------------------------------------------

  /// Takes `key` for `ttl` (or, with `lease`, for as long as the lease
  /// lives). Held → `lock_held`; with `wait` > 0, queues (FIFO) at most
  /// that long, then `timeout`. The answer carries the owner token and the
  /// fence.
  result<lock::lock_info> acquire(std::string key, duration ttl,
                                  duration wait = duration::zero(),
                                  uint64_t lease = 0);
  result<lock::lock_info> refresh(std::string key, std::string token,
                                  duration ttl);
  /// Returns the fence of the hold that ended.
  result<uint64_t> release(std::string key, std::string token);
  /// The lock's state, without the owner token.
  result<lock::lock_info> get(std::string key);

  void acquire_async(lock::acquire_cmd cmd,
                     std::function<void(result<lock::acquire_result>)> done);
  void refresh_async(std::string key, std::string token, duration ttl,
                     std::function<void(result<lock::lock_info>)> done);
  void release_async(std::string key, std::string token,
                     std::function<void(result<uint64_t>)> done);
  void get_async(std::string key, std::function<void(result<lock::lock_info>)> done);

  // -- leases ------------------------------------------------------------------

  result<lease::lease_info> grant(duration ttl);
  /// Renews lease `id` for its TTL; `not_found` once it ended.
  result<lease::lease_info> keepalive(uint64_t id);
  /// Ends lease `id` now: its keys are deleted, its holds released.
  result<lease::lease_info> revoke(uint64_t id);
  result<lease::lease_info> lease(uint64_t id);

  void grant_async(duration ttl, std::function<void(result<lease::lease_info>)> done);
  void keepalive_async(uint64_t id,
                       std::function<void(result<lease::lease_info>)> done);
  void revoke_async(uint64_t id, std::function<void(result<lease::lease_info>)> done);
  void lease_async(uint64_t id, std::function<void(result<lease::lease_info>)> done);

private:
  node& node_;
};

/// How `run_locked` holds its lock.
struct locked_options {
  duration ttl = std::chrono::seconds{15};
  /// How long to wait in line for the lock (0: fail at once if held).
  duration wait = std::chrono::seconds{30};
};

/// Runs `work` while holding `key`: acquires (waiting up to `opts.wait`),
/// refreshes the hold every `ttl / 3` on a helper thread while `work`
/// runs, and releases afterwards. `work` gets the hold (its `fence` guards
/// writes: pass it as `kv::put_cmd::fence`). Returns `work`'s result; if
/// the hold was lost while `work` ran (a refresh failed), returns
/// `lock_expired` even if `work` succeeded, since another holder may have
/// acted meanwhile.
result<void> run_locked(lock_client& client, const std::string& key,
                        const locked_options& opts,
                        const std::function<result<void>(const lock::lock_info&)>& work);

} // namespace shoal
